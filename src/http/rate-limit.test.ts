import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ANONYMOUS, type Principal } from '../principals/principal.ts';
import { addressKey, presignedUrlKey, principalKey, RateLimited, RateLimits, signedUrlTokenKey } from './rate-limit.ts';

const USER: Principal = { kind: 'user', via: 'jwt', userId: '00000000-0000-4000-8000-000000000001', role: 'authenticated' };
const OTHER: Principal = { kind: 'user', via: 'access-key', userId: '00000000-0000-4000-8000-000000000002', role: 'authenticated', accessKeyId: 'AKB' };
const SERVICE: Principal = { kind: 'user', via: 'access-key', userId: null, role: 'service', accessKeyId: 'ROOT' };

/** What RateLimits reads of a request. */
function request(remoteAddress: string, url = '/b/k?X-Amz-Signature=secret'): IncomingMessage {
  return { method: 'GET', url, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function setup(settings: Partial<ConstructorParameters<typeof RateLimits>[0]>) {
  let t = 0;
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const limits = new RateLimits({ signedUrl: null, principal: null, address: null, ...settings }, log, { now: () => t });
  return { limits, lines, advance: (ms: number) => (t += ms) };
}

/** The refusal `fn` throws, or undefined when it admits. */
function refusalOf(fn: () => void): RateLimited | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof RateLimited) return err;
    throw err;
  }
}

describe('RateLimits', () => {
  it('limits each signed URL on its own, and answers with whole seconds to wait', () => {
    const { limits, advance } = setup({ signedUrl: { rate: 0.5, burst: 2 } });
    const req = request('10.0.0.1');
    const one = presignedUrlKey('aaaa');
    limits.admit(req, { signedUrl: one, principal: ANONYMOUS });
    limits.admit(req, { signedUrl: one, principal: ANONYMOUS });
    const refused = refusalOf(() => limits.admit(req, { signedUrl: one, principal: ANONYMOUS }));
    assert.equal(refused?.limit, 'signed-url');
    assert.equal(refused?.retryAfterSeconds, 2);
    limits.admit(req, { signedUrl: signedUrlTokenKey('payload.mac'), principal: ANONYMOUS }); // another URL is unaffected
    limits.admit(req, { principal: USER }); // and a request without a URL is not counted
    advance(2_000);
    limits.admit(req, { signedUrl: one, principal: ANONYMOUS });
    assert.equal(limits.stats()['signed-url'].refused, 1);
    assert.equal(limits.stats()['signed-url'].keys, 2);
  });

  it('limits each signed-in principal, never the service role or anonymous requests', () => {
    const { limits } = setup({ principal: { rate: 1, burst: 3 } });
    const req = request('10.0.0.1');
    for (let i = 0; i < 3; i++) limits.admit(req, { principal: USER });
    assert.equal(refusalOf(() => limits.admit(req, { principal: USER }))?.limit, 'principal');
    limits.admit(req, { principal: OTHER });
    for (let i = 0; i < 100; i++) {
      limits.admit(req, { principal: SERVICE });
      limits.admit(req, { principal: ANONYMOUS });
    }
  });

  it('takes a signed URL’s token and its signer’s together or not at all', () => {
    const { limits, advance } = setup({ signedUrl: { rate: 1, burst: 1 }, principal: { rate: 1, burst: 2 } });
    const req = request('10.0.0.1');
    limits.admit(req, { signedUrl: 'u1', principal: USER });
    // The URL is drained: refused, and the signer keeps its token…
    assert.equal(refusalOf(() => limits.admit(req, { signedUrl: 'u1', principal: USER }))?.limit, 'signed-url');
    // …for another of its URLs; now the signer is drained.
    limits.admit(req, { signedUrl: 'u2', principal: USER });
    assert.equal(refusalOf(() => limits.admit(req, { signedUrl: 'u3', principal: USER }))?.limit, 'principal');
    // u3 took nothing while its signer was refused.
    advance(1_000);
    limits.admit(req, { signedUrl: 'u3', principal: USER });
  });

  it('limits each client address, an IPv6 client by its /64', () => {
    const { limits } = setup({ address: { rate: 1, burst: 2 } });
    assert.equal(limits.checkAddress(request('192.0.2.1')), undefined);
    assert.equal(limits.checkAddress(request('::ffff:192.0.2.1')), undefined);
    assert.equal(limits.checkAddress(request('192.0.2.1'))?.limit, 'address');
    assert.equal(limits.checkAddress(request('192.0.2.2')), undefined);
    assert.equal(limits.checkAddress(request('2001:db8:1:2::1')), undefined);
    assert.equal(limits.checkAddress(request('2001:db8:1:2:ffff::9')), undefined);
    assert.equal(limits.checkAddress(request('2001:db8:1:2:aaaa:bbbb:cccc:dddd'))?.limit, 'address');
    assert.equal(limits.checkAddress(request('2001:db8:1:3::1')), undefined);
  });

  it('checks nothing when a limit is off', () => {
    const { limits } = setup({});
    for (let i = 0; i < 1_000; i++) {
      assert.equal(limits.checkAddress(request('192.0.2.1')), undefined);
      limits.admit(request('192.0.2.1'), { signedUrl: 'u', principal: USER });
    }
    assert.deepEqual(limits.stats().address, { limit: null, keys: 0, refused: 0 });
  });

  it('logs every refusal, without the query (it holds the URL’s credentials)', () => {
    const { limits, lines } = setup({ address: { rate: 1, burst: 1 } });
    limits.checkAddress(request('192.0.2.1'));
    limits.checkAddress(request('192.0.2.1'));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].msg, 'rate limited');
    assert.equal(lines[0].limit, 'address');
    assert.equal(lines[0].path, '/b/k');
    assert.equal(lines[0].address, '192.0.2.1');
    assert.equal(lines[0].retryAfter, 1);
    assert.ok(!JSON.stringify(lines[0]).includes('secret'));
  });
});

describe('rate-limit keys', () => {
  it('names a principal by its user id, else its access key', () => {
    assert.equal(principalKey(USER), `user:${USER.kind === 'user' && USER.userId}`);
    assert.equal(principalKey({ kind: 'user', via: 'access-key', userId: null, role: 'authenticated', accessKeyId: 'AK1' }), 'key:AK1');
    assert.equal(principalKey(SERVICE), undefined);
    assert.equal(principalKey(ANONYMOUS), undefined);
  });

  it('names a /storage/v1 token by its MAC', () => {
    assert.equal(signedUrlTokenKey('eyJwYXlsb2FkIjoxfQ.bWFj'), 'token:bWFj');
    assert.notEqual(presignedUrlKey('bWFj'), signedUrlTokenKey('x.bWFj'));
  });

  it('names an address: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
    assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:0db8:0000:0001:0000:0000:0000:0001'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
    assert.equal(addressKey(undefined), undefined);
  });
});
