// The compiled server (issue 19 §4): what `npm start` and the container run
// is dist/, built by tsc from src/ with the files read by path at run time
// copied beside (migrations, the MD5 worker). The other tests run the
// sources through tsx; this one starts dist/main.js, so a build that
// compiles but does not run (a file left behind, an import not rewritten)
// fails CI. dist/ is rebuilt first if src/ changed since the last build.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAerostore } from './support/aerostore-cli.ts';
import { startTestServer, ROOT, type TestServer } from './support/server.ts';
import { S3RawClient } from './support/signer.ts';

let server: TestServer;

before(async () => {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs'), '--if-stale'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  assert.equal(built.status, 0, `npm run build:server failed:\n${built.stdout}\n${built.stderr}`);
  server = await startTestServer({ entry: 'dist' });
});
after(() => server?.stop());

/** `npx aerostore …`: bin/aerostore.js, which runs dist/ when it is fresh. */
const aerostore = (args: string[]) => runAerostore(server.dataDir, args, {}, { via: 'bin' });

describe('the compiled server (dist/)', () => {
  it('runs from dist/, not through tsx', () => {
    const args = (server.process.spawnargs ?? []).join(' ');
    assert.match(args, /dist\/main\.js/);
    assert.doesNotMatch(args, /tsx/);
  });

  it('serves a PUT and a GET, small and large (the MD5 worker beside the compiled code)', async () => {
    const s3 = new S3RawClient(server.url, server);
    assert.equal((await s3.send({ method: 'PUT', path: '/compiled' })).status, 200);
    // Above md5-offload's 4 MiB threshold, the ETag's MD5 is hashed by dist/blobs/md5-worker.mjs.
    for (const body of [Buffer.from('hello from dist\n'), randomBytes(5 * 1024 * 1024)]) {
      const put = await s3.send({ method: 'PUT', path: '/compiled/object', body });
      assert.equal(put.status, 200, put.body.toString());
      const got = await s3.send({ method: 'GET', path: '/compiled/object' });
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(body), 'the same bytes back');
    }
  });

  it('npx aerostore --help lists every subcommand main.ts dispatches', async () => {
    const dispatched = [...readFileSync(path.join(ROOT, 'src/main.ts'), 'utf8').matchAll(/process\.argv\[2\] === '(\w+)'/g)].map((m) => m[1]);
    assert.ok(dispatched.length >= 7, `found ${dispatched.join(', ')}`);
    const help = await aerostore(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const name of dispatched) assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'), `--help names ${name}`);
  });

  it('npx aerostore keys list --json prints JSON alone on stdout', async () => {
    const listed = await aerostore(['keys', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(Array.isArray(JSON.parse(listed.stdout)), listed.stdout);
  });
});
