// The server view's reading of Prometheus text (console/metrics.ts): samples
// with labels (escapes included), totals across label sets, and the rates
// between two scrapes that the charts plot.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes } from '../console/format.ts';
import { parseMetrics, rates, total, totals } from '../console/metrics.ts';

const scrape = (requests: number, errors: number, bytesIn: number, sum: number, count: number) => `# HELP aerostore_http_requests_total Requests answered.
# TYPE aerostore_http_requests_total counter
aerostore_http_requests_total{api="s3",operation="PutObject",status_class="2xx"} ${requests}
aerostore_http_requests_total{api="s3",operation="GetObject",status_class="4xx"} ${errors}
aerostore_http_requests_total{api="storage",operation="GET /object/:bucket/*",status_class="5xx"} 0
aerostore_http_bytes_in_total{api="s3"} ${bytesIn}
aerostore_http_bytes_out_total{api="s3"} 0
aerostore_http_request_duration_seconds_bucket{api="s3",le="0.005"} 1
aerostore_http_request_duration_seconds_bucket{api="s3",le="+Inf"} ${count}
aerostore_http_request_duration_seconds_sum{api="s3"} ${sum}
aerostore_http_request_duration_seconds_count{api="s3"} ${count}
process_resident_memory_bytes 5.2e+07
`;

describe('console/metrics.ts', () => {
  it('parses samples, labels and escapes', () => {
    const samples = parseMetrics('a_total{path="x\\"y\\\\z",n="1"} 3\n# comment\nb 1.5e3\nc{le="+Inf"} +Inf\n');
    assert.deepEqual(samples, [
      { name: 'a_total', labels: { path: 'x"y\\z', n: '1' }, value: 3 },
      { name: 'b', labels: {}, value: 1500 },
      { name: 'c', labels: { le: '+Inf' }, value: Infinity },
    ]);
    assert.equal(total(parseMetrics(scrape(7, 2, 0, 0, 0)), 'aerostore_http_requests_total'), 9);
  });

  it('turns two scrapes into rates, errors and mean latency', () => {
    const before = totals(parseMetrics(scrape(10, 1, 1000, 0.5, 11)), 0);
    const after = totals(parseMetrics(scrape(30, 3, 5000, 1.5, 31)), 2000);
    assert.deepEqual(rates(before, after), {
      at: 2000,
      requestsPerSecond: 11, // (33 − 11) / 2 s
      errorsPerSecond: 1, // the 4xx line: (3 − 1) / 2 s
      bytesInPerSecond: 2000,
      bytesOutPerSecond: 0,
      latencyMs: 50, // 1 s over 20 requests
    });
  });

  it('reads a restarted server (counters back to zero) as no traffic, not negative', () => {
    const before = totals(parseMetrics(scrape(100, 5, 9000, 9, 105)), 0);
    const after = totals(parseMetrics(scrape(2, 0, 10, 0.01, 2)), 5000);
    const p = rates(before, after);
    assert.equal(p.requestsPerSecond, 0);
    assert.equal(p.latencyMs, 0);
  });
});

describe('the console’s byte figures (console/format.ts)', () => {
  it('shows whole bytes below a KiB, a rate included, and two or one decimals above', () => {
    assert.equal(bytes(850.7462686567166), '851 B');
    assert.equal(bytes(0), '0 B');
    assert.equal(bytes(1536), '1.50 KiB');
    assert.equal(bytes(40 * 2 ** 30), '40.0 GiB');
    assert.equal(bytes(undefined), '—');
  });
});
