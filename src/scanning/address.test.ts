import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeClamdAddress, parseClamdAddress } from './address.ts';

describe('parseClamdAddress', () => {
  it('reads tcp://host:port and unix socket paths', () => {
    assert.deepEqual(parseClamdAddress('tcp://127.0.0.1:3310'), { host: '127.0.0.1', port: 3310 });
    assert.deepEqual(parseClamdAddress('tcp://clamd.internal:3310/'), { host: 'clamd.internal', port: 3310 });
    assert.deepEqual(parseClamdAddress('tcp://[::1]:3310'), { host: '::1', port: 3310 });
    assert.deepEqual(parseClamdAddress('/run/clamav/clamd.ctl'), { socket: '/run/clamav/clamd.ctl' });
  });

  it('refuses anything else', () => {
    for (const bad of ['localhost:3310', 'tcp://host', 'tcp://host:0', 'tcp://host:70000', 'udp://host:3310', 'clamd.sock', '']) {
      assert.throws(() => parseClamdAddress(bad), `${bad} is refused`);
    }
  });

  it('describes an address as it was given', () => {
    for (const a of ['tcp://127.0.0.1:3310', 'tcp://[::1]:3310', '/run/clamd.sock']) assert.equal(describeClamdAddress(parseClamdAddress(a)), a);
  });
});
