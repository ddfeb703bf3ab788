// The Postgres connection pool (postgres.js). One pool per process; every
// statement of a request goes through it.
import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;
/** A connection inside a transaction: postgres.js's own, or one reserved by db/session.ts. */
export type TransactionSql = Sql;

/**
 * `role`: the session role every connection starts in. The request pool
 * starts as aerostore_anon, so a statement run outside db/session.ts sees
 * only what an anonymous principal would. Migrations connect without one.
 */
export function connect(url: string, opts: { max?: number; role?: string } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 20,
    idle_timeout: 60,
    connect_timeout: 10,
    onnotice: () => {},
    // int8 columns (sizes) arrive as strings by default; objects stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: 'aerostore', ...(opts.role ? { role: opts.role } : {}) },
  }) as unknown as Sql;
}
