// Start, stop and restart: generated credentials persist, data survives a
// graceful restart, SIGTERM lets an in-flight upload finish, and a server
// killed with SIGKILL (leaving its Postgres running) starts again.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { ROOT, startTestServer } from './support/server.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-life-'));
  await chmod(dir, 0o755);
  dirs.push(dir);
  return dir;
}

describe('server lifecycle', () => {
  it('generates root credentials once, prints them, and keeps them across restarts', async () => {
    const dataDir = await freshDataDir();
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env, AEROSTORE_DATA_DIR: dataDir, AEROSTORE_PORT: '0' };
        delete env.AEROSTORE_ROOT_ACCESS_KEY;
        delete env.AEROSTORE_ROOT_SECRET_KEY;
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/aws --endpoint-url \S+ s3 ls/.test(out)) child.kill('SIGTERM');
        });
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
      });
    const first = await run();
    const saved = JSON.parse(await readFile(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    assert.match(first, new RegExp(`access key: ${saved.accessKeyId}`));
    assert.match(first, new RegExp(`secret key: ${saved.secretAccessKey}`));
    assert.match(first, /generated now/);
    const second = await run();
    assert.match(second, new RegExp(`access key: ${saved.accessKeyId}`));
    assert.doesNotMatch(second, /generated now/);
  });

  it('keeps objects across a restart and finishes an in-flight upload on SIGTERM', async () => {
    const dataDir = await freshDataDir();
    const server = await startTestServer({ dataDir });
    const s3 = new S3RawClient(server.url, server);
    assert.equal((await s3.send({ method: 'PUT', path: '/keep' })).status, 200);
    const kept = randomBytes(100_000);
    assert.equal((await s3.send({ method: 'PUT', path: '/keep/a', body: kept })).status, 200);

    // Start a slow upload, then ask the server to stop while it is in flight.
    const slow = randomBytes(2 * 1024 * 1024);
    const body = new PassThrough();
    const upload = s3.send({
      method: 'PUT',
      path: '/keep/slow',
      body,
      headers: { 'content-length': String(slow.length) },
    });
    body.write(slow.subarray(0, 1024 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((r) => server.process.once('exit', r));
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    body.end(slow.subarray(1024 * 1024));
    const res = await upload;
    assert.equal(res.status, 200, 'the in-flight upload completes during shutdown');
    assert.equal(await exited, 0);

    const again = await startTestServer({ dataDir });
    try {
      const s3b = new S3RawClient(again.url, again);
      const a = await s3b.send({ method: 'GET', path: '/keep/a' });
      assert.ok(a.body.equals(kept));
      const b = await s3b.send({ method: 'GET', path: '/keep/slow' });
      assert.ok(b.body.equals(slow));
    } finally {
      await again.stop();
    }
  });

  it('starts again after SIGKILL left its Postgres running', async () => {
    const dataDir = await freshDataDir();
    const server = await startTestServer({ dataDir });
    const s3 = new S3RawClient(server.url, server);
    assert.equal((await s3.send({ method: 'PUT', path: '/crash' })).status, 200);
    assert.equal((await s3.send({ method: 'PUT', path: '/crash/acked', body: 'acknowledged' })).status, 200);
    const exited = new Promise((r) => server.process.once('exit', r));
    server.process.kill('SIGKILL');
    await exited;
    const again = await startTestServer({ dataDir });
    try {
      const got = await new S3RawClient(again.url, again).send({ method: 'GET', path: '/crash/acked' });
      assert.equal(got.status, 200);
      assert.equal(got.body.toString(), 'acknowledged');
    } finally {
      await again.stop();
    }
  });
});
