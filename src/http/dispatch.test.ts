import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getPath } from 'hono/utils/url';
import { destination, SERVICE_PREFIXES } from './dispatch.ts';

/** The path Hono routes on: the URL @hono/node-server builds from the target, percent-decoded by Hono. */
const honoPath = (target: string): string => getPath(new Request(new URL(`http://127.0.0.1:9000${target}`)));

const api = (target: string, hostBucket?: string) => destination(target, hostBucket);

describe('destination', () => {
  it('names a service API only by its literal prefix', () => {
    assert.deepEqual(api('/admin/v1/keys'), { api: 'admin' });
    assert.deepEqual(api('/admin/v1'), { api: 'admin' });
    assert.deepEqual(api('/admin/v1?x=1'), { api: 'admin' });
    assert.deepEqual(api('/storage/v1/bucket'), { api: 'storage' });
    assert.deepEqual(api('/health/live'), { api: 'health' });
    for (const target of ['/health', '/health?x', '/admin', '/admin/v10/keys', '/%61dmin/v1/keys', '/ADMIN/v1/keys', '//admin/v1/keys', '/admin//v1/keys',
      '/admin\\v1/keys', '/admin/v1\\keys', '/admin%2fv1/keys', '/x/../admin/v1/keys', '/../admin/v1/keys', '/%2e%2e/admin/v1/keys',
      'http://h/admin/v1/keys', '*', '/dots/uploads/../../admin/v1/keys', '/admin/v1#/keys']) {
      assert.deepEqual(api(target), { api: 's3' }, target);
    }
  });

  it('with a bucket in the Host, every path is S3’s', () => {
    assert.deepEqual(api('/admin/v1/keys', 'dots'), { api: 's3' });
    assert.deepEqual(api('/health/live', 'dots'), { api: 's3' });
  });

  it('refuses a service path a URL parser would rewrite', () => {
    for (const target of ['/admin/v1/x/../keys', '/admin/v1/x/%2e%2e/keys', '/admin/v1/x/%2E%2e/keys', '/admin/v1/x/.%2e/keys', '/admin/v1/./keys',
      '/admin/v1/%2e/keys', '/admin/v1/..', '/admin/v1/keys\\x', '/admin/v1/keys#x', '/admin/v1/keys?a#b', '/storage/v1/../admin/v1/keys', '/health/live/..']) {
      assert.ok(api(target).api !== 's3' && 'refuse' in api(target), target);
    }
    // Encoded characters that are not structure are not rewrites.
    for (const target of ['/admin/v1/keys%2e', '/admin/v1/..x', '/admin/v1/x..', '/admin/v1/a%2fb', '/storage/v1/object/b/{x}', '/storage/v1/object/b/a"b<c>`', '/storage/v1/object/b/%',
      '/storage/v1/object/b/%zz', '/admin/v1//keys', '/admin/v1/keys/']) {
      assert.equal('refuse' in api(target), false, target);
    }
  });

  // The property the dispatcher exists for: when it hands a request to a
  // service API, Hono routes it on the same segments the raw target has, so
  // the application that authenticates the raw path is the one that serves it.
  it('a service path it accepts is routed by Hono on the same segments', () => {
    const piece = fc.constantFrom('keys', 'bucket', 'live', 'x', '..', '.', '%2e%2e', '%2E%2e', '.%2e', '%2e', '%2E', '', 'a\\b', '\\', '%5c', '%2f', '%61dmin',
      'admin', 'v1', 'storage', 'health', '%', '%zz', '{', '"', '#', 'é', '%2e%2e%2f', '..%2f');
    const target = fc.tuple(
      fc.constantFrom(...SERVICE_PREFIXES.map((p) => p.prefix), '', '/x', '/%61dmin/v1'),
      fc.array(piece, { maxLength: 6 }),
      fc.constantFrom('', '/', '?a=b', '?a=/../admin/v1'),
    ).map(([prefix, pieces, end]) => prefix + pieces.map((p) => `/${p}`).join('') + end);
    fc.assert(
      fc.property(target, (t) => {
        const to = api(t);
        if (to.api === 's3' || 'refuse' in to) return;
        const raw = t.split('?')[0];
        let routed: string;
        try {
          routed = honoPath(t);
        } catch {
          return; // the adapter refuses it (400) before any application sees it
        }
        const prefix = SERVICE_PREFIXES.find((p) => p.api === to.api)!.prefix;
        assert.ok(routed === prefix || routed.startsWith(prefix + '/'), `${t} → Hono ${routed}`);
        assert.equal(routed.split('/').length, raw.split('/').length, `${t} → Hono ${routed}`);
      }),
      { numRuns: 5000 },
    );
  });
});
