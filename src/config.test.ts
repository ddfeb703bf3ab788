import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';
import { sharedBuffersFor } from './db/embedded.ts';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, []);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 9000);
    assert.equal(c.region, 'us-east-1');
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.databaseUrl, undefined);
  });

  it('reads the environment, and flags win over it', () => {
    const env = { AEROSTORE_PORT: '9100', AEROSTORE_REGION: 'eu-west-1', AEROSTORE_DATA_DIR: '/srv/a' };
    const c = loadConfig(env, ['--port', '9200', '--data-dir=/srv/b']);
    assert.equal(c.port, 9200);
    assert.equal(c.region, 'eu-west-1');
    assert.equal(c.dataDir, '/srv/b');
  });

  it('rejects bad values and unknown flags with a message naming the setting', () => {
    assert.throws(() => loadConfig({ AEROSTORE_PORT: 'http' }, []), (e: unknown) => e instanceof ConfigError && /AEROSTORE_PORT/.test(e.message));
    assert.throws(() => loadConfig({}, ['--nope', '1']), ConfigError);
    assert.throws(() => loadConfig({}, ['--port']), ConfigError);
    assert.throws(() => loadConfig({ AEROSTORE_ROOT_ACCESS_KEY: 'abc' }, []), ConfigError);
  });

  it('has encryption at rest off by default, on by AEROSTORE_ENCRYPTION or --encryption, and nothing else', () => {
    assert.equal(loadConfig({}, []).encryption, 'off');
    assert.equal(loadConfig({ AEROSTORE_ENCRYPTION: 'on' }, []).encryption, 'on');
    assert.equal(loadConfig({ AEROSTORE_ENCRYPTION: 'on' }, ['--encryption', 'off']).encryption, 'off');
    assert.throws(() => loadConfig({ AEROSTORE_ENCRYPTION: 'true' }, []), (e: unknown) => e instanceof ConfigError && /AEROSTORE_ENCRYPTION/.test(e.message));
  });

  it('takes a metrics token of 16 characters or more, as a secret', () => {
    assert.equal(loadConfig({}, []).metricsToken, undefined);
    assert.equal(loadConfig({ AEROSTORE_METRICS_TOKEN: 'x'.repeat(16) }, []).metricsToken, 'x'.repeat(16));
    assert.equal(loadConfig({}, ['--metrics-token', 'y'.repeat(40)]).metricsToken, 'y'.repeat(40));
    assert.throws(
      () => loadConfig({ AEROSTORE_METRICS_TOKEN: 'short-token' }, []),
      (e: unknown) => e instanceof ConfigError && /AEROSTORE_METRICS_TOKEN/.test(e.message) && !e.message.includes('short-token'),
    );
  });

  it("sizes the embedded Postgres's shared_buffers to the machine unless told", () => {
    assert.equal(loadConfig({}, []).pgSharedBuffers, 'auto');
    assert.equal(loadConfig({}, ['--pg-shared-buffers', '512MB']).pgSharedBuffers, '512MB');
    for (const bad of ['lots', '512', '0MB', '1TB']) {
      assert.throws(() => loadConfig({ AEROSTORE_PG_SHARED_BUFFERS: bad }, []), (e: unknown) => e instanceof ConfigError && /AEROSTORE_PG_SHARED_BUFFERS/.test(e.message), bad);
    }
    const GiB = 2 ** 30;
    assert.equal(sharedBuffersFor('auto', 1 * GiB), '128MB', 'never below Postgres’s default');
    assert.equal(sharedBuffersFor('auto', 8 * GiB), '512MB');
    assert.equal(sharedBuffersFor('auto', 24 * GiB), '1024MB', 'at most 1 GB');
    assert.equal(sharedBuffersFor('256MB', 24 * GiB), '256MB');
  });

  it('reads the lifecycle settings: hourly passes on the clock by default; a fixed "now" for tests, refused unless ISO 8601', () => {
    const c = loadConfig({}, []);
    assert.equal(c.lifecycleIntervalMinutes, 60);
    assert.equal(c.lifecycleNow, undefined);
    assert.equal(loadConfig({ AEROSTORE_LIFECYCLE_NOW: '2030-01-02' }, []).lifecycleNow?.toISOString(), '2030-01-02T00:00:00.000Z');
    assert.equal(loadConfig({}, ['--lifecycle-now', '2030-01-02T03:04:05Z']).lifecycleNow?.toISOString(), '2030-01-02T03:04:05.000Z');
    assert.throws(() => loadConfig({ AEROSTORE_LIFECYCLE_NOW: 'next week' }, []), (e: unknown) => e instanceof ConfigError && /AEROSTORE_LIFECYCLE_NOW/.test(e.message));
    assert.throws(() => loadConfig({ AEROSTORE_LIFECYCLE_NOW: '2030-02-31' }, []), ConfigError);
  });

  it('reads the rate limits: a signed URL 10/s burst 50 by default, principal and address off; 0/off disables; bad values refuse to start', () => {
    const c = loadConfig({}, []);
    assert.deepEqual(c.rateLimitSignedUrl, { rate: 10, burst: 50 });
    assert.equal(c.rateLimitPrincipal, null);
    assert.equal(c.rateLimitAddress, null);
    const set = loadConfig({ AEROSTORE_RATE_LIMIT_SIGNED_URL: 'off', AEROSTORE_RATE_LIMIT_PRINCIPAL: '20:100', AEROSTORE_RATE_LIMIT_ADDRESS: '50' }, []);
    assert.equal(set.rateLimitSignedUrl, null);
    assert.deepEqual(set.rateLimitPrincipal, { rate: 20, burst: 100 });
    assert.deepEqual(set.rateLimitAddress, { rate: 50, burst: 50 });
    assert.equal(loadConfig({}, ['--rate-limit-signed-url', '0']).rateLimitSignedUrl, null);
    for (const [name, value] of [['AEROSTORE_RATE_LIMIT_SIGNED_URL', '10:0'], ['AEROSTORE_RATE_LIMIT_PRINCIPAL', 'fast'], ['AEROSTORE_RATE_LIMIT_ADDRESS', '-5']]) {
      assert.throws(
        () => loadConfig({ [name]: value }, []),
        (e: unknown) => e instanceof ConfigError && e.message.includes(name) && e.message.includes(JSON.stringify(value)),
        `${name}=${value}`,
      );
    }
  });

  it('reads the signed-URL settings, and keeps secrets out of its messages', () => {
    assert.equal(loadConfig({}, []).signedUrlMaxExpiry, 7 * 24 * 3600);
    assert.equal(loadConfig({}, []).urlSigningKeys, undefined);
    const key = Buffer.alloc(32, 7).toString('base64');
    const kids = (v: string) => loadConfig({ AEROSTORE_URL_SIGNING_KEYS: v }, []).urlSigningKeys?.map((k) => (k === 'derived' ? k : k.kid));
    assert.deepEqual(kids(`2:${key},1:${key}`), ['2', '1']);
    assert.deepEqual(kids(`new:${key},derived`), ['new', 'derived']);
    const short = Buffer.alloc(16, 7).toString('base64');
    assert.throws(
      () => loadConfig({ AEROSTORE_URL_SIGNING_KEYS: `1:${short}` }, []),
      (e: unknown) => e instanceof ConfigError && /AEROSTORE_URL_SIGNING_KEYS/.test(e.message) && !e.message.includes(short),
    );
  });
});
