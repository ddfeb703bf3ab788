import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

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
