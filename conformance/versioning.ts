// Object versioning through real clients (issue 18 §1): aws-cli v2's s3api
// versioning commands — enable, overwrite, delete (a marker), list the
// versions, get a previous version by id, restore it by copying it over the
// key and by deleting the delete marker, and a bucket that keeps versions
// refusing DeleteBucket until they are gone — and rclone 1.60's
// `backend versioning`, `lsl --s3-versions` (old versions shown as
// name-vYYYY-MM-DD-HHMMSS-mmm.ext) and `cat --s3-version-at`, which reads
// ListObjectVersions and GETs the version current at a time.
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  assert,
  assertEqual,
  clientEnv,
  run,
  runFails,
  runOk,
  sha256,
  writeAwsConfig,
  writeFileDeep,
  writeRcloneConfig,
  type Scenario,
} from './lib.ts';

const AWS = '/usr/bin/aws';
const RCLONE = 'rclone';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface VersionEntry {
  Key: string;
  VersionId: string;
  IsLatest: boolean;
  ETag?: string;
  Size?: number;
}

/** "key v|m versionId [latest]" lines of list-object-versions output, newest first per key. */
function versionLines(out: { Versions?: VersionEntry[]; DeleteMarkers?: VersionEntry[] }): string[] {
  // The CLI splits S3's interleaved entries into two arrays; the order of
  // each array is S3's, so merging needs no more than the known history.
  const all = [...(out.Versions ?? []).map((v) => ({ ...v, kind: 'v' })), ...(out.DeleteMarkers ?? []).map((m) => ({ ...m, kind: 'm' }))];
  return all.map((e) => `${e.Key} ${e.kind} ${e.VersionId}${e.IsLatest ? ' latest' : ''}`).sort();
}

export const awsCliVersioningScenario: Scenario = {
  name: 'aws-cli-versioning',
  async unavailable() {
    return access(AWS).then(
      () => undefined,
      () => `${AWS} is missing: apt-get install -y awscli`,
    );
  },
  async run(ctx) {
    const { bucket, work, server } = ctx;
    const env = clientEnv(path.join(work, 'home'), await writeAwsConfig(work, server));
    const aws = (...args: string[]) => runOk(AWS, ['--endpoint-url', server.url, ...args], { env, cwd: work });
    const awsFails = (...args: string[]) => runFails(AWS, ['--endpoint-url', server.url, ...args], { env, cwd: work });
    const json = async (...args: string[]) => {
      const r = await aws(...args);
      return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as Record<string, any>;
    };
    const key = 'docs/report.txt';
    const first = path.join(work, 'first.txt');
    const second = path.join(work, 'second.txt');
    await writeFile(first, 'the first draft of the report\n');
    await writeFile(second, 'the second, rewritten report — longer than the first\n');
    const download = async (...extra: string[]) => {
      const out = path.join(work, 'download.out');
      const r = await json('s3api', 'get-object', '--bucket', bucket, '--key', key, ...extra, out);
      const body = await readFile(out, 'utf8');
      await rm(out);
      return { body, response: r };
    };

    await ctx.step('aws s3 mb; get-bucket-versioning of a new bucket has no Status', async () => {
      await aws('s3', 'mb', `s3://${bucket}`);
      const r = await json('s3api', 'get-bucket-versioning', '--bucket', bucket);
      assertEqual(r.Status, undefined, 'Status of a bucket never versioned');
    });

    await ctx.step('aws s3api put-bucket-versioning Status=Enabled; get-bucket-versioning says Enabled', async () => {
      await aws('s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled');
      const r = await json('s3api', 'get-bucket-versioning', '--bucket', bucket);
      assertEqual(r.Status, 'Enabled', 'Status');
    });

    const ids = await ctx.step('aws s3api put-object twice (an overwrite): two distinct VersionIds', async () => {
      const a = await json('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', first);
      const b = await json('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', second);
      assert(typeof a.VersionId === 'string' && a.VersionId !== 'null', `VersionId of the first put: ${JSON.stringify(a)}`);
      assert(typeof b.VersionId === 'string' && b.VersionId !== a.VersionId, `VersionId of the overwrite: ${JSON.stringify(b)}`);
      const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', key);
      assertEqual(h.VersionId, b.VersionId, 'head-object VersionId');
      return { first: a.VersionId as string, second: b.VersionId as string };
    });

    const marker = await ctx.step('aws s3api delete-object: a delete marker; head-object then 404', async () => {
      const r = await json('s3api', 'delete-object', '--bucket', bucket, '--key', key);
      assertEqual(r.DeleteMarker, true, 'DeleteMarker');
      assert(typeof r.VersionId === 'string' && r.VersionId !== ids.second, `the marker's VersionId: ${JSON.stringify(r)}`);
      const h = await awsFails('s3api', 'head-object', '--bucket', bucket, '--key', key);
      assert(/\(404\)|Not Found/.test(h.stderr), `expected 404 after the delete, got: ${h.stderr}`);
      const listed = await json('s3api', 'list-objects-v2', '--bucket', bucket);
      assertEqual(listed.Contents ?? [], [], 'list-objects-v2 after the delete');
      return r.VersionId as string;
    });

    await ctx.step('aws s3api list-object-versions: both versions and the marker, the marker latest', async () => {
      const r = await json('s3api', 'list-object-versions', '--bucket', bucket);
      assertEqual(
        versionLines(r),
        [`${key} m ${marker} latest`, `${key} v ${ids.first}`, `${key} v ${ids.second}`].sort(),
        'versions and delete markers',
      );
      const sizes = Object.fromEntries((r.Versions ?? []).map((v: VersionEntry) => [v.VersionId, v.Size]));
      assertEqual(sizes[ids.first], Buffer.byteLength(await readFile(first)), 'Size of the first version');
      // The CLI keeps S3's order within each array: newest first.
      assertEqual((r.Versions ?? []).map((v: VersionEntry) => v.VersionId), [ids.second, ids.first], 'Versions newest first');
    });

    await ctx.step('aws s3api get-object --version-id of each version: its own bytes', async () => {
      const a = await download('--version-id', ids.first);
      assertEqual(a.body, await readFile(first, 'utf8'), 'bytes of the first version');
      assertEqual(a.response.VersionId, ids.first, 'VersionId of the first version');
      const b = await download('--version-id', ids.second);
      assertEqual(b.body, await readFile(second, 'utf8'), 'bytes of the second version');
      const m = await awsFails('s3api', 'get-object', '--bucket', bucket, '--key', key, '--version-id', marker, path.join(work, 'nothing'));
      assert(/MethodNotAllowed|\(405\)/.test(m.stderr), `get-object of the marker's id: expected 405 MethodNotAllowed, got: ${m.stderr}`);
    });

    const restored = await ctx.step('restore the first version: copy-object --copy-source bucket/key?versionId=…', async () => {
      const r = await json('s3api', 'copy-object', '--bucket', bucket, '--key', key, '--copy-source', `${bucket}/${key}?versionId=${ids.first}`);
      assertEqual(r.CopySourceVersionId, ids.first, 'CopySourceVersionId');
      assert(typeof r.VersionId === 'string' && ![ids.first, ids.second, marker].includes(r.VersionId), `VersionId of the copy: ${JSON.stringify(r)}`);
      const got = await download();
      assertEqual(got.body, await readFile(first, 'utf8'), 'bytes after the restore');
      assertEqual(got.response.VersionId, r.VersionId, 'the copy is the current version');
      return r.VersionId as string;
    });

    await ctx.step('delete again, then undelete by deleting the delete marker (delete-object --version-id)', async () => {
      const d = await json('s3api', 'delete-object', '--bucket', bucket, '--key', key);
      assertEqual(d.DeleteMarker, true, 'DeleteMarker of the second delete');
      const undo = await json('s3api', 'delete-object', '--bucket', bucket, '--key', key, '--version-id', d.VersionId);
      assertEqual(undo.DeleteMarker, true, 'DeleteMarker when the marker itself is deleted');
      assertEqual(undo.VersionId, d.VersionId, 'VersionId of the deleted marker');
      const got = await download();
      assertEqual(got.body, await readFile(first, 'utf8'), 'bytes after the undelete');
      assertEqual(got.response.VersionId, restored, 'the restored copy is current again');
    });

    await ctx.step('Suspended: put-object writes the "null" version; the older versions stay', async () => {
      await aws('s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Suspended');
      assertEqual((await json('s3api', 'get-bucket-versioning', '--bucket', bucket)).Status, 'Suspended', 'Status');
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', second);
      const r = await json('s3api', 'list-object-versions', '--bucket', bucket, '--prefix', key);
      const lines = versionLines(r);
      assert(lines.includes(`${key} v null latest`), `the null version is latest:\n${lines.join('\n')}`);
      for (const id of [ids.first, ids.second, restored]) assert(lines.includes(`${key} v ${id}`), `version ${id} kept:\n${lines.join('\n')}`);
    });

    await ctx.step('aws s3 rb refuses a bucket that still holds versions (BucketNotEmpty)', async () => {
      const rb = await awsFails('s3', 'rb', `s3://${bucket}`);
      assert(/BucketNotEmpty/.test(rb.stderr), `expected BucketNotEmpty, got: ${rb.stderr}`);
    });

    await ctx.step('delete-objects every version and marker, then aws s3 rb', async () => {
      const r = await json('s3api', 'list-object-versions', '--bucket', bucket);
      const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v: VersionEntry) => ({ Key: v.Key, VersionId: v.VersionId }));
      assert(objects.length >= 4, `versions to delete: ${JSON.stringify(objects)}`);
      const d = await json('s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: objects }));
      assertEqual((d.Errors ?? []).length, 0, `delete-objects errors: ${JSON.stringify(d.Errors)}`);
      assertEqual((d.Deleted ?? []).length, objects.length, 'Deleted entries');
      const left = await json('s3api', 'list-object-versions', '--bucket', bucket);
      assertEqual(versionLines(left), [], 'versions left');
      await aws('s3', 'rb', `s3://${bucket}`);
    });
  },
};

/** rclone's name for an old version under --s3-versions: name-vYYYY-MM-DD-HHMMSS-mmm.ext. */
const VERSIONED_NAME = /^(.*)-v\d{4}-\d\d-\d\d-\d{6}-\d{3}(\.[^.]*)?$/;

export const rcloneVersioningScenario: Scenario = {
  name: 'rclone-versioning',
  async unavailable() {
    const r = await run(RCLONE, ['version']).catch(() => undefined);
    return r?.code === 0 ? undefined : 'rclone is missing: apt-get install -y rclone';
  },
  async run(ctx) {
    const { bucket, work, server } = ctx;
    const config = await writeRcloneConfig(work, server);
    const env = clientEnv(path.join(work, 'home'), { AWS_CA_BUNDLE: undefined });
    const base = ['--config', config, '--retries', '1', '--low-level-retries', '1'];
    const rclone = (...args: string[]) => runOk(RCLONE, [...base, ...args], { env, cwd: work });
    const remote = (p = '') => `aero:${bucket}${p ? '/' + p : ''}`;
    const v1 = 'version one of notes\n';
    const v2 = 'version two of the notes, rewritten\n';

    await ctx.step('rclone mkdir; rclone backend versioning: Unversioned, then Enabled', async () => {
      await rclone('mkdir', remote());
      const before = await rclone('backend', 'versioning', remote());
      assertEqual(before.stdout.trim(), 'Unversioned', 'status of a new bucket');
      const set = await rclone('backend', 'versioning', remote(), 'Enabled');
      assertEqual(set.stdout.trim(), 'Enabled', 'status after enabling');
    });

    const between = await ctx.step('rclone copyto two versions of one file, a few seconds apart', async () => {
      const file = path.join(work, 'notes.txt');
      await writeFileDeep(file, v1);
      await rclone('copyto', file, remote('notes.txt'));
      // LastModified has second resolution on the wire: leave room on both sides.
      await sleep(2100);
      const t = new Date();
      await sleep(2100);
      await writeFileDeep(file, v2);
      await rclone('copyto', file, remote('notes.txt'));
      assertEqual((await rclone('cat', remote('notes.txt'))).stdout, v2, 'rclone cat of the current version');
      return t;
    });

    await ctx.step('rclone lsl --s3-versions lists the old version beside the current one', async () => {
      const plain = (await rclone('lsf', remote())).stdout.split('\n').filter(Boolean);
      assertEqual(plain, ['notes.txt'], 'lsf without --s3-versions');
      const r = await rclone('lsl', '--s3-versions', remote());
      const rows = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => /^\s*(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(l))
        .map((m) => ({ size: Number(m![1]), name: m![2] }));
      ctx.note(rows.map((x) => `${x.size} ${x.name}`).join(', '));
      const current = rows.filter((x) => x.name === 'notes.txt');
      const old = rows.filter((x) => VERSIONED_NAME.test(x.name));
      assertEqual(current.map((x) => x.size), [Buffer.byteLength(v2)], 'the current version');
      assertEqual(old.map((x) => x.size), [Buffer.byteLength(v1)], 'the old version');
      assertEqual(VERSIONED_NAME.exec(old[0].name)!.slice(1), ['notes', '.txt'], 'the old version’s name');
    });

    await ctx.step('rclone cat --s3-version-at <between the writes> gives the first version', async () => {
      const r = await rclone('cat', '--s3-version-at', between.toISOString(), remote('notes.txt'));
      assertEqual(sha256(r.stdout), sha256(v1), `bytes as at ${between.toISOString()}`);
      const now = await rclone('cat', '--s3-version-at', new Date().toISOString(), remote('notes.txt'));
      assertEqual(now.stdout, v2, 'bytes as at now');
    });

    await ctx.step('rclone deletefile: gone from lsf, both versions still listed with --s3-versions', async () => {
      await rclone('deletefile', remote('notes.txt'));
      assertEqual((await rclone('lsf', remote())).stdout.trim(), '', 'lsf after the delete');
      const names = (await rclone('lsf', '--s3-versions', remote())).stdout.split('\n').filter(Boolean);
      assertEqual(names.length, 2, `versions listed after the delete: ${names.join(', ')}`);
      assert(names.every((n) => VERSIONED_NAME.test(n)), `old-version names: ${names.join(', ')}`);
      const r = await rclone('cat', '--s3-version-at', between.toISOString(), remote('notes.txt'));
      assertEqual(r.stdout, v1, 'a past version of a deleted file');
    });

    await ctx.step('rclone backend cleanup-hidden removes the old versions; rmdir the bucket', async () => {
      await rclone('backend', 'cleanup-hidden', remote());
      const names = (await rclone('lsf', '--s3-versions', remote())).stdout.split('\n').filter(Boolean);
      assertEqual(names, [], 'versions left after cleanup-hidden');
      // cleanup-hidden removes delete markers too: DeleteBucket, which needs
      // every version and marker gone, succeeds.
      await rclone('rmdir', remote());
      const lsd = await rclone('lsd', 'aero:');
      assert(!lsd.stdout.split('\n').some((l) => l.trim().endsWith(` ${bucket}`)), `bucket still listed:\n${lsd.stdout}`);
    });
  },
};

export const VERSIONING_SCENARIOS: Scenario[] = [awsCliVersioningScenario, rcloneVersioningScenario];
