// Virus scanning and quarantine against a real clamd (test/support/clamd.ts)
// and real server processes: EICAR arriving by S3 PUT, S3 multipart and
// /storage/v1 is found and quarantined on every read path, for every
// principal; verdicts are per content (deduplicated content is scanned once);
// a clamd outage leaves content pending and is drained when clamd is back;
// AEROSTORE_BLOCK_UNTIL_SCANNED; health without a scanner.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { runScanCli } from '../src/cli/scan.ts';
import { EICAR, EICAR_SIGNATURE, startTestClamd, type TestClamd } from './support/clamd.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { presign } from './support/principals.ts';
import { errorCode, xmlValue } from './support/s3-xml.ts';
import { encodeKey, S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'scanning-test-secret-0123456789abcdef';
const OWNER = randomUUID();
const MiB = 1024 * 1024;

let clamd: TestClamd;
/** A clamd that is down when the block-until-scanned server starts. */
let lateClamd: TestClamd;
let srv: TestServer;
let blocking: TestServer;
let unscanned: TestServer;
let root: S3RawClient;
let db: postgres.Sql;
let asOwner: StorageClient;
let ownerToken: string;
let serviceToken: string;

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}
const objectPath = (bucket: string, key: string) => `/${bucket}/${encodeKey(key)}`;

before(async () => {
  // lateClamd's limits are small: beyond MaxFileSize, content is reported, not scanned.
  [clamd, lateClamd] = await Promise.all([startTestClamd(), startTestClamd({ limits: { stream: '8M', file: '1M' } })]);
  await lateClamd.kill();
  const env = { AEROSTORE_JWT_SECRET: SECRET };
  [srv, blocking, unscanned] = await Promise.all([
    startTestServer({ env: { ...env, AEROSTORE_CLAMD: clamd.tcp } }),
    startTestServer({
      env: { ...env, AEROSTORE_CLAMD: lateClamd.socket, AEROSTORE_BLOCK_UNTIL_SCANNED: 'true', AEROSTORE_SCAN_MAX_SIZE: String(4 * MiB) },
    }),
    // The option means nothing without a scanner.
    startTestServer({ env: { ...env, AEROSTORE_BLOCK_UNTIL_SCANNED: 'true' } }),
  ]);
  root = new S3RawClient(srv.url, srv);
  db = postgres(await embeddedDatabaseUrl(srv.dataDir), { max: 2, onnotice: () => {} });
  ownerToken = await jwt({ sub: OWNER, role: 'authenticated' });
  serviceToken = await jwt({ role: 'service_role' });
  asOwner = new StorageClient(`${srv.url}/storage/v1`, { apikey: ownerToken, Authorization: `Bearer ${ownerToken}` });
  assert.equal((await asOwner.createBucket('files', { public: true })).error, null);
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(srv?.log());
  await db?.end();
  await Promise.all([srv?.stop(), blocking?.stop(), unscanned?.stop()]);
  await Promise.all([clamd?.stop(), lateClamd?.stop()]);
});

/** The object's own scan state, and its content's verdict details. */
type BlobVerdict = { scan_status: string; scan_signature: string | null; scan_note: string | null; scanned_at: Date | null };

async function verdictOf(key: string, database = db): Promise<BlobVerdict> {
  const [row] = await database<BlobVerdict[]>`
    select o.scan_status, b.scan_signature, b.scan_note, b.scanned_at from storage.objects o
    join storage.buckets k on k.id = o.bucket_uuid
    join storage.blobs b on b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
    where k.name = 'files' and o.key = ${key}`;
  assert.ok(row, `no object files/${key}`);
  return row;
}

/** Polls until every key has a verdict other than pending (bounded). */
async function settled(keys: string[], database = db, timeoutMs = 20_000): Promise<Record<string, BlobVerdict>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const verdicts = Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await verdictOf(k, database)] as const)));
    if (Object.values(verdicts).every((v) => v.scan_status !== 'pending')) return verdicts;
    if (Date.now() > deadline) assert.fail(`still pending after ${timeoutMs} ms: ${JSON.stringify(verdicts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ok(res: Promise<{ status: number; body: Buffer }>) {
  const r = await res;
  assert.equal(r.status, 200, r.body.toString());
  return r;
}

async function multipartUpload(client: S3RawClient, bucket: string, key: string, parts: Buffer[]): Promise<void> {
  const init = await ok(client.send({ method: 'POST', path: objectPath(bucket, key), query: { uploads: '' } }));
  const uploadId = xmlValue(init.body.toString(), 'UploadId')!;
  const etags: string[] = [];
  for (const [i, body] of parts.entries()) {
    const res = await client.send({ method: 'PUT', path: objectPath(bucket, key), query: { partNumber: String(i + 1), uploadId }, body });
    assert.equal(res.status, 200, res.body.toString());
    etags.push(String(res.headers.etag));
  }
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  await ok(client.send({ method: 'POST', path: objectPath(bucket, key), query: { uploadId }, body: xml }));
}

/** The /storage/v1 JSON error of a response. */
async function apiError(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: string }).error];
}

describe('virus scanning with clamd', () => {
  const infected = ['put/eicar.txt', 'multipart/eicar.bin', 'native/eicar.txt'];

  before(async () => {
    await ok(root.send({ method: 'PUT', path: objectPath('files', infected[0]), body: EICAR }));
    // Three different contents (three scans), EICAR somewhere in each.
    await multipartUpload(root, 'files', infected[1], [randomBytes(5 * MiB), Buffer.concat([Buffer.from('tail '), EICAR])]);
    const up = await asOwner.from('files').upload(infected[2], Buffer.concat([Buffer.from('prefix '), EICAR]), { contentType: 'text/plain' });
    assert.equal(up.error, null, String(up.error));
  });

  it('finds EICAR uploaded by S3 PutObject, S3 multipart and /storage/v1', async () => {
    const verdicts = await settled(infected);
    for (const key of infected) {
      assert.equal(verdicts[key].scan_status, 'infected', key);
      assert.equal(verdicts[key].scan_signature, EICAR_SIGNATURE, key);
    }
  });

  it('answers 403 on every S3 read path, to the root key too', async () => {
    for (const key of infected) {
      const path = objectPath('files', key);
      const get = await root.send({ method: 'GET', path });
      assert.equal(get.status, 403, key);
      assert.equal(errorCode(get.body), 'ObjectQuarantined');
      assert.equal((await root.send({ method: 'GET', path, headers: { range: 'bytes=0-9' } })).status, 403);
      assert.equal((await root.send({ method: 'HEAD', path })).status, 403);

      const copy = await root.send({ method: 'PUT', path: objectPath('files', `copies/${key}`), headers: { 'x-amz-copy-source': path } });
      assert.equal(copy.status, 403);
      assert.equal(errorCode(copy.body), 'ObjectQuarantined');

      const init = await ok(root.send({ method: 'POST', path: objectPath('files', 'copies/parts.bin'), query: { uploads: '' } }));
      const uploadId = xmlValue(init.body.toString(), 'UploadId')!;
      const part = await root.send({
        method: 'PUT',
        path: objectPath('files', 'copies/parts.bin'),
        query: { partNumber: '1', uploadId },
        headers: { 'x-amz-copy-source': path },
      });
      assert.equal(part.status, 403);
      assert.equal(errorCode(part.body), 'ObjectQuarantined');

      const presigned = await presign(srv.url, srv, { method: 'GET', path }, { expiresIn: 300 });
      const viaUrl = await fetch(srv.url + presigned.path);
      assert.equal(viaUrl.status, 403);
      assert.equal(errorCode(await viaUrl.text()), 'ObjectQuarantined');
    }
    // Nothing was copied out.
    assert.equal((await root.send({ method: 'HEAD', path: objectPath('files', `copies/${infected[0]}`) })).status, 404);
  });

  it('answers 403 FILE_QUARANTINED on every /storage/v1 read path, to the service role too', async () => {
    const api = `${srv.url}/storage/v1/object`;
    for (const key of infected) {
      const path = `files/${encodeKey(key)}`;
      for (const token of [ownerToken, serviceToken]) {
        const headers = { authorization: `Bearer ${token}` };
        assert.deepEqual(await apiError(await fetch(`${api}/${path}`, { headers })), [403, 'FILE_QUARANTINED']);
        assert.deepEqual(await apiError(await fetch(`${api}/authenticated/${path}`, { headers })), [403, 'FILE_QUARANTINED']);
        assert.equal((await fetch(`${api}/${path}`, { method: 'HEAD', headers })).status, 403);
      }
      assert.deepEqual(await apiError(await fetch(`${api}/public/${path}`)), [403, 'FILE_QUARANTINED']);
      const download = await asOwner.from('files').download(key);
      assert.equal((download.error as { status?: number } | null)?.status, 403);
      const copy = await asOwner.from('files').copy(key, `copies/native-${key}`);
      assert.equal((copy.error as { status?: number } | null)?.status, 403);
      const move = await asOwner.from('files').move(key, `moved/${key}`);
      assert.equal((move.error as { status?: number } | null)?.status, 403);
      // Its metadata is not withheld: it can be inspected and deleted.
      assert.equal((await asOwner.from('files').info(key)).error, null);
    }
  });

  it('withholds what a signed URL handed out earlier points at, once the content there is infected', async () => {
    assert.equal((await asOwner.from('files').upload('signed/report.txt', Buffer.from('harmless'), { contentType: 'text/plain' })).error, null);
    const signed = await asOwner.from('files').createSignedUrl('signed/report.txt', 300);
    assert.equal(signed.error, null);
    assert.equal((await fetch(signed.data!.signedUrl)).status, 200);
    // The content there turns out infected (as a rescan after a signature update would find): the URL serves nothing.
    await db`update storage.objects set scan_status = 'infected' where key = 'signed/report.txt'`;
    assert.deepEqual(await apiError(await fetch(signed.data!.signedUrl)), [403, 'FILE_QUARANTINED']);
    await db`update storage.objects set scan_status = 'clean' where key = 'signed/report.txt'`;
    // Overwritten with content already known to be infected: the URL was signed for other content (404), and once
    // the queue has settled the new object, it is quarantined.
    assert.equal((await asOwner.from('files').update('signed/report.txt', EICAR, { contentType: 'text/plain' })).error, null);
    assert.deepEqual(await apiError(await fetch(signed.data!.signedUrl)), [404, 'FILE_NOT_FOUND']);
    assert.equal((await settled(['signed/report.txt']))['signed/report.txt'].scan_status, 'infected');
    // And no new URL is signed for it.
    const again = await asOwner.from('files').createSignedUrl('signed/report.txt', 300);
    assert.equal((again.error as { status?: number } | null)?.status, 403);
    // Nor in a batch, beside a path that is fine.
    // (Empty: the same content as a later test's, so the verdict counts there stay as they are.)
    await asOwner.from('files').upload('signed/fine.txt', Buffer.alloc(0), { contentType: 'text/plain' });
    const batch = await asOwner.from('files').createSignedUrls(['signed/report.txt', 'signed/fine.txt'], 300);
    assert.deepEqual(batch.data?.map((e) => [e.path, e.signedUrl !== null && e.error === null]), [['signed/report.txt', false], ['signed/fine.txt', true]]);
    // Still pending on content known to be infected: withheld by the batch as by a single download (one rule, core's).
    await db`update storage.objects set scan_status = 'pending' where key = 'signed/report.txt'`;
    const pending = await asOwner.from('files').createSignedUrls(['signed/report.txt', 'signed/fine.txt'], 300);
    assert.deepEqual(pending.data?.map((e) => [e.path, e.signedUrl !== null && e.error === null]), [['signed/report.txt', false], ['signed/fine.txt', true]]);
    assert.equal(((await asOwner.from('files').createSignedUrl('signed/report.txt', 300)).error as { status?: number } | null)?.status, 403);
    await db`update storage.objects set scan_status = 'infected' where key = 'signed/report.txt'`;
  });

  it('lets the service role take the bytes out through the admin API only', async () => {
    const res = await root.send({ method: 'GET', path: `/admin/v1/quarantine/files/${encodeKey(infected[0])}` });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, EICAR);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['x-aerostore-scan-status'], 'infected');
    assert.equal(res.headers['x-aerostore-scan-signature'], EICAR_SIGNATURE);
    const asUser = await fetch(`${srv.url}/admin/v1/quarantine/files/${encodeKey(infected[0])}`, { headers: { authorization: `Bearer ${ownerToken}` } });
    assert.equal(asUser.status, 403);
    assert.equal((await root.send({ method: 'GET', path: '/admin/v1/quarantine/files/no/such/key' })).status, 404);
  });

  it('lists the quarantined objects with their signature to the service role (the console quarantine view)', async () => {
    const res = await root.send({ method: 'GET', path: '/admin/v1/quarantine' });
    assert.equal(res.status, 200);
    const list = JSON.parse(res.body.toString()) as Array<{ bucket: string; key: string; size: number; signature: string | null; last_modified: string }>;
    const mine = list.find((q) => q.bucket === 'files' && q.key === infected[0]);
    assert.ok(mine, `listed: ${JSON.stringify(list)}`);
    assert.equal(mine.signature, EICAR_SIGNATURE);
    assert.equal(mine.size, EICAR.length);
    assert.equal((await root.send({ method: 'GET', path: '/admin/v1/quarantine', query: { limit: '0' } })).status, 400);
    const asUser = await fetch(`${srv.url}/admin/v1/quarantine`, { headers: { authorization: `Bearer ${ownerToken}` } });
    assert.equal(asUser.status, 403);
  });

  it('records storage.object.scanned and storage.object.quarantined events', async () => {
    const events = await db<{ type: string; key: string; owner_id: string | null; payload: Record<string, unknown>; actor: Record<string, unknown> }[]>`
      select type, key, owner_id, payload, actor from storage.events
      where type in ('storage.object.scanned', 'storage.object.quarantined') and key = any(${infected}) order by id`;
    for (const key of infected) {
      const of = events.filter((e) => e.key === key);
      assert.deepEqual(of.map((e) => e.type), ['storage.object.scanned', 'storage.object.quarantined'], key);
      for (const e of of) {
        assert.equal(e.payload.verdict, 'infected');
        assert.equal(e.payload.signature, EICAR_SIGNATURE);
        assert.equal(e.actor.via, 'scanner');
      }
    }
    // The uploader is told: the event is the object owner's.
    assert.equal(events.find((e) => e.key === infected[2])?.owner_id, OWNER);
  });

  it('quarantines a re-upload of known infected content through the same lifecycle as new content, without a new scan', async () => {
    const key = 'again/eicar-copy.txt';
    const scans = (await clamd.scans()).length;
    const up = await asOwner.from('files').upload(key, EICAR, { contentType: 'text/plain' });
    assert.equal(up.error, null, String(up.error));
    // Never served, and until the queue settles it, not scanned yet — as fresh content would be.
    const early = await root.send({ method: 'GET', path: objectPath('files', key) });
    assert.equal(early.status, 403);
    assert.ok(['ObjectNotScanned', 'ObjectQuarantined'].includes(errorCode(early.body) ?? ''), early.body.toString());
    assert.equal((await settled([key]))[key].scan_status, 'infected');
    const get = await root.send({ method: 'GET', path: objectPath('files', key) });
    assert.equal(errorCode(get.body), 'ObjectQuarantined');
    const events = await db<{ type: string; owner_id: string; actor: { via: string }; payload: { signature: string } }[]>`
      select type, owner_id, actor, payload from storage.events
      where type in ('storage.object.scanned', 'storage.object.quarantined') and key = ${key} order by id`;
    assert.deepEqual(events.map((e) => e.type), ['storage.object.scanned', 'storage.object.quarantined']);
    for (const event of events) {
      assert.equal(event.owner_id, OWNER);
      assert.equal(event.actor.via, 'scanner');
      assert.equal(event.payload.signature, EICAR_SIGNATURE);
    }
    // The stored verdict was reused: clamd saw nothing new.
    assert.equal((await clamd.scans()).length, scans);

    // Quarantined objects can still be deleted, over either API.
    await ok(root.send({ method: 'PUT', path: objectPath('files', 'again/delete-me.txt'), body: EICAR }));
    const gone = await fetch(`${srv.url}/storage/v1/object/files/${key}`, { method: 'DELETE', headers: { authorization: `Bearer ${ownerToken}` } });
    assert.equal(gone.status, 200, await gone.text());
    assert.equal((await root.send({ method: 'DELETE', path: objectPath('files', 'again/delete-me.txt') })).status, 204);
    assert.equal((await root.send({ method: 'HEAD', path: objectPath('files', key) })).status, 404);
  });

  it('calls a 20 MiB random file clean, and scans identical content only once', async () => {
    const body = randomBytes(20 * MiB);
    await ok(root.send({ method: 'PUT', path: objectPath('files', 'clean/big.bin'), body }));
    await ok(root.send({ method: 'PUT', path: objectPath('files', 'clean/empty'), body: Buffer.alloc(0) }));
    const { 'clean/big.bin': first, 'clean/empty': empty } = await settled(['clean/big.bin', 'clean/empty']);
    assert.equal(first.scan_status, 'clean');
    assert.equal(first.scan_note, null);
    // Nothing to scan in no bytes.
    assert.deepEqual([empty.scan_status, empty.scan_note], ['clean', 'empty']);
    const scans = (await clamd.scans()).length;

    await ok(root.send({ method: 'PUT', path: objectPath('files', 'clean/big-again.bin'), body }));
    // The copy is a new object: pending like any new upload (served meanwhile: nothing blocks here), then settled
    // with the stored verdict and announced — without sending the bytes to clamd again.
    assert.equal((await verdictOf('clean/big-again.bin')).scan_status, 'pending');
    assert.deepEqual((await ok(root.send({ method: 'GET', path: objectPath('files', 'clean/big-again.bin') }))).body, body);
    const second = (await settled(['clean/big-again.bin']))['clean/big-again.bin'];
    assert.equal(second.scan_status, 'clean');
    assert.deepEqual(second.scanned_at, first.scanned_at);
    const [announced] = await db<{ n: number }[]>`
      select count(*)::int as n from storage.events where type = 'storage.object.scanned' and key = 'clean/big-again.bin'`;
    assert.equal(announced.n, 1);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await clamd.scans()).length, scans);
  });

  it('reports the queue and verdicts, and rescans on request', async () => {
    const status = await ok(root.send({ method: 'GET', path: '/admin/v1/scan/status' }));
    const overview = JSON.parse(status.body.toString());
    // Three EICAR contents, the 20 MiB file (stored once) and the empty one;
    // the harmless content overwritten with EICAR is gone.
    assert.deepEqual(
      Object.fromEntries(Object.entries(overview.verdicts).map(([k, v]) => [k, (v as { blobs: number }).blobs])),
      { pending: 0, clean: 2, infected: 3, unscanned: 0 },
    );
    assert.equal(overview.verdicts.clean.bytes, 20 * MiB);
    assert.equal(overview.queue.jobs, 0);
    // The three uploads and the overwritten signed-URL object (the re-uploads were deleted).
    assert.equal(overview.quarantined_objects, 4);

    const rescan = await ok(root.send({ method: 'POST', path: '/admin/v1/scan/rescan', body: JSON.stringify({ bucket: 'files' }) }));
    assert.deepEqual(JSON.parse(rescan.body.toString()), { queued: 5 });
    // Infected content stays quarantined while it waits for its new verdict.
    assert.equal((await root.send({ method: 'HEAD', path: objectPath('files', infected[0]) })).status, 403);
    const verdicts = await settled(['clean/big.bin', infected[0]]);
    assert.equal(verdicts['clean/big.bin'].scan_status, 'clean');
    assert.equal(verdicts[infected[0]].scan_status, 'infected');
    const missing = await root.send({ method: 'POST', path: '/admin/v1/scan/rescan', body: JSON.stringify({ bucket: 'no-such-bucket' }) });
    assert.equal(missing.status, 404);
  });

  it('keeps content pending while clamd is down, and drains the queue when it is back', async () => {
    await clamd.kill();
    const keys = ['outage/a.bin', 'outage/b.bin', 'outage/c.bin'];
    for (const key of keys) await ok(root.send({ method: 'PUT', path: objectPath('files', key), body: randomBytes(64 * 1024) }));
    await new Promise((r) => setTimeout(r, 1500));
    for (const key of keys) {
      assert.equal((await verdictOf(key)).scan_status, 'pending');
      // Pending content is served (AEROSTORE_BLOCK_UNTIL_SCANNED is off here).
      await ok(root.send({ method: 'GET', path: objectPath('files', key) }));
    }
    const health = (await (await fetch(`${srv.url}/health/ready`)).json()) as Record<string, string>;
    assert.deepEqual(health, { status: 'ok', database: 'ok', data_dir: 'ok', scanner: 'unreachable' });
    const overview = JSON.parse((await ok(root.send({ method: 'GET', path: '/admin/v1/scan/status' }))).body.toString());
    assert.equal(overview.queue.jobs, 3);
    assert.ok(overview.queue.retrying >= 1);
    assert.match(overview.queue.last_error, /ECONNREFUSED/);

    await clamd.restart();
    const verdicts = await settled(keys);
    for (const key of keys) assert.equal(verdicts[key].scan_status, 'clean');
    assert.equal((await (await fetch(`${srv.url}/health/ready`)).json() as Record<string, string>).scanner, 'ok');
  });

  it('releases quarantined content on the service role\'s word, with every object on those bytes, until a rescan asks clamd again', async () => {
    const release = (body: unknown) => root.send({ method: 'POST', path: '/admin/v1/quarantine/release', body: JSON.stringify(body) });
    const codeOf = (res: { body: Buffer }) => (JSON.parse(res.body.toString()) as { error: string }).error;
    const target = { bucket: 'files', key: infected[0] };
    const asUser = await fetch(`${srv.url}/admin/v1/quarantine/release`, {
      method: 'POST', headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' }, body: JSON.stringify(target),
    });
    assert.equal(asUser.status, 403);
    const notQuarantined = await release({ bucket: 'files', key: 'clean/big.bin' });
    assert.deepEqual([notQuarantined.status, codeOf(notQuarantined)], [409, 'NotQuarantined']);
    const missing = await release({ bucket: 'files', key: 'no/such/key' });
    assert.deepEqual([missing.status, codeOf(missing)], [404, 'NoSuchKey']);
    assert.equal((await release({ bucket: 'files' })).status, 400);
    assert.equal((await root.send({ method: 'GET', path: objectPath('files', infected[0]) })).status, 403, 'still quarantined');

    const res = await ok(release(target));
    // The verdict is the content's: the other object on the same bytes (the signed-URL test's, overwritten with EICAR) is released too.
    assert.deepEqual(JSON.parse(res.body.toString()), { released: [infected[0], 'signed/report.txt'] });
    assert.deepEqual((await ok(root.send({ method: 'GET', path: objectPath('files', infected[0]) }))).body, EICAR);
    assert.equal((await asOwner.from('files').download('signed/report.txt')).error, null);
    // Other infected content stays quarantined.
    assert.equal((await root.send({ method: 'HEAD', path: objectPath('files', infected[1]) })).status, 403);
    const verdict = await verdictOf(infected[0]);
    assert.equal(verdict.scan_status, 'clean');
    assert.equal(verdict.scan_note, `released by an operator (clamd had found ${EICAR_SIGNATURE})`);
    const listed = JSON.parse((await ok(root.send({ method: 'GET', path: '/admin/v1/quarantine' }))).body.toString()) as Array<{ key: string }>;
    assert.ok(!listed.some((q) => q.key === infected[0]), 'no longer listed');
    // Announced like a scanner's verdict, naming the operator as the actor.
    const [event] = await db<{ payload: Record<string, unknown>; actor: Record<string, unknown> }[]>`
      select payload, actor from storage.events where type = 'storage.object.scanned' and key = ${infected[0]} order by id desc limit 1`;
    assert.deepEqual([event.payload.verdict, event.payload.engine], ['clean', 'operator']);
    assert.deepEqual([event.actor.via, event.actor.role], ['access-key', 'service'], JSON.stringify(event.actor));
    assert.equal((await release(target)).status, 409, 'released once');

    // A release is a verdict like clamd's: a rescan asks clamd again, which finds EICAR again.
    await ok(root.send({ method: 'POST', path: '/admin/v1/scan/rescan', body: JSON.stringify({ bucket: 'files' }) }));
    assert.equal((await settled([infected[0]]))[infected[0]].scan_status, 'infected');
    assert.equal((await root.send({ method: 'GET', path: objectPath('files', infected[0]) })).status, 403);
  });
});

describe('AEROSTORE_BLOCK_UNTIL_SCANNED, and limits', () => {
  let s3: S3RawClient;
  let blockingDb: postgres.Sql;
  before(async () => {
    s3 = new S3RawClient(blocking.url, blocking);
    blockingDb = postgres(await embeddedDatabaseUrl(blocking.dataDir), { max: 1, onnotice: () => {} });
    await ok(s3.send({ method: 'PUT', path: '/files' }));
  });
  after(() => blockingDb?.end());

  it('refuses content not scanned yet, over S3 and /storage/v1, until its verdict', async () => {
    await ok(s3.send({ method: 'PUT', path: '/files/waiting.txt', body: Buffer.from('not scanned yet') }));
    // Its clamd is down: the verdict cannot come yet.
    const get = await s3.send({ method: 'GET', path: '/files/waiting.txt' });
    assert.equal(get.status, 403);
    assert.equal(errorCode(get.body), 'ObjectNotScanned');
    const native = await fetch(`${blocking.url}/storage/v1/object/files/waiting.txt`, {
      headers: { authorization: `Bearer ${await jwt({ role: 'service_role' })}` },
    });
    assert.deepEqual(await apiError(native), [403, 'FILE_NOT_SCANNED']);

    await lateClamd.restart();
    assert.equal((await settled(['waiting.txt'], blockingDb))['waiting.txt'].scan_status, 'clean');
    assert.equal((await ok(s3.send({ method: 'GET', path: '/files/waiting.txt' }))).body.toString(), 'not scanned yet');
  });

  it('calls content beyond clamd\'s limits, or AEROSTORE_SCAN_MAX_SIZE, unscanned: never clean, and served', async () => {
    const scans = (await lateClamd.scans()).length;
    // Beyond clamd's MaxFileSize (1M): AlertExceedsMax reports it, EICAR or not.
    await ok(s3.send({ method: 'PUT', path: '/files/over-clamd.bin', body: Buffer.concat([EICAR, randomBytes(2 * MiB)]) }));
    // Beyond AEROSTORE_SCAN_MAX_SIZE (4 MiB): not even sent.
    await ok(s3.send({ method: 'PUT', path: '/files/over-ours.bin', body: randomBytes(5 * MiB) }));
    const verdicts = await settled(['over-clamd.bin', 'over-ours.bin'], blockingDb);
    for (const v of Object.values(verdicts)) {
      assert.equal(v.scan_status, 'unscanned');
      assert.equal(v.scan_note, 'too large');
    }
    assert.equal((await lateClamd.scans()).length, scans + 1);
    // Only pending content is withheld in this mode.
    assert.equal((await s3.send({ method: 'HEAD', path: '/files/over-ours.bin' })).status, 200);
  });
});

describe('without AEROSTORE_CLAMD', () => {
  it('reports scanning off, and serves content as it comes', async () => {
    const health = (await (await fetch(`${unscanned.url}/health/ready`)).json()) as Record<string, string>;
    assert.deepEqual(health, { status: 'ok', database: 'ok', data_dir: 'ok', scanner: 'off' });
    const s3 = new S3RawClient(unscanned.url, unscanned);
    await ok(s3.send({ method: 'PUT', path: '/files' }));
    await ok(s3.send({ method: 'PUT', path: '/files/eicar.txt', body: EICAR }));
    assert.deepEqual((await ok(s3.send({ method: 'GET', path: '/files/eicar.txt' }))).body, EICAR);
  });

  it('keeps the jobs for a scanner to come, as `aerostore scan` shows', async () => {
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runScanCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env: { AEROSTORE_DATA_DIR: unscanned.dataDir } });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const status = await cli('status', '--json');
    assert.equal(status.code, 0, status.err);
    const overview = JSON.parse(status.out);
    assert.equal(overview.queue.jobs, 1);
    assert.deepEqual(overview.verdicts.pending, { blobs: 1, bytes: EICAR.length });
    assert.deepEqual(await cli('rescan', '--bucket', 'files'), { code: 0, out: 'queued 1 blob(s) for a new scan in bucket files', err: '' });
    assert.equal((await cli('rescan', '--bucket', 'nope')).code, 1);
    assert.equal((await cli('rescan', '--json')).code, 2);
  });
});
