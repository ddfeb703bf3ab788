// Conditional writes (If-None-Match: *, If-Match) against a real server.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode } from './support/s3-xml.ts';

let server: TestServer;
let s3: S3RawClient;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
  assert.equal((await s3.send({ method: 'PUT', path: '/cond' })).status, 200);
});
after(() => server?.stop());

const put = (key: string, body: string, headers: Record<string, string> = {}) =>
  s3.send({ method: 'PUT', path: `/cond/${key}`, body, headers });

describe('conditional writes', () => {
  it('If-None-Match: * creates once, then answers 412 and keeps the first object', async () => {
    assert.equal((await put('once', 'first', { 'if-none-match': '*' })).status, 200);
    const again = await put('once', 'second', { 'if-none-match': '*' });
    assert.equal(again.status, 412);
    assert.equal(errorCode(again.body), 'PreconditionFailed');
    assert.equal((await s3.send({ method: 'GET', path: '/cond/once' })).body.toString(), 'first');
  });

  it('exactly one of many concurrent creators wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => put('race', `writer ${i}`, { 'if-none-match': '*' })),
    );
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, results.map((r) => r.status).join(','));
    assert.ok(results.every((r) => r.status === 200 || r.status === 412));
    const stored = (await s3.send({ method: 'GET', path: '/cond/race' })).headers.etag;
    assert.equal(stored, winners[0].headers.etag);
  });

  it('If-Match replaces only the expected version', async () => {
    const first = await put('cas', 'v1');
    const etag = String(first.headers.etag);
    const stale = await put('cas', 'v2', { 'if-match': '"00000000000000000000000000000000"' });
    assert.equal(stale.status, 412);
    assert.equal((await put('cas', 'v2', { 'if-match': etag })).status, 200);
    assert.equal((await s3.send({ method: 'GET', path: '/cond/cas' })).body.toString(), 'v2');
    const missing = await put('never-written', 'x', { 'if-match': etag });
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.body), 'NoSuchKey');
  });

  it('refuses forms S3 does not implement', async () => {
    const res = await put('nim', 'x', { 'if-none-match': '"abc"' });
    assert.equal(res.status, 501);
    assert.equal(errorCode(res.body), 'NotImplemented');
  });
});

describe('Expect: 100-continue', () => {
  it('refuses a failing condition or an oversize body before any body is sent', async () => {
    assert.equal((await put('exists', 'x')).status, 200);
    const firstAnswer = async (key: string, extra: Record<string, string>) => {
      const { path, headers } = await s3.sign({ method: 'PUT', path: `/cond/${key}`, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra } });
      const socket = net.connect(Number(s3.base.port), s3.base.hostname);
      await new Promise((r) => socket.once('connect', r));
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const head = Object.entries({ ...headers, expect: '100-continue' }).map(([k, v]) => `${k}: ${v}`).join('\r\n');
      socket.write(`PUT ${path} HTTP/1.1\r\n${head}\r\n\r\n`);
      for (let i = 0; i < 40 && !received.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 25));
      socket.destroy();
      return received;
    };
    const exists = await firstAnswer('exists', { 'if-none-match': '*', 'content-length': '1000' });
    assert.match(exists, /^HTTP\/1.1 412/);
    const huge = await firstAnswer('huge', { 'content-length': String(6 * 1024 ** 3) });
    assert.match(huge, /^HTTP\/1.1 400/);
    assert.match(huge, /<Code>EntityTooLarge<\/Code>/);
  });
});
