import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseUrlSigningKeys, signerOf, UrlSigner, type UrlTokenCheck } from './url-tokens.ts';

const K1 = { kid: '1', key: randomBytes(32) };
const K2 = { kid: '2', key: randomBytes(32) };
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => () => new Date(T0.getTime() + seconds * 1000);
const OBJECT = { bucket: 'docs', key: 'reports/q1.pdf' };
/** The identity a token is bound to: the bucket's id; for a download, also the object's row id and content. */
const BUCKET_ID = '0b7d3c4e-2f1a-4c5b-8d6e-7f8091a2b3c4';
const DOWNLOAD = { kind: 'download' as const, ...OBJECT, bucketId: BUCKET_ID, objectId: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d', sha256: 'ab'.repeat(32) };
const UPLOAD = { kind: 'upload' as const, ...OBJECT, bucketId: BUCKET_ID };
const USER = '5f0c2a53-6d8e-4a43-9a8e-3c2b1d0e9f11';

const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;

/** The token with one field of its payload replaced, MAC kept. */
function tamper(token: string, field: string, value: unknown): string {
  const mac = token.split('.')[1];
  return `${Buffer.from(JSON.stringify({ ...payloadOf(token), [field]: value })).toString('base64url')}.${mac}`;
}

const refused = (check: UrlTokenCheck) => (check.ok ? 'accepted' : check.reason);

describe('UrlSigner', () => {
  const signer = new UrlSigner([K1], at(0));

  it('signs a download token that verifies for exactly its object and kind', () => {
    const { token, expiresAt } = signer.sign({ ...DOWNLOAD, sub: USER, role: 'authenticated' }, 60);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(expiresAt.toISOString(), '2030-01-01T00:01:00.000Z');
    const check = new UrlSigner([K1], at(59)).verify(token, { kind: 'download', ...OBJECT });
    assert.deepEqual(check, {
      ok: true,
      token: { kid: '1', ...DOWNLOAD, sub: USER, role: 'authenticated', expiresAt },
    });
    assert.equal(refused(signer.verify(token, { kind: 'download', bucket: 'docs', key: 'reports/q2.pdf' })), 'invalid');
    assert.equal(refused(signer.verify(token, { kind: 'download', bucket: 'other', key: OBJECT.key })), 'invalid');
    assert.equal(refused(signer.verify(token, { kind: 'upload', ...OBJECT })), 'invalid');
  });

  it('gives upload tokens a fresh jti each time, and keeps upsert', () => {
    const a = signer.sign({ ...UPLOAD, sub: USER, role: 'authenticated', upsert: true }, 60);
    const b = signer.sign({ ...UPLOAD, sub: USER, role: 'authenticated', upsert: true }, 60);
    assert.ok(a.jti && b.jti && a.jti !== b.jti);
    const check = signer.verify(a.token, { kind: 'upload', ...OBJECT });
    assert.ok(check.ok);
    assert.equal(check.token.jti, a.jti);
    assert.equal(check.token.upsert, true);
    assert.equal(signer.sign({ ...DOWNLOAD }, 60).jti, undefined);
  });

  it('refuses a token with any field of its payload altered', () => {
    const { token } = signer.sign({ ...UPLOAD, sub: USER, role: 'authenticated', upsert: false }, 60);
    const changes: Array<[string, unknown]> = [
      ['v', 1],
      ['bucketId', '00000000-0000-4000-8000-000000000000'],
      ['kid', '2'],
      ['kind', 'download'],
      ['bucket', 'other'],
      ['key', 'reports/q2.pdf'],
      ['exp', (payloadOf(token).exp as number) + 3600],
      ['sub', randomBytes(16).toString('hex')],
      ['role', 'service'],
      ['upsert', true],
      ['jti', 'reused'],
    ];
    for (const [field, value] of changes) {
      const altered = tamper(token, field, value);
      const expected = field === 'kind' ? { kind: 'download' as const, ...OBJECT } : { kind: 'upload' as const, ...OBJECT };
      assert.equal(refused(signer.verify(altered, expected)), 'invalid', `${field} altered`);
    }
    // A download token's object identity, altered, is refused the same way.
    const download = signer.sign({ ...DOWNLOAD }, 60).token;
    for (const [field, value] of [['objectId', '00000000-0000-4000-8000-000000000000'], ['sha256', 'cd'.repeat(32)]]) {
      assert.equal(refused(signer.verify(tamper(download, field, value), { kind: 'download', ...OBJECT })), 'invalid', `${field} altered`);
    }
    // The MAC itself, and shapes that are not a token at all.
    const [payload, mac] = token.split('.');
    const flipped = `${payload}.${(mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)}`;
    for (const bad of [flipped, payload, `${token}.x`, '', '.', 'a'.repeat(20_000), `${Buffer.from('not json').toString('base64url')}.${mac}`]) {
      assert.equal(refused(signer.verify(bad, { kind: 'upload', ...OBJECT })), 'invalid', bad.slice(0, 30));
    }
  });

  it('refuses a payload MACed by the right key but malformed', () => {
    const forge = (payload: Record<string, unknown>) => {
      const part = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${part}.${createHmac('sha256', K1.key).update(part).digest('base64url')}`;
    };
    const exp = T0.getTime() / 1000 + 60;
    const good: Record<string, unknown> = { v: 2, kid: '1', ...DOWNLOAD, exp };
    assert.equal(signer.verify(forge(good), { kind: 'download', ...OBJECT }).ok, true, 'the forge helper makes valid tokens');
    assert.equal(refused(signer.verify(forge({ ...good, exp: 'later' }), { kind: 'download', ...OBJECT })), 'invalid');
    assert.equal(refused(signer.verify(forge({ ...good, role: 'anon' }), { kind: 'download', ...OBJECT })), 'invalid');
    // An upload token without a jti could be spent again and again.
    assert.equal(refused(signer.verify(forge({ ...good, kind: 'upload' }), { kind: 'upload', ...OBJECT })), 'invalid');
    // A download names the object's identity, an upload at least the bucket's: without it, the token is refused.
    for (const field of ['bucketId', 'objectId', 'sha256']) {
      const { [field]: _dropped, ...rest } = good;
      assert.equal(refused(signer.verify(forge(rest), { kind: 'download', ...OBJECT })), 'invalid', `download without ${field}`);
    }
    const { bucketId: _b, ...unboundUpload }: Record<string, unknown> = { ...good, kind: 'upload', jti: 'j' };
    assert.equal(refused(signer.verify(forge(unboundUpload), { kind: 'upload', ...OBJECT })), 'invalid', 'upload without bucketId');
    // Version 1 tokens named only the bucket and key: refused, however well MACed.
    const { bucketId: _, objectId: __, sha256: ___, ...v1 }: Record<string, unknown> = { ...good, v: 1 };
    assert.equal(refused(signer.verify(forge(v1), { kind: 'download', ...OBJECT })), 'invalid', 'a version 1 token');
  });

  it('refuses a token from another key, or naming an unknown key', () => {
    const other = new UrlSigner([{ kid: '1', key: randomBytes(32) }], at(0)).sign({ ...DOWNLOAD }, 60);
    assert.equal(refused(signer.verify(other.token, { kind: 'download', ...OBJECT })), 'invalid');
    const unknownKid = new UrlSigner([{ kid: '9', key: K1.key }], at(0)).sign({ ...DOWNLOAD }, 60);
    assert.equal(refused(signer.verify(unknownKid.token, { kind: 'download', ...OBJECT })), 'invalid');
  });

  it('expires at exp, by the injected clock', () => {
    const { token } = signer.sign({ ...DOWNLOAD }, 60);
    assert.equal(new UrlSigner([K1], at(59.999)).verify(token, { kind: 'download', ...OBJECT }).ok, true);
    assert.equal(refused(new UrlSigner([K1], at(60)).verify(token, { kind: 'download', ...OBJECT })), 'expired');
    assert.equal(refused(new UrlSigner([K1], at(86_400)).verify(token, { kind: 'download', ...OBJECT })), 'expired');
    // Expiry is reported only for a token that is otherwise good.
    assert.equal(refused(new UrlSigner([K1], at(60)).verify(tamper(token, 'key', 'x'), { kind: 'download', ...OBJECT })), 'invalid');
  });

  it('rotates: the first key signs, an old key verifies while it is listed', () => {
    const old = new UrlSigner([K1], at(0)).sign({ ...DOWNLOAD }, 60);
    const rotated = new UrlSigner([K2, K1], at(0));
    assert.equal(rotated.verify(old.token, { kind: 'download', ...OBJECT }).ok, true);
    const fresh = rotated.sign({ ...DOWNLOAD }, 60);
    assert.equal(payloadOf(fresh.token).kid, '2');
    assert.equal(new UrlSigner([K2], at(0)).verify(fresh.token, { kind: 'download', ...OBJECT }).ok, true);
    assert.equal(refused(new UrlSigner([K2], at(0)).verify(old.token, { kind: 'download', ...OBJECT })), 'invalid', 'K1 retired');
  });

  it('refuses a bad lifetime', () => {
    assert.throws(() => signer.sign({ ...DOWNLOAD }, 0), RangeError);
    assert.throws(() => signer.sign({ ...DOWNLOAD }, 1.5), RangeError);
  });
});

describe('signerOf', () => {
  it('is the signer with its user id and role, or anonymous', () => {
    assert.deepEqual(signerOf({ ...UPLOAD, sub: USER, role: 'authenticated', jti: 'j' }), {
      kind: 'user',
      via: 'url-token',
      userId: USER,
      role: 'authenticated',
    });
    assert.deepEqual(signerOf({ ...UPLOAD, role: 'service', jti: 'j' }), { kind: 'user', via: 'url-token', userId: null, role: 'service' });
    assert.deepEqual(signerOf({ ...DOWNLOAD }), { kind: 'anonymous' });
  });
});

describe('parseUrlSigningKeys', () => {
  const b64 = (k: Buffer) => k.toString('base64');

  it('reads kid:base64 pairs in order', () => {
    assert.deepEqual(parseUrlSigningKeys(` 2:${b64(K2.key)} , 1:${b64(K1.key)}`), [K2, K1]);
  });

  it('reads `derived` as the master-key-derived key (kid 1), which no listed key may shadow', () => {
    assert.deepEqual(parseUrlSigningKeys(`2:${b64(K2.key)},derived`), [K2, 'derived']);
    assert.throws(() => parseUrlSigningKeys(`1:${b64(K1.key)},derived`), /at most once/);
    assert.throws(() => parseUrlSigningKeys('derived,derived'), /at most once/);
  });

  it('refuses short keys, bad or repeated kids, and nothing at all', () => {
    assert.throws(() => parseUrlSigningKeys(`1:${b64(randomBytes(16))}`), /32 bytes/);
    assert.throws(() => parseUrlSigningKeys(b64(K1.key)), /kid:base64/);
    assert.throws(() => parseUrlSigningKeys(`a b:${b64(K1.key)}`), /kid:base64/);
    assert.throws(() => parseUrlSigningKeys(`1:${b64(K1.key)},1:${b64(K2.key)}`), /at most once/);
    assert.throws(() => parseUrlSigningKeys(' , '), /at least one/);
  });
});
