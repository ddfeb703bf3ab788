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
});
