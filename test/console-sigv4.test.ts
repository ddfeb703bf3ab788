// The console's own SigV4 signer (console/sigv4.ts, WebCrypto) against
// @smithy/signature-v4, the signer the AWS SDKs use: the same requests must
// get the same signatures, header-signed and presigned, with awkward keys and
// query values and with an STS session token. (test/console.test.ts checks
// the server accepts them; this pins the signer down on its own.)
import assert from 'node:assert/strict';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalQuery, encodePath, presign, signHeaders, UNSIGNED, type Credentials } from '../console/sigv4.ts';

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Buffer {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

/** smithy's hash constructor: SHA-256, or HMAC-SHA256 when given a secret (node:crypto for both). */
class NodeHash {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

const NOW = new Date('2026-12-07T21:45:03.123Z');
const HOST = '127.0.0.1:9000';
const key: Credentials = { accessKeyId: 'AKIDCONSOLETEST01', secretAccessKey: 'console-secret/with+odd=chars', region: 'eu-west-3' };
const temporary: Credentials = { ...key, sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDM+token/with=chars' };

function smithy(creds: Credentials): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
    region: creds.region,
    service: 's3',
    sha256: NodeHash,
    uriEscapePath: false,
  });
}

const cases: Array<{ method: string; bucket: string; key?: string; query: Record<string, string> }> = [
  { method: 'GET', bucket: 'photos', query: { 'list-type': '2', prefix: 'a b/ü/', delimiter: '/' } },
  { method: 'PUT', bucket: 'photos', key: "2026/holiday (1)!*'~.jpg", query: {} },
  { method: 'PUT', bucket: 'photos', key: 'big.bin', query: { partNumber: '3', uploadId: 'abc+/=def' } },
  { method: 'POST', bucket: 'photos', query: { delete: '' } },
];

describe('console/sigv4.ts', () => {
  for (const creds of [key, temporary]) {
    for (const c of cases) {
      it(`signs ${c.method} ${c.key ?? '(bucket)'} ?${Object.keys(c.query).join('&')} as the AWS SDK does${creds.sessionToken ? ' (session token)' : ''}`, async () => {
        const path = encodePath(c.bucket, c.key);
        const payloadHash = c.method === 'PUT' ? UNSIGNED : createHash('sha256').update('').digest('hex');
        const ours = await signHeaders(creds, { method: c.method, path, query: c.query, payloadHash, headers: { 'x-amz-meta-note': ' spaced ' } }, HOST, NOW);
        const theirs = await smithy(creds).sign(
          {
            method: c.method,
            protocol: 'http:',
            hostname: '127.0.0.1',
            port: 9000,
            path,
            query: c.query,
            headers: { host: HOST, 'x-amz-content-sha256': payloadHash, 'x-amz-meta-note': 'spaced' },
          },
          { signingDate: NOW },
        );
        assert.equal(ours.authorization, theirs.headers.authorization);
        assert.equal(ours['x-amz-date'], theirs.headers['x-amz-date']);
        assert.equal(ours['x-amz-security-token'], creds.sessionToken);
      });
    }
    it(`presigns a GET as the AWS SDK does${creds.sessionToken ? ' (session token)' : ''}`, async () => {
      const path = encodePath('photos', 'reports/Q4 summary+final.pdf');
      const url = new URL(await presign(creds, { method: 'GET', path }, 86400, `http://${HOST}`, NOW));
      const theirs = await smithy(creds).presign(
        { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query: {}, headers: { host: HOST, 'x-amz-content-sha256': UNSIGNED } },
        { signingDate: NOW, expiresIn: 86400, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) },
      );
      assert.equal(url.pathname, path);
      assert.equal(url.searchParams.get('X-Amz-Signature'), (theirs.query as Record<string, string>)['X-Amz-Signature']);
      assert.equal(url.searchParams.get('X-Amz-Expires'), '86400');
    });
  }

  it('sends the query string it signed, byte for byte', () => {
    assert.equal(canonicalQuery({ b: '2', a: 'x y', 'a~': "(!)" }), 'a=x%20y&a~=%28%21%29&b=2');
    assert.equal(encodePath('b', 'dir/a b+c'), '/b/dir/a%20b%2Bc');
  });
});
