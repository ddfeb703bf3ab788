import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback, metricsAccess } from './access.ts';

const TOKEN = 'a-metrics-token-0123456789';

describe('metricsAccess', () => {
  it('with a token: the bearer token alone decides, from any address', () => {
    assert.deepEqual(metricsAccess(TOKEN, { authorization: `Bearer ${TOKEN}` }, '203.0.113.9'), { allowed: true });
    assert.deepEqual(metricsAccess(TOKEN, { authorization: `bearer ${TOKEN}` }, '203.0.113.9'), { allowed: true });
    for (const authorization of [undefined, '', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`]) {
      const refused = metricsAccess(TOKEN, authorization === undefined ? {} : { authorization }, '127.0.0.1');
      assert.equal(refused.allowed, false, String(authorization));
      assert.equal(!refused.allowed && refused.status, 401, 'loopback is no exception when a token is set');
    }
  });

  it('without a token: loopback clients only, and not through a proxy', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1']) assert.deepEqual(metricsAccess(undefined, {}, address), { allowed: true }, address);
    for (const address of ['10.0.0.1', '192.168.1.2', '203.0.113.9', '::', 'fe80::1', '2001:db8::1', '128.0.0.1', undefined]) {
      const refused = metricsAccess(undefined, {}, address);
      assert.equal(!refused.allowed && refused.status, 403, String(address));
      assert.match(!refused.allowed ? refused.message : '', /AEROSTORE_METRICS_TOKEN/);
    }
    for (const header of ['forwarded', 'x-forwarded-for', 'x-real-ip']) {
      assert.equal(metricsAccess(undefined, { [header]: '203.0.113.9' }, '127.0.0.1').allowed, false, header);
    }
  });

  it('isLoopback reads the addresses as client-address.ts writes them', () => {
    assert.equal(isLoopback('127.0.0.1'), true);
    assert.equal(isLoopback('::1'), true);
    assert.equal(isLoopback('0:0:0:0:0:0:0:1'), true);
    assert.equal(isLoopback('localhost'), false);
    assert.equal(isLoopback(''), false);
  });
});
