// The request log (issue 16.6): one line per request, refusals included —
// before routing, at authentication, in the operation — with its operation,
// status, error code, request id, principal and duration, the bucket and key,
// the bytes each way and the User-Agent; AEROSTORE_ACCESS_LOG_LEVEL sets its level.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { S3RawClient, sendRaw } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let s3: S3RawClient;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: '/logged' })).status, 200);
});
after(() => server?.stop());

interface Line {
  level: number;
  msg: string;
  api?: string;
  op?: string;
  method?: string;
  path?: string;
  status?: number;
  code?: string;
  requestId?: string;
  principal?: string | Record<string, string | null>;
  client?: string;
  ms?: number;
  aborted?: boolean;
  bucket?: string;
  key?: string;
  bytesIn?: number;
  bytesOut?: number;
  userAgent?: string;
}

const requestLines = (): Line[] =>
  server
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.msg === 'request');

/** The one log line of the request matching `match` (the log arrives through a pipe, a moment after the response). */
async function lineOf(match: (l: Line) => boolean, what: string): Promise<Line> {
  for (let i = 0; i < 100; i++) {
    const found = requestLines().filter(match);
    if (found.length > 0) {
      assert.equal(found.length, 1, `${what}: one line, not ${found.length}`);
      return found[0];
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${what}: no request line`);
}

const byRequestId = (res: { headers: Record<string, unknown> }) => (l: Line) => l.requestId === res.headers['x-amz-request-id'];

describe('the request log', () => {
  it('has one line per S3 request, success or refusal, with operation, status, code, request id, principal and duration', async () => {
    const cases: Array<[string, Promise<{ status: number; headers: Record<string, unknown> }>, Partial<Line>]> = [
      ['a PUT', s3.send({ method: 'PUT', path: '/logged/k', body: 'x' }), { op: 'PutObject', status: 200, code: undefined }],
      ['a GET of a missing key', s3.send({ method: 'GET', path: '/logged/missing' }), { op: 'GetObject', status: 404, code: 'NoSuchKey' }],
      ['a HEAD of a missing bucket', s3.send({ method: 'HEAD', path: '/nowhere/k' }), { op: 'HeadObject', status: 404, code: 'NoSuchBucket' }],
      ['an unimplemented sub-resource', s3.send({ method: 'PUT', path: '/logged', query: { encryption: '' }, body: '<x/>' }), { op: undefined, status: 501, code: 'NotImplemented' }],
      ['a bad signature', new S3RawClient(server.url, { ...server, secretAccessKey: 'wrong' }).send({ method: 'GET', path: '/logged' }), { op: 'ListObjects', status: 403, code: 'SignatureDoesNotMatch' }],
      ['an unknown key', new S3RawClient(server.url, { accessKeyId: 'AKIDUNKNOWN000', secretAccessKey: 'x' }).send({ method: 'GET', path: '/' }), { op: 'ListBuckets', status: 403, code: 'InvalidAccessKeyId' }],
      ['an anonymous ListBuckets', sendRaw(s3.base, 'GET', '/', {}), { op: 'ListBuckets', status: 403, code: 'AccessDenied', principal: 'anonymous' }],
    ];
    for (const [what, pending, want] of cases) {
      const res = await pending;
      assert.equal(res.status, want.status, what);
      const line = await lineOf(byRequestId(res), what);
      assert.equal(line.level, 30, `${what}: at info`);
      assert.equal(line.api, 's3', what);
      assert.equal(line.op, want.op, what);
      assert.equal(line.status, want.status, what);
      assert.equal(line.code, want.code, what);
      assert.equal(typeof line.ms, 'number', what);
      assert.equal(line.client, '127.0.0.1', what);
      if (want.principal) assert.deepEqual(line.principal, want.principal, what);
    }
    const put = requestLines().find((l) => l.op === 'PutObject' && l.path === '/logged/k');
    assert.deepEqual(put?.principal, { via: 'access-key', role: 'service', user: null, key: server.accessKeyId });
  });

  it('logs requests refused before routing, and keeps a presigned URL’s credentials out of the line', async () => {
    const malformed = await sendRaw(s3.base, 'GET', '/logged/a#b', {});
    assert.equal(malformed.status, 400);
    const line = await lineOf(byRequestId(malformed), 'a target with a fragment');
    assert.equal(line.code, 'InvalidURI');

    const { path } = await s3.sign({ method: 'GET', path: '/logged/k', presignExpiresIn: 60 });
    const presigned = await sendRaw(s3.base, 'GET', path, {});
    assert.equal(presigned.status, 200);
    const signed = await lineOf(byRequestId(presigned), 'a presigned GET');
    assert.equal(signed.path, '/logged/k');
    assert.doesNotMatch(server.log(), /X-Amz-Signature/);
  });

  it('logs the service APIs and STS the same way', async () => {
    const health = await fetch(new URL('/health/live', server.url));
    assert.equal(health.status, 200);
    const healthLine = await lineOf((l) => l.path === '/health/live', 'a health probe');
    assert.deepEqual([healthLine.api, healthLine.op, healthLine.status], ['health', 'GET /health/live', 200]);

    const admin = await fetch(new URL('/admin/v1/keys', server.url));
    assert.equal(admin.status, 401);
    const adminLine = await lineOf((l) => l.path === '/admin/v1/keys', 'an anonymous admin call');
    assert.deepEqual([adminLine.api, adminLine.status, adminLine.code, adminLine.principal], ['admin', 401, 'Unauthorized', 'anonymous']);

    const storage = await fetch(new URL('/storage/v1/no/such/route', server.url), { method: 'PATCH' });
    assert.equal(storage.status, 404);
    const storageLine = await lineOf((l) => l.path === '/storage/v1/no/such/route', 'a /storage/v1 path no route takes');
    assert.deepEqual([storageLine.api, storageLine.status, storageLine.code], ['storage', 404, 'NOT_FOUND']);

    const sts = await fetch(new URL('/?Action=GetCallerIdentity', server.url));
    assert.equal(sts.status, 400);
    const stsLine = await lineOf((l) => l.api === 'sts', 'an STS call');
    assert.deepEqual([stsLine.op, stsLine.status], ['GetCallerIdentity', 400]);
    assert.ok(stsLine.code);
  });

  it('names the bucket and key (cut at 256 characters), the bytes each way and the User-Agent, on S3 and /storage/v1', async () => {
    const body = Buffer.alloc(100_000, 7);
    const put = await s3.send({ method: 'PUT', path: '/logged/sized', body, headers: { 'user-agent': 'aws-cli/2.99 test' } });
    const putLine = await lineOf(byRequestId(put), 'a PUT of 100,000 bytes');
    assert.deepEqual([putLine.bucket, putLine.key, putLine.userAgent], ['logged', 'sized', 'aws-cli/2.99 test']);
    assert.ok(putLine.bytesIn! >= 100_000 && putLine.bytesIn! < 102_000, `bytes in: ${putLine.bytesIn}`);
    assert.ok(putLine.bytesOut! > 0 && putLine.bytesOut! < 2_000, `bytes out: ${putLine.bytesOut}`);
    const get = await s3.send({ method: 'GET', path: '/logged/sized' });
    const getLine = await lineOf(byRequestId(get), 'its GET');
    assert.ok(getLine.bytesOut! >= 100_000 && getLine.bytesOut! < 102_000, `bytes out: ${getLine.bytesOut}`);
    assert.ok(getLine.bytesIn! < 2_000, `bytes in: ${getLine.bytesIn}`);

    const long = 'k'.repeat(600);
    const refused = await sendRaw(s3.base, 'GET', `/logged/${long}`, {});
    assert.equal(refused.status, 403);
    const refusedLine = await lineOf(byRequestId(refused), 'an anonymous GET of a long key');
    assert.deepEqual([refusedLine.bucket, refusedLine.key, refusedLine.code], ['logged', 'k'.repeat(256) + '…', 'AccessDenied']);

    const storage = await fetch(new URL('/storage/v1/object/logged/sized', server.url), { headers: { 'user-agent': 'storage-js/2' } });
    assert.equal(storage.status, 403, 'no credentials, a private bucket');
    const storageLine = await lineOf((l) => l.api === 'storage' && l.path === '/storage/v1/object/logged/sized', 'a /storage/v1 download');
    assert.deepEqual([storageLine.bucket, storageLine.key, storageLine.userAgent], ['logged', 'sized', 'storage-js/2']);
  });

  it('writes its lines at AEROSTORE_ACCESS_LOG_LEVEL, and none when it is off', async () => {
    for (const [level, want] of [['debug', 20], ['off', undefined]] as const) {
      const other = await startTestServer({ env: { AEROSTORE_ACCESS_LOG_LEVEL: level, AEROSTORE_LOG_LEVEL: 'debug' } });
      try {
        const res = await new S3RawClient(other.url, other).send({ method: 'PUT', path: '/quiet' });
        assert.equal(res.status, 200);
        await new Promise((r) => setTimeout(r, 200));
        const lines = other.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line).filter((l) => l.msg === 'request');
        assert.deepEqual(lines.map((l) => l.level).slice(0, 1), want === undefined ? [] : [want], level);
      } finally {
        await other.stop();
      }
    }
  });

  it('logs a request whose client went away before the answer was whole', async () => {
    const size = 4 * 1024 * 1024;
    assert.equal((await s3.send({ method: 'PUT', path: '/logged/big', body: Buffer.alloc(size) })).status, 200);
    const { path } = await s3.sign({ method: 'GET', path: '/logged/big', presignExpiresIn: 60 });
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(s3.base.port), s3.base.hostname, () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${s3.base.host}\r\n\r\n`);
      });
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    const line = await lineOf((l) => l.path === '/logged/big' && l.method === 'GET', 'an aborted GET');
    assert.equal(line.aborted, true);
    assert.equal(line.op, 'GetObject');
  });
});
