// rclone 1.60 with a config file of its own (`--config`), remote `aero`:
// type s3, provider Other, force_path_style, the server as endpoint.
//
// AWS_CA_BUNDLE is removed from its environment: rclone 1.60 fails over
// plain http when it is set (clientEnv drops every AWS_* variable anyway).
// Multipart: rclone's default upload_cutoff (200M) keeps the 50 MiB file a
// single PUT; one step lowers it on the command line to send the same file
// as a multipart upload of 5 MiB parts. Deletes: rclone's S3 backend removes objects one DeleteObject
// at a time (`deletefile`, `delete`, sync deletions), never DeleteObjects.
// --retries 1 --low-level-retries 1: a retried failure would hide a server bug.
import { link, readFile, rm, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import {
  DIR_LISTING,
  LIST_KEYS,
  ODD_KEY,
  ROOT_LISTING,
  WEIRD_KEY,
  assert,
  assertEqual,
  assertSameFile,
  clientEnv,
  listKeyBody,
  run,
  runOk,
  sha256,
  writeFileDeep,
  writeRcloneConfig,
  type Scenario,
} from './lib.ts';

const RCLONE = 'rclone';

/** `rclone -v` INFO lines "<path>: Copied (new)" etc., as sorted [path, what] pairs. */
function actions(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /INFO\s+:\s+(.*?): (Copied \(new\)|Copied \(replaced existing\)|Deleted|Updated modification time in destination)\s*$/.exec(line);
    if (m) out.push(`${m[1]}: ${m[2]}`);
  }
  return out.sort();
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '').sort();

export const rcloneScenario: Scenario = {
  name: 'rclone',
  async unavailable() {
    const r = await run(RCLONE, ['version']).catch(() => undefined);
    return r?.code === 0 ? undefined : 'rclone is missing: apt-get install -y rclone';
  },
  async run(ctx) {
    const { bucket, work, small, big, server } = ctx;
    const config = await writeRcloneConfig(work, server);
    const env = clientEnv(path.join(work, 'home'), { AWS_CA_BUNDLE: undefined });
    const base = ['--config', config, '--retries', '1', '--low-level-retries', '1'];
    const rclone = (...args: string[]) => runOk(RCLONE, [...base, ...args], { env, cwd: work });
    const remote = (p = '') => `aero:${bucket}${p ? '/' + p : ''}`;

    await ctx.step('rclone version', async () => {
      ctx.note((await runOk(RCLONE, ['version'], { env })).stdout.split('\n')[0]);
    });

    await ctx.step('rclone mkdir (CreateBucket), lsd shows it (ListBuckets)', async () => {
      await rclone('mkdir', remote());
      const r = await rclone('lsd', 'aero:');
      assert(r.stdout.split('\n').some((l) => l.trim().endsWith(` ${bucket}`)), `bucket missing from lsd:\n${r.stdout}`);
    });

    const up = path.join(work, 'up');
    await ctx.step(`rclone copy small (${small.size} B) and big (${big.size} B) up`, async () => {
      await writeFileDeep(path.join(up, 'small.bin'), await readFile(small.path));
      await link(big.path, path.join(up, 'big.bin')); // same bytes, no 50 MiB copy
      const r = await rclone('copy', '-v', up, remote('blobs'));
      assertEqual(actions(r.stderr), ['big.bin: Copied (new)', 'small.bin: Copied (new)'], 'transfers');
    });

    await ctx.step('rclone copy both down and compare SHA-256', async () => {
      const down = path.join(work, 'down');
      await rclone('copy', remote('blobs'), down);
      await assertSameFile(path.join(down, 'small.bin'), small);
      await assertSameFile(path.join(down, 'big.bin'), big);
      await rm(down, { recursive: true, force: true });
    });

    await ctx.step('rclone check --download (byte comparison)', async () => {
      const r = await rclone('check', '--download', up, remote('blobs'));
      assert(/0 differences found/.test(r.stderr), `unexpected check output:\n${r.stderr}`);
      assert(/2 matching files/.test(r.stderr), `unexpected check output:\n${r.stderr}`);
    });

    await ctx.step('rclone copyto big with --s3-upload-cutoff 5M --s3-chunk-size 5M (multipart upload)', async () => {
      await rclone('copyto', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', big.path, remote('mp/big.bin'));
      const down = path.join(work, 'mp-down.bin');
      await rclone('copyto', remote('mp/big.bin'), down);
      await assertSameFile(down, big);
      await rm(down, { force: true });
      await rclone('deletefile', remote('mp/big.bin'));
    });

    await ctx.step('rclone copyto the listing keys (space, +, unicode)', async () => {
      for (const key of LIST_KEYS) {
        const file = path.join(work, 'keys', sha256(key).slice(0, 12));
        await writeFileDeep(file, listKeyBody(key));
        await rclone('copyto', file, remote(key));
      }
      for (const key of [WEIRD_KEY, ODD_KEY]) {
        const r = await rclone('cat', remote(key));
        assertEqual(r.stdout, listKeyBody(key), `rclone cat ${key}`);
      }
    });

    await ctx.step('rclone lsf at the root (files and dirs)', async () => {
      const r = await rclone('lsf', remote());
      assertEqual(lines(r.stdout), [...ROOT_LISTING.prefixes, ...ROOT_LISTING.keys].sort(), 'lsf');
      const dirs = await rclone('lsf', '--dirs-only', remote());
      assertEqual(lines(dirs.stdout), ROOT_LISTING.prefixes, 'lsf --dirs-only');
    });

    await ctx.step('rclone lsf dir/ and lsf -R', async () => {
      const r = await rclone('lsf', remote('dir'));
      // rclone shows names relative to the directory listed.
      assertEqual(lines(r.stdout), [...DIR_LISTING.prefixes, ...DIR_LISTING.keys].map((k) => k.slice('dir/'.length)).sort(), 'lsf dir');
      const rec = await rclone('lsf', '-R', remote());
      assertEqual(
        lines(rec.stdout),
        ['blobs/', 'blobs/big.bin', 'blobs/small.bin', 'dir/', 'dir/a.txt', 'dir/sub/', 'dir/sub/b.txt', ODD_KEY, 'other.txt', WEIRD_KEY].sort(),
        'lsf -R',
      );
      const files = await rclone('lsf', '-R', '--files-only', '--format', 'ps', remote());
      const sizes = Object.fromEntries(lines(files.stdout).map((l) => l.split(';')).map(([p, s]) => [p, Number(s)]));
      assertEqual(sizes['blobs/big.bin'], big.size, 'size of blobs/big.bin');
      assertEqual(sizes['dir/sub/b.txt'], Buffer.byteLength(listKeyBody('dir/sub/b.txt')), 'size of dir/sub/b.txt');
    });

    await ctx.step('rclone copyto and moveto within the bucket (server-side CopyObject)', async () => {
      const c = await rclone('copyto', '-v', remote('dir/sub/b.txt'), remote('copy/b.txt'));
      assert(/server-side/i.test(c.stderr), `expected a server-side copy, got:\n${c.stderr}`);
      assertEqual((await rclone('cat', remote('copy/b.txt'))).stdout, listKeyBody('dir/sub/b.txt'), 'rclone cat of the copy');
      const m = await rclone('moveto', '-v', remote('copy/b.txt'), remote('copy/moved ü+.txt'));
      assert(/server-side/i.test(m.stderr), `expected a server-side move, got:\n${m.stderr}`);
      assertEqual(lines((await rclone('lsf', remote('copy'))).stdout), ['moved ü+.txt'], 'lsf copy/ after moveto');
      assertEqual((await rclone('cat', remote('copy/moved ü+.txt'))).stdout, listKeyBody('dir/sub/b.txt'), 'rclone cat of the moved copy');
      assertEqual((await rclone('cat', remote('dir/sub/b.txt'))).stdout, listKeyBody('dir/sub/b.txt'), 'the source is untouched');
    });

    const tree = path.join(work, 'tree');
    const treeFiles = ['a.txt', 'x/y.txt', 'x/z/w.bin', 'with space/ü+1.txt'];
    await ctx.step('rclone sync a directory tree up', async () => {
      await writeFileDeep(path.join(tree, 'a.txt'), 'alpha\n');
      await writeFileDeep(path.join(tree, 'x', 'y.txt'), 'why\n');
      await writeFileDeep(path.join(tree, 'x', 'z', 'w.bin'), (await readFile(small.path)).subarray(0, 3000));
      await writeFileDeep(path.join(tree, 'with space', 'ü+1.txt'), 'unicode\n');
      const r = await rclone('sync', '-v', tree, remote('tree'));
      assertEqual(actions(r.stderr), treeFiles.map((f) => `${f}: Copied (new)`).sort(), 'transfers');
    });

    await ctx.step('rclone sync again: nothing transferred (mtime read back from X-Amz-Meta-Mtime)', async () => {
      const r = await rclone('sync', '-v', tree, remote('tree'));
      assertEqual(actions(r.stderr), [], 'transfers on the second sync');
    });

    await ctx.step('rclone sync after changing one file and removing another', async () => {
      await writeFileDeep(path.join(tree, 'x', 'y.txt'), 'why not, a longer line\n');
      const t = new Date(Date.now() + 5000);
      await utimes(path.join(tree, 'x', 'y.txt'), t, t);
      await unlink(path.join(tree, 'a.txt'));
      const r = await rclone('sync', '-v', tree, remote('tree'));
      assertEqual(actions(r.stderr), ['a.txt: Deleted', 'x/y.txt: Copied (replaced existing)'], 'transfers');
      const chk = await rclone('check', '--download', tree, remote('tree'));
      assert(/0 differences found/.test(chk.stderr), `unexpected check output:\n${chk.stderr}`);
    });

    await ctx.step('rclone deletefile one key', async () => {
      await rclone('deletefile', remote('other.txt'));
      const r = await rclone('lsf', remote());
      assert(!lines(r.stdout).includes('other.txt'), `other.txt still listed:\n${r.stdout}`);
      // rclone HEADs the key first; a 404 makes it a "directory", which deletefile refuses.
      const again = await run(RCLONE, [...base, 'deletefile', remote('other.txt')], { env });
      assert(again.code !== 0 && /doesn't exist|not found|directory/i.test(again.stderr), `rclone deletefile of a deleted key: exit ${again.code}\n${again.stderr}`);
    });

    await ctx.step('rclone delete everything (per-object DeleteObject), bucket empty', async () => {
      await rclone('delete', remote());
      const r = await rclone('lsf', '-R', remote());
      assertEqual(lines(r.stdout), [], 'objects left');
    });

    await ctx.step('rclone rmdir the bucket (DeleteBucket), gone from lsd', async () => {
      await rclone('rmdir', remote());
      const r = await rclone('lsd', 'aero:');
      assert(!r.stdout.split('\n').some((l) => l.trim().endsWith(` ${bucket}`)), `bucket still listed:\n${r.stdout}`);
    });
  },
};
