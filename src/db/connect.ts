// The Postgres connection pool (postgres.js). One pool per process; every
// statement of a request goes through it.
import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;
export type TransactionSql = postgres.TransactionSql<Record<string, never>>;

export function connect(url: string, opts: { max?: number } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 20,
    idle_timeout: 60,
    connect_timeout: 10,
    onnotice: () => {},
    // int8 columns (sizes) arrive as strings by default; objects stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: 'aerostore' },
  }) as unknown as Sql;
}
