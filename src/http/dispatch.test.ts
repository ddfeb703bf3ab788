import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Hono } from 'hono';
import { destination, routingPath, SERVICE_PREFIXES } from './dispatch.ts';

const api = (target: string, hostBucket?: string, method?: string) => destination(target, hostBucket, method);

describe('destination', () => {
  it('names a service API only by its literal prefix', () => {
    assert.deepEqual(api('/admin/v1/keys'), { api: 'admin' });
    assert.deepEqual(api('/admin/v1'), { api: 'admin' });
    assert.deepEqual(api('/admin/v1?x=1'), { api: 'admin' });
    assert.deepEqual(api('/storage/v1/bucket'), { api: 'storage' });
    assert.deepEqual(api('/health/live'), { api: 'health' });
    assert.deepEqual(api('/metrics'), { api: 'metrics' });
    assert.deepEqual(api('/metrics?name[]=x'), { api: 'metrics' });
    assert.deepEqual(api('/console'), { api: 'console' });
    assert.deepEqual(api('/console/app.0123abcd.js'), { api: 'console' });
    for (const target of ['/consoles', '/console.txt', '/CONSOLE/', '/%63onsole/']) assert.deepEqual(api(target), { api: 's3' }, target);
    // A bare /metrics or /console is theirs to read; any other method on it is S3's (CreateBucket, DeleteBucket…).
    assert.deepEqual(api('/metrics', undefined, 'HEAD'), { api: 'metrics' });
    assert.deepEqual(api('/console', undefined, 'HEAD'), { api: 'console' });
    assert.deepEqual(api('/console/index.html', undefined, 'POST'), { api: 'console' });
    for (const method of ['PUT', 'DELETE', 'POST']) {
      for (const target of ['/metrics', '/console']) assert.deepEqual(api(target, undefined, method), { api: 's3' }, `${method} ${target}`);
    }
    assert.deepEqual(api('/admin/v1', undefined, 'POST'), { api: 'admin' });
    for (const target of ['/health', '/health?x', '/admin', '/admin/v10/keys', '/%61dmin/v1/keys', '/ADMIN/v1/keys', '//admin/v1/keys', '/admin//v1/keys',
      '/admin\\v1/keys', '/admin/v1\\keys', '/admin%2fv1/keys', '/x/../admin/v1/keys', '/../admin/v1/keys', '/%2e%2e/admin/v1/keys',
      'http://h/admin/v1/keys', '*', '/dots/uploads/../../admin/v1/keys', '/admin/v1#/keys', '/metrics/', '/metrics/x', '/metricsx', '/METRICS']) {
      assert.deepEqual(api(target), { api: 's3' }, target);
    }
  });

  it('with a bucket in the Host, every path is S3’s', () => {
    assert.deepEqual(api('/admin/v1/keys', 'dots'), { api: 's3' });
    assert.deepEqual(api('/health/live', 'dots'), { api: 's3' });
  });

  it('refuses a fragment or a backslash under a service prefix, nothing else', () => {
    for (const target of ['/admin/v1/keys#x', '/admin/v1/keys?a#b', '/admin/v1/keys\\x', '/storage/v1/x\\..\\bucket', '/health/live#']) {
      assert.ok('refuse' in api(target), target);
    }
    for (const target of ['/admin/v1/x/../keys', '/admin/v1/x/%2e%2e/keys', '/admin/v1/./keys', '/admin/v1/..', '/storage/v1/object/b/../../x', '/admin/v1/keys?a=\\',
      '/admin/v1/keys%2e', '/admin/v1/a%2fb', '/storage/v1/object/b/{x}', '/storage/v1/object/b/%', '/admin/v1//keys', '/admin/v1/keys/']) {
      assert.equal('refuse' in api(target), false, target);
    }
  });

  // The property the dispatcher exists for: a service API routes on the
  // bytes it authenticates. An app built as http/app.ts builds them, fed the
  // Request the adapter would build (WHATWG-parsed: dots resolved), must see
  // the raw path, and match a route only when the raw path is that route.
  it('a service API routes on the raw path, whatever the parsed URL says', async () => {
    const app = new Hono<{ Bindings: { incoming: { url: string } } }>({ getPath: (_req, opts) => routingPath(opts?.env?.incoming.url) });
    app.get('/admin/v1/keys', (c) => c.text('KEYS'));
    app.all('*', (c) => c.text(`other ${c.req.path}`));
    const piece = fc.constantFrom('keys', 'bucket', 'live', 'x', '..', '.', '%2e%2e', '%2E%2e', '.%2e', '%2e', '%2E', '', '%5c', '%2f', '%61dmin',
      'admin', 'v1', 'storage', 'health', '%', '%zz', '{', '"', '%2e%2e%2f', '..%2f');
    const target = fc.tuple(
      fc.constantFrom(...SERVICE_PREFIXES.map((p) => p.prefix), '', '/x', '/%61dmin/v1'),
      fc.array(piece, { maxLength: 6 }),
      fc.constantFrom('', '/', '?a=b', '?a=/../admin/v1/keys'),
    ).map(([prefix, pieces, end]) => prefix + pieces.map((p) => `/${p}`).join('') + end);
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        const to = api(t);
        if (to.api === 's3' || 'refuse' in to) return;
        const raw = t.split('?')[0];
        const answer = await (await app.fetch(new Request(new URL(`http://127.0.0.1:9000${t}`)), { incoming: { url: t } })).text();
        assert.equal(answer, raw === '/admin/v1/keys' ? 'KEYS' : `other ${raw}`, t);
      }),
      { numRuns: 3000 },
    );
  });
});
