// The Prometheus metrics (issue 19 §2; README "Metrics"): one registry per
// process, every series named aerostore_*, counted where the thing happens
// (the request log for requests, db/connect.ts for queries, the scan and
// webhook workers, blob collection, the maintenance schedules) and, for what
// lives in Postgres or on disk, read at scrape time (metrics/scrape.ts).
//
// Labels never carry a bucket name, a key or a principal: a label value is
// one of a small set the server itself names (an API, an operation, an error
// code, a status class, a verdict). Operation and error-code values come
// from the request log, and a client can steer some of them (STS's Action,
// say): BoundedLabel keeps each API's values to a fixed number, so that no
// client can grow the series without bound.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();

/** The process metrics (CPU, memory, event-loop lag, handles, GC), once per process. */
let defaultsCollected = false;
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry, prefix: 'aerostore_' });
}

/**
 * Distinct values a label takes per API before further ones count as
 * `other`. S3 has ~110 operations; every service API has fewer routes.
 */
const MAX_VALUES_PER_API = 200;

class BoundedLabel {
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly limit: number) {}

  of(api: string, value: string): string {
    let values = this.seen.get(api);
    if (!values) this.seen.set(api, (values = new Set()));
    if (values.has(value)) return value;
    if (values.size >= this.limit) return 'other';
    values.add(value);
    return value;
  }
}

const operations = new BoundedLabel(MAX_VALUES_PER_API);
const errorCodes = new BoundedLabel(MAX_VALUES_PER_API);

const http = {
  requests: new Counter({
    name: 'aerostore_http_requests_total',
    help: 'Requests answered, by API, operation and status class (2xx, 3xx, 4xx, 5xx).',
    labelNames: ['api', 'operation', 'status_class'] as const,
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'aerostore_http_request_duration_seconds',
    help: 'Time from the request being seen to its response closing (the body sent or the client gone), by API and operation.',
    labelNames: ['api', 'operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  }),
  bytesIn: new Counter({
    name: 'aerostore_http_bytes_in_total',
    help: 'Bytes read from clients (headers and bodies), by API.',
    labelNames: ['api'] as const,
    registers: [registry],
  }),
  bytesOut: new Counter({
    name: 'aerostore_http_bytes_out_total',
    help: 'Bytes written to clients (headers and bodies), by API.',
    labelNames: ['api'] as const,
    registers: [registry],
  }),
  inFlight: new Gauge({
    name: 'aerostore_http_requests_in_flight',
    help: 'Requests seen whose response has not closed yet.',
    registers: [registry],
  }),
  aborted: new Counter({
    name: 'aerostore_http_requests_aborted_total',
    help: 'Responses cut off before their end (the client gone, or a failure after the headers), by API.',
    labelNames: ['api'] as const,
    registers: [registry],
  }),
  errors: new Counter({
    name: 'aerostore_http_errors_total',
    help: "Answers with an error code, by API and code in the API's own words (NoSuchKey, AccessDenied, FILE_NOT_FOUND).",
    labelNames: ['api', 'code'] as const,
    registers: [registry],
  }),
};

/** What the request log learnt of one answered request (http/request-log.ts). */
export interface AnsweredRequest {
  api: string | undefined;
  operation: string | undefined;
  status: number;
  code: string | undefined;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
  /** The response closed before its end. */
  aborted: boolean;
}

export function requestStarted(): void {
  http.inFlight.inc();
}

export function requestAnswered(r: AnsweredRequest): void {
  const api = r.api ?? 'unknown';
  const operation = operations.of(api, r.operation ?? 'unknown');
  http.inFlight.dec();
  http.requests.inc({ api, operation, status_class: `${Math.floor(r.status / 100)}xx` });
  http.duration.observe({ api, operation }, r.seconds);
  http.bytesIn.inc({ api }, r.bytesIn);
  http.bytesOut.inc({ api }, r.bytesOut);
  if (r.code !== undefined) http.errors.inc({ api, code: errorCodes.of(api, r.code) });
  if (r.aborted) http.aborted.inc({ api });
}

/** The database: statements of every pool, timed where postgres.js runs them (db/connect.ts). */
export const database = {
  queries: new Histogram({
    name: 'aerostore_db_query_duration_seconds',
    help: 'Time from a statement being sent for (awaited) to its result, waiting for a pool connection included.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  }),
  inFlight: new Gauge({
    name: 'aerostore_db_queries_in_flight',
    help: 'Statements sent for and not answered yet: a pool that is too small shows here first.',
    registers: [registry],
  }),
  failures: new Counter({
    name: 'aerostore_db_query_failures_total',
    help: 'Statements that failed (an error from Postgres, a lost connection).',
    registers: [registry],
  }),
  poolSize: new Gauge({
    name: 'aerostore_db_pool_max_connections',
    help: 'Connections each pool of this process may open (request pool, service-role pool).',
    labelNames: ['pool'] as const,
    registers: [registry],
  }),
};

/** Virus scanning (scanning/worker.ts): one verdict per scan, or an error when clamd gave none. */
export const scans = new Counter({
  name: 'aerostore_scan_verdicts_total',
  help: 'Scans finished by this process, by verdict: clean, infected, unscanned (too large), error (no verdict; retried).',
  labelNames: ['verdict'] as const,
  registers: [registry],
});

/** Webhook delivery attempts (events/webhook-worker.ts). */
export const webhookAttempts = new Counter({
  name: 'aerostore_webhook_attempts_total',
  help: 'Webhook delivery attempts by this process, by outcome: delivered, failed (retried later), dead (the last attempt failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Zero-reference blobs removed, row and file (core/objects.ts collectBlob), after a delete or by the sweeper. */
export const collected = {
  blobs: new Counter({ name: 'aerostore_blobs_collected_total', help: 'Blobs (distinct contents) removed once nothing referred to them.', registers: [registry] }),
  bytes: new Counter({ name: 'aerostore_blob_bytes_collected_total', help: 'Bytes of the blobs removed once nothing referred to them.', registers: [registry] }),
};

/** The orphan sweeper (maintenance/sweeper.ts). */
export const sweeps = {
  runs: new Counter({
    name: 'aerostore_sweeper_runs_total',
    help: 'Orphan sweeps run by this process, by result (ok, failed).',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  removed: new Counter({
    name: 'aerostore_sweeper_removed_total',
    help: 'What sweeps removed, by kind: temp_files, orphan_blob_files, zero_reference_blobs, expired_uploads, orphan_part_files, deleted_bucket_dirs.',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
};

/** The lifecycle pass (maintenance/lifecycle.ts). */
export const lifecycle = {
  runs: new Counter({
    name: 'aerostore_lifecycle_runs_total',
    help: 'Lifecycle passes run by this process, by result: ok, partial (some buckets failed), failed.',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  actions: new Counter({
    name: 'aerostore_lifecycle_actions_total',
    help: 'What lifecycle passes did, by action: expired, noncurrent_expired, delete_markers_removed, uploads_aborted, locked (kept by object lock).',
    labelNames: ['action'] as const,
    registers: [registry],
  }),
};
