// The audit trail against a real Postgres and blob directory, without a
// server: uploads and deletions recorded in their own transaction (and not
// when refused), downloads only once the download log flushes, the query's
// filters, pages and row-level security, pruning, and the query's parsing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { body, domainError, openTestStorage, user, type TestStorage } from '../../test/support/core-storage.ts';
import { deleteObject } from '../core/delete-objects.ts';
import { findObject, putObject } from '../core/objects.ts';
import { SERVICE } from '../db/session.ts';
import { actingFrom, ANONYMOUS, type Principal } from '../principals/principal.ts';
import { InvalidAuditQuery, parseAuditQuery, parseAuditTime, queryAudit, type AuditQuery, type AuditRecord } from './audit.ts';
import { pruneAudit } from './retention.ts';

let t: TestStorage;
const owner = actingFrom({ ...user(), accessKeyId: 'AKOWNERKEY00000000001' }, '192.0.2.10');
const member = actingFrom(user(), '2001:db8::7');
const stranger = user();

before(async () => {
  t = await openTestStorage();
});
after(async () => {
  await t?.close();
});

const put = (bucket: string, key: string, content: string, principal: Principal) =>
  putObject(t.storage, { bucket, key, body: body(content), headers: { userMetadata: {} }, principal });

type Row = { action: string; key: string; actor: Record<string, unknown>; address: string | null; owner_id: string | null; bucket_owner_id: string | null };

/** The bucket's records as they are (past RLS), oldest first. */
async function records(bucketId: string): Promise<Row[]> {
  return [
    ...(await t.admin<Row[]>`
      select action, key, actor, host(address) as address, owner_id, bucket_owner_id
      from storage.audit_log where bucket_id = ${bucketId} order by id`),
  ];
}

const userIdOf = (p: Principal) => (p.kind === 'user' ? p.userId : null);
const keysOf = (page: { records: AuditRecord[] }) => page.records.map((r) => `${r.action} ${r.key}`);

describe('events/audit: the audit trail', () => {
  it('records an upload and a deletion in their own transactions, with who and from where', async () => {
    const b = await t.newBucket(owner, 'private', { memberWrites: true });
    await put(b.name, 'docs/a.txt', 'first', owner);
    await put(b.name, 'docs/a.txt', 'second', owner);
    await put(b.name, 'docs/m.txt', 'by a member', member);
    assert.equal((await deleteObject(t.storage, b.name, 'docs/a.txt', owner)).existed, true);

    const rows = await records(b.id);
    assert.deepEqual(
      rows.map((r) => `${r.action} ${r.key} ${r.address}`),
      ['upload docs/a.txt 192.0.2.10', 'upload docs/a.txt 192.0.2.10', 'upload docs/m.txt 2001:db8::7', 'delete docs/a.txt 192.0.2.10'],
    );
    assert.deepEqual(rows[0].actor, { kind: 'user', via: 'access-key', user_id: userIdOf(owner), role: 'authenticated', access_key_id: 'AKOWNERKEY00000000001' });
    // The member's object in the owner's bucket: both are parties to it.
    assert.equal(rows[2].owner_id, userIdOf(member));
    assert.equal(rows[2].bucket_owner_id, userIdOf(owner));
    const [replaced] = await t.admin<{ size: number; sha256: string; detail: Record<string, unknown> }[]>`
      select size, sha256, detail from storage.audit_log where bucket_id = ${b.id} order by id offset 1 limit 1`;
    assert.equal(Number(replaced.size), 'second'.length);
    assert.equal(replaced.detail.replaced, true);
  });

  it('records nothing for a write that RLS refused, nor for work without a client address', async () => {
    const b = await t.newBucket(owner);
    await assert.rejects(put(b.name, 'x', 'not yours', stranger), domainError('AccessDenied'));
    assert.deepEqual(await records(b.id), []);
    await put(b.name, 'service', 'no client', SERVICE);
    const [row] = await records(b.id);
    assert.equal(row.address, null);
    assert.equal(row.actor.role, 'service');
  });

  it('writes downloads only when the download log flushes: a GET never waits for its record', async () => {
    const quiet = await t.newBucket(owner, 'public');
    const announced = await t.newBucket(owner, 'public', { downloadEvents: true });
    await put(quiet.name, 'k', 'quiet', owner);
    await put(announced.name, 'k', 'announced', owner);
    const reader = actingFrom(ANONYMOUS, '198.51.100.1');
    for (const bucket of [quiet, announced]) {
      const found = await findObject(t.storage, bucket.name, 'k', reader);
      t.storage.downloads.record(found.bucket, found.object, reader, '0-1');
    }
    // Recording only buffered: nothing has reached the database.
    const downloads = async () =>
      (await t.admin<{ bucket: string; address: string }[]>`
        select bucket, host(address) as address from storage.audit_log
        where action = 'download' and bucket in (${quiet.name}, ${announced.name}) order by id`).map((r) => `${r.bucket} ${r.address}`);
    assert.deepEqual(await downloads(), []);
    await t.storage.downloads.flush();
    assert.deepEqual(await downloads(), [`${quiet.name} 198.51.100.1`, `${announced.name} 198.51.100.1`]);
    const [range] = await t.admin`select detail from storage.audit_log where action = 'download' and bucket = ${quiet.name}`;
    assert.deepEqual(range.detail, { range: '0-1' });
    // Every download is audited; only the bucket that asks for them has download events.
    const events = await t.admin`
      select bucket from storage.events where type = 'storage.object.downloaded' and bucket in (${quiet.name}, ${announced.name})`;
    assert.deepEqual(events.map((e) => e.bucket), [announced.name]);
  });

  describe('queryAudit', () => {
    let bucket: string;
    let since: Date;
    const query = (q: AuditQuery, as: Principal = SERVICE) => queryAudit(t.storage.sql, as, { bucket, ...q });

    before(async () => {
      const b = await t.newBucket(owner, 'private', { memberWrites: true });
      bucket = b.name;
      since = new Date();
      await put(bucket, 'logs/1', 'one', owner);
      await put(bucket, 'logs/2', 'two', member);
      await put(bucket, 'other', 'three', owner);
      assert.equal((await deleteObject(t.storage, bucket, 'logs/1', owner)).existed, true);
    });

    it('filters by actor (user id, access key id), key prefix, action and time', async () => {
      assert.deepEqual(keysOf(await query({})), ['delete logs/1', 'upload other', 'upload logs/2', 'upload logs/1']);
      assert.deepEqual(keysOf(await query({ actor: userIdOf(member)! })), ['upload logs/2']);
      assert.deepEqual(keysOf(await query({ actor: 'AKOWNERKEY00000000001' })), ['delete logs/1', 'upload other', 'upload logs/1']);
      assert.deepEqual(keysOf(await query({ actor: 'anonymous' })), []);
      assert.deepEqual(keysOf(await query({ prefix: 'logs/' })), ['delete logs/1', 'upload logs/2', 'upload logs/1']);
      assert.deepEqual(keysOf(await query({ prefix: 'logs/', action: 'upload' })), ['upload logs/2', 'upload logs/1']);
      assert.deepEqual(keysOf(await query({ until: since })), []);
      assert.equal((await query({ since })).records.length, 4);
      assert.deepEqual(keysOf(await query({ bucket: 'no-such-bucket' })), []);
    });

    it('pages newest first; each cursor continues where the page ended', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await query({ limit: 3, cursor });
        seen.push(...keysOf(page));
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor);
      assert.equal(pages, 2);
      assert.deepEqual(seen, keysOf(await query({})));
    });

    it('shows a user what RLS lets it see: its own actions, and those on its objects and in its buckets', async () => {
      // The member: its own upload only (the bucket and the other objects are the owner's).
      assert.deepEqual(keysOf(await query({}, member)), ['upload logs/2']);
      // The bucket's owner: everything in it, the member's upload included.
      assert.equal((await query({}, owner)).records.length, 4);
      assert.deepEqual(keysOf(await query({}, stranger)), []);
      await assert.rejects(query({}, ANONYMOUS), /permission denied/);
    });
  });

  it('pruneAudit removes records older than the retention, and only those', async () => {
    const b = await t.newBucket(owner);
    await put(b.name, 'old', 'old', owner);
    await put(b.name, 'young', 'young', owner);
    await t.admin`update storage.audit_log set at = now() - interval '400 days' where bucket_id = ${b.id} and key = 'old'`;
    assert.ok((await pruneAudit(t.storage.sql, 365)) >= 1);
    assert.deepEqual((await records(b.id)).map((r) => r.key), ['young']);
  });

  it('parses a query from strings, refusing what it cannot read', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    assert.equal(parseAuditTime('24h', now).toISOString(), '2026-12-06T12:00:00.000Z');
    assert.equal(parseAuditTime('7d', now).toISOString(), '2026-11-30T12:00:00.000Z');
    assert.equal(parseAuditTime('2026-12-01T08:30:00Z').toISOString(), '2026-12-01T08:30:00.000Z');
    assert.deepEqual(parseAuditQuery({ actor: 'AK1', action: 'delete', limit: '10', bucket: '' }), { actor: 'AK1', action: 'delete', limit: 10 });
    for (const bad of [{ since: 'yesterday' }, { action: 'copy' }, { limit: '0' }, { limit: '1001' }, { cursor: 'nope' }, { colour: 'red' }]) {
      assert.throws(() => parseAuditQuery(bad), InvalidAuditQuery, JSON.stringify(bad));
    }
  });
});
