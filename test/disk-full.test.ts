// A full disk: the data directory's blobs, temp and part files on a 16 MiB
// tmpfs (Postgres stays on the normal disk, so only the object store runs
// out). An upload that does not fit is refused with 507 in each protocol's
// own format, leaves no temp file and no object, and the server goes on
// serving what fits. Mounting needs root: elsewhere the suite is skipped,
// and says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { errorCode } from './support/s3-xml.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { S3RawClient, sendRaw } from './support/signer.ts';

const JWT_SECRET = 'd'.repeat(40);
const NO_MOUNT = 'cannot mount a tmpfs here (needs root)';
const MiB = 1024 * 1024;
let dataDir: string;
let mounted = '';
let srv: TestServer | undefined;
let s3: S3RawClient;
let serviceJwt: string;

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-diskfull-'));
  const small = path.join(dataDir, 'small-disk');
  await mkdir(small);
  if (!tryMount(small)) return;
  mounted = small;
  // blobs, tmp and parts must share one filesystem (link() and rename() between them).
  for (const name of ['blobs', 'tmp', 'parts']) {
    await mkdir(path.join(small, name));
    await symlink(path.join(small, name), path.join(dataDir, name));
  }
  srv = await startTestServer({ dataDir, env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
  s3 = new S3RawClient(srv.url, srv);
  assert.equal((await s3.send({ method: 'PUT', path: '/full' })).status, 200);
  serviceJwt = await new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));
});

after(async () => {
  await srv?.stop();
  if (mounted) execFileSync('umount', [mounted]);
  await rm(dataDir, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('an upload that fits is stored (control)', async (t) => {
    if (!srv) return t.skip(NO_MOUNT);
    const res = await s3.send({ method: 'PUT', path: '/full/fits', body: randomBytes(4 * MiB) });
    assert.equal(res.status, 200, res.body.toString());
  });

  it('S3 PUT and /storage/v1 upload past the free space: 507, nothing stored, no temp file', async (t) => {
    if (!srv) return t.skip(NO_MOUNT);
    const put = await s3.send({ method: 'PUT', path: '/full/too-big', body: randomBytes(20 * MiB) });
    assert.equal(put.status, 507, put.body.toString());
    assert.equal(errorCode(put.body), 'InsufficientStorage');
    const base = new URL(srv.url);
    const body = randomBytes(20 * MiB);
    const headers = { host: base.host, authorization: `Bearer ${serviceJwt}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
    const up = await sendRaw(base, 'POST', '/storage/v1/object/full/too-big-2', headers, body);
    assert.equal(up.status, 507, up.body.toString());
    assert.equal((JSON.parse(up.body.toString()) as { error: string }).error, 'INSUFFICIENT_STORAGE');
    assert.deepEqual(await readdir(path.join(dataDir, 'tmp')), []);
    for (const key of ['too-big', 'too-big-2']) assert.equal((await s3.send({ method: 'HEAD', path: `/full/${key}` })).status, 404, key);
  });

  it('afterwards, what fits is stored and read back', async (t) => {
    if (!srv) return t.skip(NO_MOUNT);
    const body = randomBytes(1 * MiB);
    assert.equal((await s3.send({ method: 'PUT', path: '/full/after', body })).status, 200);
    const got = await s3.send({ method: 'GET', path: '/full/after' });
    assert.ok(got.body.equals(body));
    assert.equal((await s3.send({ method: 'GET', path: '/full/fits' })).body.length, 4 * MiB);
  });
});
