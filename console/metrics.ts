// The Prometheus text exposition format, as much as the server view reads:
// samples `name{label="value",...} number`, comments skipped. Rates come
// from two scrapes (counters only grow; a restart resets them, shown as 0).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels pass `where`. */
export function total(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  return samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);
}

/** What the server view plots, from one scrape. */
export interface Totals {
  at: number;
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  durationSum: number;
  durationCount: number;
}

export function totals(samples: Sample[], at: number): Totals {
  return {
    at,
    requests: total(samples, 'aerostore_http_requests_total'),
    errors: total(samples, 'aerostore_http_requests_total', (l) => /^[45]/.test(l.status_class ?? l.status ?? '')),
    bytesIn: total(samples, 'aerostore_http_bytes_in_total'),
    bytesOut: total(samples, 'aerostore_http_bytes_out_total'),
    durationSum: total(samples, 'aerostore_http_request_duration_seconds_sum'),
    durationCount: total(samples, 'aerostore_http_request_duration_seconds_count'),
  };
}

export interface Point {
  at: number;
  requestsPerSecond: number;
  errorsPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  /** Mean latency over the interval, ms (0 when no request ended in it). */
  latencyMs: number;
}

/** The rates between two scrapes. */
export function rates(before: Totals, after: Totals): Point {
  const s = Math.max(0.001, (after.at - before.at) / 1000);
  const d = (a: number, b: number) => Math.max(0, a - b);
  const count = d(after.durationCount, before.durationCount);
  return {
    at: after.at,
    requestsPerSecond: d(after.requests, before.requests) / s,
    errorsPerSecond: d(after.errors, before.errors) / s,
    bytesInPerSecond: d(after.bytesIn, before.bytesIn) / s,
    bytesOutPerSecond: d(after.bytesOut, before.bytesOut) / s,
    latencyMs: count > 0 ? (d(after.durationSum, before.durationSum) / count) * 1000 : 0,
  };
}
