// The Postgres connection pool (postgres.js). One pool per process; every
// statement of a request goes through it.
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { database } from '../metrics/registry.ts';

export type Sql = postgres.Sql<Record<string, never>>;
/** A connection inside a transaction: postgres.js's own, or one reserved by db/session.ts. */
export type TransactionSql = Sql;

/**
 * `role`: the session role every connection starts in. The request pool
 * starts as aerostore_anon, so a statement run outside db/session.ts sees
 * only what an anonymous principal would. Migrations connect without one.
 */
export function connect(url: string, opts: { max?: number; role?: string } = {}): Sql {
  const sql = postgres(url, {
    max: opts.max ?? 20,
    idle_timeout: 60,
    connect_timeout: 10,
    onnotice: () => {},
    // int8 columns (sizes) arrive as strings by default; objects stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: 'aerostore', ...(opts.role ? { role: opts.role } : {}) },
  }) as unknown as Sql;
  timeQueries(sql);
  return sql;
}

/** The part of postgres.js's Query (src/query.js) that timeQueries wraps. */
interface QueryInternals {
  executed: boolean;
  handle(): Promise<void>;
  resolve(x: unknown): void;
  reject(x: unknown): void;
}

let timed = false;

/**
 * Times every statement of every pool (metrics/registry.ts `database`), in
 * the one place all of them pass: postgres.js's Query, whose handle() runs
 * once, when a statement is first awaited (or execute()d), and hands it to
 * its pool; the connection settles it through resolve() or reject(). The
 * time therefore includes waiting for a free connection and for statements
 * pipelined ahead of it — what the caller waits. Fragments (sql`and …`) are
 * never handled, so never counted. postgres.js has no public hook for this
 * (its `debug` option sees a statement sent, not answered, and makes error
 * parameters enumerable): test/metrics.test.ts fails if an upgrade moves
 * these internals. Cost: a clock read and two closures per statement.
 * (A cursor sets resolve() anew for each batch and would stay in flight;
 * aerostore reads none.)
 */
function timeQueries(sql: Sql): void {
  if (timed) return;
  timed = true;
  const proto = Object.getPrototypeOf(sql`select 1`) as QueryInternals;
  const handle = proto.handle;
  if (typeof handle !== 'function') return;
  proto.handle = function (this: QueryInternals) {
    if (!this.executed) {
      const started = performance.now();
      const { resolve, reject } = this;
      let settled = false;
      const done = (failed: boolean) => {
        if (settled) return;
        settled = true;
        database.inFlight.dec();
        database.queries.observe((performance.now() - started) / 1000);
        if (failed) database.failures.inc();
      };
      database.inFlight.inc();
      this.resolve = (x) => {
        done(false);
        resolve(x);
      };
      this.reject = (x) => {
        done(true);
        reject(x);
      };
    }
    return handle.call(this);
  };
}
