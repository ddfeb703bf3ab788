// Deduplication plus scanning must not tell a member what others stored
// (docs/security.md "Scanning and deduplication"). A member of a shared
// bucket uploads two guesses at another user's file, one right, one wrong:
// with AEROSTORE_BLOCK_UNTIL_SCANNED both are refused until scanned, both go
// through the same states and both are announced once. Before, the right
// guess landed on content already scanned and was readable at once, with no
// storage.object.scanned event.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { embeddedDatabaseUrl } from '../support/database.ts';
import { createAccessKey, credentialsOf, setBucketSettings } from '../support/principals.ts';
import { errorCode } from '../support/s3-xml.ts';
import { S3RawClient } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let clamd: TestClamd;
let srv: TestServer;
let db: postgres.Sql;
let owner: S3RawClient;
let member: S3RawClient;
const OWNER = randomUUID();
const MEMBER = randomUUID();

before(async () => {
  clamd = await startTestClamd();
  srv = await startTestServer({ env: { AEROSTORE_CLAMD: clamd.tcp, AEROSTORE_BLOCK_UNTIL_SCANNED: 'true' } });
  db = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 1, onnotice: () => {} });
  const root = new S3RawClient(srv.url, srv);
  owner = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, OWNER)));
  member = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, MEMBER)));
  assert.equal((await owner.send({ method: 'PUT', path: '/payroll' })).status, 200);
  await setBucketSettings(root, 'payroll', { member_writes: true });
});

after(async () => {
  await db?.end();
  await srv?.stop();
  await clamd?.stop();
});

async function stateOf(key: string): Promise<string> {
  const [row] = await db<{ scan_status: string }[]>`select scan_status from storage.objects where key = ${key}`;
  return row.scan_status;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('deduplication and scanning', () => {
  it('treats a guess that matches stored content exactly like one that does not', async () => {
    assert.equal((await owner.send({ method: 'PUT', path: '/payroll/alice.txt', body: 'salary=123456' })).status, 200);
    await until('the owner’s file to be scanned', async () => (await stateOf('alice.txt')) === 'clean');

    // clamd goes away and the worker notices (a scan fails): from then on nothing is settled, so the
    // states below are not a race against the queue.
    await clamd.kill();
    assert.equal((await member.send({ method: 'PUT', path: '/payroll/canary.txt', body: randomUUID() })).status, 200);
    await until('a failed scan', async () => {
      const [job] = await db<{ attempts: number }[]>`select max(attempts)::int as attempts from storage.scan_jobs`;
      return (job?.attempts ?? 0) > 0;
    });

    const guesses = { 'guess-right.txt': 'salary=123456', 'guess-wrong.txt': 'salary=654321' };
    for (const [key, body] of Object.entries(guesses)) {
      assert.equal((await member.send({ method: 'PUT', path: `/payroll/${key}`, body })).status, 200);
    }
    await new Promise((r) => setTimeout(r, 1500));
    for (const key of Object.keys(guesses)) {
      const get = await member.send({ method: 'GET', path: `/payroll/${key}` });
      assert.deepEqual([key, get.status, errorCode(get.body)], [key, 403, 'ObjectNotScanned']);
      assert.equal(await stateOf(key), 'pending', key);
    }

    await clamd.restart();
    for (const key of Object.keys(guesses)) await until(`${key} to be settled`, async () => (await stateOf(key)) === 'clean');
    for (const [key, body] of Object.entries(guesses)) {
      const get = await member.send({ method: 'GET', path: `/payroll/${key}` });
      assert.equal(get.body.toString(), body);
      const events = await db<{ type: string; owner_id: string }[]>`
        select type, owner_id from storage.events where key = ${key} and type like 'storage.object.%' order by id`;
      assert.deepEqual(events.map((e) => [e.type, e.owner_id]), [
        ['storage.object.created', MEMBER],
        ['storage.object.scanned', MEMBER],
      ]);
    }
  });
});
