// Prometheus metrics (issue 19 §2, README "Metrics"): a known workload
// moves the request counters, the error counters, the byte counters and
// the latency histograms by exactly what it did; the stored totals count
// deduplicated content once; /metrics wants the bearer token when one is
// set and is loopback-only without one; /admin/v1/metrics and
// /admin/v1/server are the service role's; no label names a bucket or key;
// every /metrics request leaves an access-log line. The background work —
// scans, webhook deliveries, blob collection, sweeps, lifecycle passes —
// moves its counters too.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { CLAMD_BINARY, EICAR, startTestClamd, type TestClamd } from './support/clamd.ts';
import { createAccessKey, credentialsOf } from './support/principals.ts';
import { S3RawClient, sendRaw } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const TOKEN = 'metrics-test-token-0123456789abcdef';
const JWT_SECRET = 'metrics-test-jwt-secret-0123456789abcdef';
/** A name that must never show in a scrape. */
const BUCKET = 'metrics-workload-bucket-7f3a';
const KEY_MARK = 'secret-key-name-9c1e';

/** One exposition, as `name{labels}` → value. */
type Scrape = Map<string, number>;

function parse(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `an exposition line: ${line}`);
    out.set(m[1] + canonicalLabels(m[2] ?? ''), Number(m[3]));
  }
  return out;
}

/** Labels sorted by name, so that a test can name a series in any order. */
function canonicalLabels(braced: string): string {
  if (braced === '' || braced === '{}') return '';
  const pairs = [...braced.slice(1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`);
  return `{${pairs.sort().join(',')}}`;
}

function series(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return name + (pairs.length ? `{${pairs.sort().join(',')}}` : '');
}

const value = (s: Scrape, name: string, labels: Record<string, string> = {}) => s.get(series(name, labels)) ?? 0;
const delta = (a: Scrape, b: Scrape, name: string, labels: Record<string, string> = {}) => value(b, name, labels) - value(a, name, labels);

interface LogLine {
  msg: string;
  api?: string;
  op?: string;
  path?: string;
  status?: number;
  code?: string;
}

function requestLines(server: TestServer): LogLine[] {
  return server
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.msg === 'request');
}

/** The request lines matching `match`, once there are `count` of them (the log arrives through a pipe). */
async function linesOf(server: TestServer, match: (l: LogLine) => boolean, count: number): Promise<LogLine[]> {
  for (let i = 0; i < 100; i++) {
    const found = requestLines(server).filter(match);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  return requestLines(server).filter(match);
}

describe('metrics with AEROSTORE_METRICS_TOKEN set', () => {
  let server: TestServer;
  let root: S3RawClient;

  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.ok(!text.includes(BUCKET), 'no label carries the bucket name');
    assert.ok(!text.includes(KEY_MARK), 'no label carries a key');
    return parse(text);
  };

  before(async () => {
    server = await startTestServer({ env: { AEROSTORE_METRICS_TOKEN: TOKEN, AEROSTORE_JWT_SECRET: JWT_SECRET } });
    root = new S3RawClient(server.url, server);
    assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
  });
  after(() => server?.stop());

  // First, before anything reads the totals (they are kept 15 s): two keys
  // with the same content are one blob, and the second copy is saved bytes.
  it('counts objects, blobs, bytes and dedup savings in /admin/v1/server', async () => {
    const same = Buffer.alloc(5000, 'd');
    const other = Buffer.alloc(700, 'o');
    for (const [key, body] of [['dedup/a', same], ['dedup/b', same], ['dedup/c', other]] as const) {
      assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}/${key}`, body })).status, 200);
    }
    const res = await root.send({ method: 'GET', path: '/admin/v1/server' });
    assert.equal(res.status, 200);
    const report = JSON.parse(res.body.toString()) as {
      version: string;
      node: string;
      uptimeSeconds: number;
      startedAt: string;
      dataDir: { totalBytes: number; freeBytes: number; usedBytes: number };
      stored: { objects: number; blobs: number; bytes: number; logicalBytes: number; dedupSavedBytes: number; estimated: boolean };
    };
    assert.equal(report.version, '0.1.0');
    assert.equal(report.node, process.version);
    assert.ok(report.uptimeSeconds >= 0 && report.uptimeSeconds < 600);
    assert.ok(Date.now() - Date.parse(report.startedAt) < 600_000);
    assert.ok(report.dataDir.totalBytes > 0 && report.dataDir.freeBytes > 0 && report.dataDir.usedBytes > 0);
    assert.ok(report.dataDir.freeBytes + report.dataDir.usedBytes <= report.dataDir.totalBytes);
    assert.deepEqual(report.stored, { objects: 3, blobs: 2, bytes: 5700, logicalBytes: 10700, dedupSavedBytes: 5000, estimated: false });
    // The scrape reads the same totals.
    const s = await scrape();
    assert.equal(value(s, 'aerostore_stored_objects'), 3);
    assert.equal(value(s, 'aerostore_stored_blobs'), 2);
    assert.equal(value(s, 'aerostore_stored_bytes'), 5700);
    assert.equal(value(s, 'aerostore_stored_logical_bytes'), 10700);
    assert.equal(value(s, 'aerostore_dedup_saved_bytes'), 5000);
    assert.equal(value(s, 'aerostore_stored_totals_estimated'), 0);
    assert.equal(value(s, 'aerostore_data_dir_bytes', { state: 'total' }), report.dataDir.totalBytes);
  });

  it('moves the request, error, byte and latency series by exactly the workload', async () => {
    const jwt = await new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));
    const bodies = [1000, 2000, 3000].map((n, i) => Buffer.alloc(n, String(i)));
    const before = await scrape();

    for (const [i, body] of bodies.entries()) {
      assert.equal((await root.send({ method: 'PUT', path: `/${BUCKET}/${KEY_MARK}/${i}`, body })).status, 200);
    }
    for (const i of [0, 1]) assert.equal((await root.send({ method: 'GET', path: `/${BUCKET}/${KEY_MARK}/${i}` })).status, 200);
    const missing = await root.send({ method: 'GET', path: `/${BUCKET}/${KEY_MARK}/missing` });
    assert.equal(missing.status, 404);
    const anonymous = await sendRaw(root.base, 'GET', `/${BUCKET}/${KEY_MARK}/0`, {});
    assert.equal(anonymous.status, 403);
    const list = await fetch(`${server.url}/storage/v1/bucket`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(list.status, 200);
    await list.arrayBuffer();
    const upload = await fetch(`${server.url}/storage/v1/object/${BUCKET}/${KEY_MARK}/via-storage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'text/plain' },
      body: 'uploaded through /storage/v1',
    });
    assert.equal(upload.status, 200, await upload.text());
    const noBucket = await fetch(`${server.url}/storage/v1/bucket/no-such-${BUCKET}`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(noBucket.status, 404);
    assert.equal(((await noBucket.json()) as { error: string }).error, 'BUCKET_NOT_FOUND');

    const after = await scrape();
    const requests = (api: string, operation: string, status_class: string) => delta(before, after, 'aerostore_http_requests_total', { api, operation, status_class });
    assert.equal(requests('s3', 'PutObject', '2xx'), 3);
    assert.equal(requests('s3', 'GetObject', '2xx'), 2);
    assert.equal(requests('s3', 'GetObject', '4xx'), 2, 'the NoSuchKey and the anonymous refusal');
    assert.equal(requests('s3', 'PutObject', '4xx'), 0);
    const storageSeries = [...after.keys()].filter((k) => k.startsWith('aerostore_http_requests_total{api="storage"')).join('\n');
    assert.equal(requests('storage', 'GET /storage/v1/bucket', '2xx'), 1, storageSeries);
    assert.equal(requests('storage', 'GET /storage/v1/bucket/:id', '4xx'), 1, storageSeries);
    assert.equal(requests('storage', 'POST /storage/v1/object/*', '2xx'), 1, storageSeries);
    // The earlier scrape is counted once it has been answered.
    assert.equal(requests('metrics', 'GET /metrics', '2xx'), 1);

    const errors = (api: string, code: string) => delta(before, after, 'aerostore_http_errors_total', { api, code });
    assert.equal(errors('s3', 'NoSuchKey'), 1);
    assert.equal(errors('s3', 'AccessDenied'), 1);
    assert.equal(errors('storage', 'BUCKET_NOT_FOUND'), 1);

    const count = (api: string, operation: string) => delta(before, after, 'aerostore_http_request_duration_seconds_count', { api, operation });
    assert.equal(count('s3', 'PutObject'), 3);
    assert.equal(count('s3', 'GetObject'), 4);
    assert.equal(count('storage', 'GET /storage/v1/bucket'), 1);
    // Every observation is in the +Inf bucket, and the sum is some time.
    assert.equal(delta(before, after, 'aerostore_http_request_duration_seconds_bucket', { api: 's3', operation: 'PutObject', le: '+Inf' }), 3);
    assert.ok(delta(before, after, 'aerostore_http_request_duration_seconds_sum', { api: 's3', operation: 'PutObject' }) > 0);

    const uploaded = bodies.reduce((n, b) => n + b.length, 0);
    assert.ok(delta(before, after, 'aerostore_http_bytes_in_total', { api: 's3' }) >= uploaded, 'bytes in: at least the bodies');
    assert.ok(delta(before, after, 'aerostore_http_bytes_out_total', { api: 's3' }) >= bodies[0].length + bodies[1].length, 'bytes out: at least the bodies read');
    assert.ok(delta(before, after, 'aerostore_http_bytes_in_total', { api: 'storage' }) > 0);
    // The scrape being answered is the one request in flight.
    assert.equal(value(after, 'aerostore_http_requests_in_flight'), 1);
    // Statements are timed (db/connect.ts hooks postgres.js; an upgrade that moves its internals fails here).
    assert.ok(delta(before, after, 'aerostore_db_query_duration_seconds_count') >= 3, 'at least a statement per PUT');
    // Background work (the event sequencer, the totals) may have a statement out at the moment of the scrape; never fewer than none.
    const statementsOut = value(after, 'aerostore_db_queries_in_flight');
    assert.ok(Number.isInteger(statementsOut) && statementsOut >= 0 && statementsOut <= 25, String(statementsOut));
    assert.equal(value(after, 'aerostore_db_pool_max_connections', { pool: 'request' }), 20);
    // The process metrics are there, under the prefix.
    assert.ok(value(after, 'aerostore_process_resident_memory_bytes') > 0);
    assert.ok(after.has(series('aerostore_nodejs_eventloop_lag_seconds')));
  });

  it('wants the bearer token: 401 without it or with another, 200 with it; each request logged', async () => {
    const none = await fetch(`${server.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    assert.equal(((await none.json()) as { error: string }).error, 'Unauthorized');
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    await wrong.arrayBuffer();
    const basic = await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    await basic.arrayBuffer();
    const good = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(good.status, 200);
    await good.arrayBuffer();
    const refused = await linesOf(server, (l) => l.api === 'metrics' && l.status === 401, 3);
    assert.equal(refused.length, 3);
    for (const l of refused) assert.deepEqual([l.op, l.path, l.code], ['GET /metrics', '/metrics', 'Unauthorized']);
    assert.ok((await linesOf(server, (l) => l.api === 'metrics' && l.status === 200, 1)).length >= 1);
  });

  it('serves /metrics at that path only, to GET and HEAD: /metrics/… and PUT /metrics are S3’s', async () => {
    const under = await root.send({ method: 'GET', path: '/metrics/x' });
    assert.equal(under.status, 404);
    assert.match(under.body.toString(), /<Code>NoSuchBucket<\/Code>/);
    // CreateBucket of a reserved name.
    const put = await root.send({ method: 'PUT', path: '/metrics' });
    assert.equal(put.status, 400);
    assert.match(put.body.toString(), /<Code>InvalidBucketName<\/Code>/);
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(head.status, 200);
  });

  it('/admin/v1/metrics and /admin/v1/server are the service role’s', async () => {
    const text = (await root.send({ method: 'GET', path: '/admin/v1/metrics' })).body.toString();
    assert.match(text, /^aerostore_http_requests_total\{/m);
    const user = new S3RawClient(server.url, credentialsOf(await createAccessKey(root, '6d1c6c9e-0000-4000-8000-000000000001')));
    for (const path of ['/admin/v1/metrics', '/admin/v1/server']) {
      const res = await user.send({ method: 'GET', path });
      assert.equal(res.status, 403, path);
      assert.equal((JSON.parse(res.body.toString()) as { error: string }).error, 'AccessDenied');
      assert.equal((await sendRaw(root.base, 'GET', path, {})).status, 401, `${path} anonymously`);
    }
  });
});

describe('metrics without a token', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.stop());

  it('answers a loopback client, and refuses one that came through a proxy (403, naming the setting)', async () => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^aerostore_http_requests_in_flight 1$/m);
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const proxied = await fetch(`${server.url}/metrics`, { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.9' : '203.0.113.9' } });
      assert.equal(proxied.status, 403, header);
      const body = (await proxied.json()) as { error: string; message: string };
      assert.equal(body.error, 'AccessDenied');
      assert.match(body.message, /AEROSTORE_METRICS_TOKEN/);
    }
    // A bearer token is no key when none is configured.
    const bearer = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer anything', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(bearer.status, 403);
    await bearer.arrayBuffer();
    assert.equal((await linesOf(server, (l) => l.api === 'metrics' && l.status === 403, 4)).length, 4);
  });
});

/** An HTTP receiver on 127.0.0.1 answering every request with `status`. */
async function receiver(status: number): Promise<{ url: string; hits: () => number; stop: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits: () => hits,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('metrics of the background work', () => {
  let server: TestServer;
  let root: S3RawClient;
  let clamd: TestClamd | undefined;
  const stops: Array<() => Promise<void>> = [];
  const BG = 'metrics-background-bucket';

  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(BG), 'no label carries the bucket name');
    return parse(text);
  };

  /** Scrapes until `ready` holds (background work ends on its own schedule). */
  async function scrapeUntil(what: string, ready: (s: Scrape) => boolean, timeoutMs = 30_000): Promise<Scrape> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await scrape();
      if (ready(s)) return s;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}:\n${[...s].filter(([k]) => !/^aerostore_(process|nodejs)_/.test(k)).map(([k, v]) => `${k} ${v}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  before(async () => {
    clamd = existsSync(CLAMD_BINARY) ? await startTestClamd() : undefined;
    server = await startTestServer({
      env: {
        ...(clamd ? { AEROSTORE_CLAMD: clamd.tcp } : {}),
        AEROSTORE_WEBHOOK_BACKOFF_MS: '100',
        AEROSTORE_WEBHOOK_MAX_ATTEMPTS: '2',
        // A sweep and a lifecycle pass every 3 s, the first 3 s after start; lifecycle acts as of 3 days ahead.
        AEROSTORE_SWEEP_INTERVAL_MINUTES: '0.05',
        AEROSTORE_LIFECYCLE_INTERVAL_MINUTES: '0.05',
        AEROSTORE_LIFECYCLE_NOW: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      },
    });
    root = new S3RawClient(server.url, server);
  });
  after(async () => {
    await server?.stop();
    await clamd?.stop();
    await Promise.all(stops.map((stop) => stop()));
  });

  it('counts scan verdicts, webhook attempts, collected blobs, sweeps and lifecycle passes', async () => {
    const before = await scrape();
    assert.equal((await root.send({ method: 'PUT', path: `/${BG}` })).status, 200);
    const [good, bad] = await Promise.all([receiver(200), receiver(500)]);
    stops.push(good.stop, bad.stop);
    for (const url of [good.url, bad.url]) {
      const res = await root.send({
        method: 'POST',
        path: '/admin/v1/webhooks',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bucket: BG, url, event_types: ['storage.object.created'], prefix: 'hook/' }),
      });
      assert.equal(res.status, 201, res.body.toString());
    }
    // One object.created event: delivered once to one receiver, refused twice (then dead) by the other.
    assert.equal((await root.send({ method: 'PUT', path: `/${BG}/hook/a`, body: 'a webhook' })).status, 200);
    // Deleted: its content is collected (row and file).
    const gone = Buffer.alloc(1234, 'g');
    assert.equal((await root.send({ method: 'PUT', path: `/${BG}/gone`, body: gone })).status, 200);
    assert.equal((await root.send({ method: 'DELETE', path: `/${BG}/gone` })).status, 204);
    // Expired by the lifecycle pass (1 day, as of 3 days ahead).
    const xml = '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>';
    const lc = await root.send({ method: 'PUT', path: `/${BG}`, query: { lifecycle: '' }, body: xml, headers: { 'content-md5': createHash('md5').update(xml).digest('base64') } });
    assert.equal(lc.status, 200, lc.body.toString());
    assert.equal((await root.send({ method: 'PUT', path: `/${BG}/old/x`, body: 'expires' })).status, 200);
    if (clamd) assert.equal((await root.send({ method: 'PUT', path: `/${BG}/eicar`, body: EICAR })).status, 200);

    const d = (s: Scrape, name: string, labels: Record<string, string> = {}) => delta(before, s, name, labels);
    const after = await scrapeUntil(
      'the background work',
      (s) =>
        d(s, 'aerostore_webhook_attempts_total', { outcome: 'delivered' }) === 1 &&
        d(s, 'aerostore_webhook_attempts_total', { outcome: 'dead' }) === 1 &&
        d(s, 'aerostore_lifecycle_actions_total', { action: 'expired' }) >= 1 &&
        d(s, 'aerostore_blobs_collected_total') >= 2 &&
        d(s, 'aerostore_sweeper_runs_total', { result: 'ok' }) >= 1 &&
        (!clamd || (d(s, 'aerostore_scan_verdicts_total', { verdict: 'infected' }) === 1 && d(s, 'aerostore_scan_verdicts_total', { verdict: 'clean' }) >= 1)),
    );
    assert.equal(d(after, 'aerostore_webhook_attempts_total', { outcome: 'failed' }), 1, 'the first refusal is retried');
    assert.equal(good.hits(), 1);
    assert.equal(bad.hits(), 2);
    assert.equal(d(after, 'aerostore_lifecycle_actions_total', { action: 'expired' }), 1);
    assert.ok(d(after, 'aerostore_lifecycle_runs_total', { result: 'ok' }) >= 1);
    // `gone` and the expired `old/x`: their bytes.
    assert.equal(d(after, 'aerostore_blobs_collected_total'), 2);
    assert.equal(d(after, 'aerostore_blob_bytes_collected_total'), gone.length + 'expires'.length);
    assert.equal(d(after, 'aerostore_sweeper_runs_total', { result: 'failed' }), 0);
    // The dead letter, once the totals (read at most every 15 s) are read again.
    await scrapeUntil('the dead delivery in the backlog gauges', (s) => value(s, 'aerostore_webhook_dead') === 1 && value(s, 'aerostore_webhook_backlog') === 0);
    if (clamd) {
      // hook/a is clean; `gone` and old/x too if scanned before they went (a scan whose
      // content went meanwhile fails, `error`, and its job goes with the blob); EICAR is not.
      assert.ok(d(after, 'aerostore_scan_verdicts_total', { verdict: 'clean' }) <= 3);
    }
  });
});
