// s3cmd 2.3 with its own config file (`-c`): path-style (host_bucket
// without %(bucket)s), SigV4 (signature_v2 = False), plain http.
//
// Multipart: s3cmd's default, files above 15 MiB go up in 15 MiB parts (the
// 50 MiB file in 4); s3cmd checks a download against the MD5 it stored in
// x-amz-meta-s3cmd-attrs, since a multipart ETag is no MD5.
// cp and mv are server-side (CopyObject; mv then deletes the source), within a
// bucket and across two. `setacl --acl-public/--acl-private` on a bucket reads
// its ACL (GET ?acl), adds or drops the AllUsers READ grant and PUTs the XML back
// (public-read: anonymous listing answers 200).
// Deletes: `s3cmd del --recursive` lists the keys and removes them with
// DeleteObjects (batch, Content-MD5); without --recursive each named key is
// one DeleteObject.
// Signature Version 2 (legacy): `s3cmd signurl` makes an AWSAccessKeyId /
// Expires / Signature URL whatever signature_v2 says, fetched here with curl;
// `--signature-v2` signs the other commands with `Authorization: AWS`.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ALL_KEYS,
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
  multipartEtag,
  recordTranscript,
  run,
  runFails,
  runOk,
  sha256,
  writeFileDeep,
  writeS3cmdConfig,
  type Scenario,
} from './lib.ts';

const S3CMD = 's3cmd';

/** `s3cmd ls` lines: "                          DIR  s3://b/dir/" and "2024-01-01 00:00         20  s3://b/key". */
function parseLs(out: string, bucket: string): { keys: string[]; prefixes: string[] } {
  const keys: string[] = [];
  const prefixes: string[] = [];
  const strip = (u: string) => {
    assert(u.startsWith(`s3://${bucket}/`), `unexpected URI ${u}`);
    return u.slice(`s3://${bucket}/`.length);
  };
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const dir = /^\s*DIR\s+(s3:\/\/.*)$/.exec(line);
    if (dir) {
      prefixes.push(strip(dir[1]));
      continue;
    }
    const obj = /^\d{4}-\d\d-\d\d \d\d:\d\d\s+\d+\s+(s3:\/\/.*)$/.exec(line);
    if (!obj) throw new Error(`unexpected line in s3cmd ls output: ${JSON.stringify(line)}`);
    keys.push(strip(obj[1]));
  }
  return { keys, prefixes };
}

/** s3cmd reports a checksum mismatch as a WARNING and still exits 0. */
function noMd5Warning(stderr: string): void {
  assert(!/MD5|md5/.test(stderr), `s3cmd warned about MD5:\n${stderr}`);
}

export const s3cmdScenario: Scenario = {
  name: 's3cmd',
  async unavailable() {
    const r = await run(S3CMD, ['--version']).catch(() => undefined);
    return r?.code === 0 ? undefined : 's3cmd is missing: apt-get install -y s3cmd';
  },
  async run(ctx) {
    const { bucket, work, small, big, server } = ctx;
    const config = await writeS3cmdConfig(work, server);
    const env = clientEnv(path.join(work, 'home'));
    const s3cmd = (...args: string[]) => runOk(S3CMD, ['-c', config, ...args], { env, cwd: work });
    const s3url = (key = '') => `s3://${bucket}/${key}`;

    await ctx.step('s3cmd --version', async () => {
      ctx.note((await s3cmd('--version')).stdout.trim());
    });

    await ctx.step('s3cmd mb (CreateBucket), ls shows it (ListBuckets)', async () => {
      await s3cmd('mb', `s3://${bucket}`);
      const r = await s3cmd('ls');
      assert(r.stdout.split('\n').some((l) => l.trim().endsWith(`s3://${bucket}`)), `bucket missing from ls:\n${r.stdout}`);
    });

    await ctx.step(`s3cmd put small (${small.size} B) and big (${big.size} B, multipart)`, async () => {
      noMd5Warning((await s3cmd('put', '--no-progress', small.path, s3url('blobs/small.bin'))).stderr);
      const r = await s3cmd('put', '--no-progress', big.path, s3url('blobs/big.bin'));
      noMd5Warning(r.stderr);
      // With --no-progress s3cmd does not print its parts: the ETag in the listing tells
      // (`ls -l` shows the raw ETag; --list-md5 would swap in the MD5 from s3cmd-attrs).
      const ls = await s3cmd('ls', '-l', s3url('blobs/big.bin'));
      const etag = (await multipartEtag(big.path, 15 * 1024 * 1024)).replace(/"/g, '');
      assert(etag.endsWith('-4') && ls.stdout.includes(` ${etag} `), `expected the ETag ${etag} of 4 parts of 15 MiB in:\n${ls.stdout}`);
    });

    await ctx.step('s3cmd get both and compare SHA-256', async () => {
      const dl = path.join(work, 'dl');
      noMd5Warning((await s3cmd('get', '--no-progress', '--force', s3url('blobs/small.bin'), path.join(dl, 'small.bin'))).stderr);
      noMd5Warning((await s3cmd('get', '--no-progress', '--force', s3url('blobs/big.bin'), path.join(dl, 'big.bin'))).stderr);
      await assertSameFile(path.join(dl, 'small.bin'), small);
      await assertSameFile(path.join(dl, 'big.bin'), big);
      await rm(dl, { recursive: true, force: true });
    });

    await ctx.step('s3cmd put the listing keys (space, +, unicode)', async () => {
      for (const key of LIST_KEYS) {
        const file = path.join(work, 'keys', sha256(key).slice(0, 12));
        await writeFileDeep(file, listKeyBody(key));
        await s3cmd('put', '--no-progress', file, s3url(key));
      }
      for (const key of [WEIRD_KEY, ODD_KEY]) {
        const out = path.join(work, 'key.out');
        await s3cmd('get', '--no-progress', '--force', s3url(key), out);
        assertEqual(await readFile(out, 'utf8'), listKeyBody(key), `body of ${key}`);
      }
    });

    await ctx.step('s3cmd ls at the root and under dir/', async () => {
      assertEqual(parseLs((await s3cmd('ls', s3url())).stdout, bucket), { keys: ROOT_LISTING.keys, prefixes: ROOT_LISTING.prefixes }, 's3cmd ls s3://bucket/');
      assertEqual(parseLs((await s3cmd('ls', s3url('dir/'))).stdout, bucket), { keys: DIR_LISTING.keys, prefixes: DIR_LISTING.prefixes }, 's3cmd ls s3://bucket/dir/');
    });

    await ctx.step('s3cmd ls --recursive', async () => {
      const r = await s3cmd('ls', '--recursive', s3url());
      assertEqual(parseLs(r.stdout, bucket), { keys: ALL_KEYS, prefixes: [] }, 's3cmd ls --recursive');
      const big = r.stdout.split('\n').find((l) => l.endsWith(s3url('blobs/big.bin')));
      assert(big && new RegExp(`\\s${ctx.big.size}\\s`).test(big), `size of big.bin not shown: ${big}`);
    });

    const other = `${bucket}-2`;
    const otherUrl = (key = '') => `s3://${other}/${key}`;
    await ctx.step('s3cmd cp and mv within the bucket and across buckets (CopyObject, then DeleteObject for mv)', async () => {
      await s3cmd('mb', `s3://${other}`);
      await s3cmd('cp', s3url('blobs/small.bin'), s3url('copy/small.bin'));
      await s3cmd('cp', s3url('blobs/big.bin'), otherUrl('big.bin')); // the multipart object
      await s3cmd('mv', s3url('copy/small.bin'), s3url('copy/moved.bin'));
      await s3cmd('mv', s3url('copy/moved.bin'), otherUrl('moved ü+.bin'));
      assertEqual(parseLs((await s3cmd('ls', '--recursive', s3url('copy/'))).stdout, bucket), { keys: [], prefixes: [] }, 'copy/ after both mv');
      assertEqual(parseLs((await s3cmd('ls', '--recursive', otherUrl())).stdout, other), { keys: ['big.bin', 'moved ü+.bin'], prefixes: [] }, `s3cmd ls --recursive s3://${other}`);
      const dl = path.join(work, 'dl2');
      noMd5Warning((await s3cmd('get', '--no-progress', '--force', otherUrl('big.bin'), path.join(dl, 'big.bin'))).stderr);
      noMd5Warning((await s3cmd('get', '--no-progress', '--force', otherUrl('moved ü+.bin'), path.join(dl, 'moved.bin'))).stderr);
      await assertSameFile(path.join(dl, 'big.bin'), big);
      await assertSameFile(path.join(dl, 'moved.bin'), small);
      await rm(dl, { recursive: true, force: true });
      // The copy keeps s3cmd's x-amz-meta-s3cmd-attrs, so info still knows the whole file's MD5.
      const info = await s3cmd('info', otherUrl('big.bin'));
      assert(new RegExp(`MD5 sum:\\s+${big.md5}`).test(info.stdout), `MD5 missing from info of the copy:\n${info.stdout}`);
    });

    /** An unsigned GET of the bucket (ListObjects), as a browser or curl would send it. */
    const anonymousList = async () => {
      const url = `${server.url}/${bucket}/?max-keys=1`;
      const res = await fetch(url);
      const text = await res.text();
      recordTranscript({ command: `fetch(${url})  (no credentials)`, detail: `HTTP ${res.status}\n${text}` });
      return res.status;
    };
    await ctx.step('s3cmd setacl --acl-public on the bucket: s3cmd info shows *anon*: READ', async () => {
      assertEqual(await anonymousList(), 403, 'anonymous ListObjects of a private bucket');
      await s3cmd('setacl', '--acl-public', `s3://${bucket}`);
      const r = await s3cmd('info', `s3://${bucket}`);
      assert(/ACL:\s+\*anon\*: READ/.test(r.stdout), `public ACL missing from info:\n${r.stdout}`);
      // public-read on a bucket: anonymous read and list, as on S3 (README "ACLs").
      assertEqual(await anonymousList(), 200, 'anonymous ListObjects of the public-read bucket');
    });

    await ctx.step('s3cmd setacl --acl-private on the bucket: no *anon* grant, anonymous listing refused', async () => {
      await s3cmd('setacl', '--acl-private', `s3://${bucket}`);
      const r = await s3cmd('info', `s3://${bucket}`);
      assert(!/\*anon\*/.test(r.stdout), `anonymous grant still shown by info:\n${r.stdout}`);
      assert(/ACL:\s+\S.*: FULL_CONTROL/.test(r.stdout), `owner's FULL_CONTROL missing from info:\n${r.stdout}`);
      assertEqual(await anonymousList(), 403, 'anonymous ListObjects after --acl-private');
    });

    await ctx.step('s3cmd put --add-header x-amz-meta-*, s3cmd info reads it back', async () => {
      await s3cmd('put', '--no-progress', '--mime-type=application/x-conformance', '--add-header=x-amz-meta-color:blue', small.path, s3url('meta/small.bin'));
      const r = await s3cmd('info', s3url('meta/small.bin'));
      assert(/x-amz-meta-color: blue/.test(r.stdout), `metadata missing from info:\n${r.stdout}`);
      assert(new RegExp(`File size: ${small.size}\\b`).test(r.stdout), `size missing from info:\n${r.stdout}`);
      assert(/MIME type: application\/x-conformance/.test(r.stdout), `MIME type missing from info:\n${r.stdout}`);
      assert(new RegExp(`MD5 sum:\\s+${small.md5}`).test(r.stdout), `MD5 missing from info:\n${r.stdout}`);
    });

    await ctx.step('s3cmd signurl (SigV2 presigned GET) fetched with curl: plain, space/+/unicode and odd-character keys; tampered 403', async () => {
      const haveCurl = (await run('curl', ['--version']).catch(() => undefined))?.code === 0;
      if (!haveCurl) ctx.note('curl is missing: the URLs are fetched with fetch()');
      /** The status, the body in `out`: curl as a user would, else fetch. */
      const curl = async (url: string, out: string): Promise<{ stdout: string }> => {
        if (haveCurl) return runOk('curl', ['--silent', '--show-error', '--globoff', '--path-as-is', '--output', out, '--write-out', '%{http_code}', url]);
        const res = await fetch(url);
        await writeFileDeep(out, Buffer.from(await res.arrayBuffer()));
        return { stdout: String(res.status) };
      };
      const out = path.join(work, 'signurl.out');
      for (const key of ['blobs/small.bin', WEIRD_KEY, ODD_KEY]) {
        const url = (await s3cmd('signurl', s3url(key), '+300')).stdout.trim();
        assert(/[?&]AWSAccessKeyId=[^&]+&Expires=\d+&Signature=/.test(url), `not a SigV2 presigned URL: ${url}`);
        assertEqual((await curl(url, out)).stdout, '200', `curl ${url}`);
        if (key === 'blobs/small.bin') await assertSameFile(out, small);
        else assertEqual(await readFile(out, 'utf8'), listKeyBody(key), `body of ${key} by signurl`);
      }
      const url = (await s3cmd('signurl', s3url('blobs/small.bin'), '+300')).stdout.trim();
      assertEqual((await curl(url.replace(/Expires=(\d+)/, (_, e: string) => `Expires=${Number(e) + 1}`), out)).stdout, '403', 'a signurl URL with its Expires moved');
      const expired = (await s3cmd('signurl', s3url('blobs/small.bin'), String(Math.floor(Date.now() / 1000) - 60))).stdout.trim();
      assertEqual((await curl(expired, out)).stdout, '403', 'a signurl URL that has expired');
      assert((await readFile(out, 'utf8')).includes('<Message>Request has expired</Message>'), 'S3’s expired message');
      await rm(out, { force: true });
    });

    await ctx.step('s3cmd --signature-v2 (Authorization: AWS): put with metadata, info, ls, get, del', async () => {
      const v2 = (...args: string[]) => s3cmd('--signature-v2', ...args);
      await v2('put', '--no-progress', '--add-header=x-amz-meta-signed:v2', small.path, s3url('sigv2/small.bin'));
      assert(/x-amz-meta-signed: v2/.test((await v2('info', s3url('sigv2/small.bin'))).stdout), 'metadata put with SigV2 missing from info');
      assertEqual(parseLs((await v2('ls', s3url('sigv2/'))).stdout, bucket), { keys: ['sigv2/small.bin'], prefixes: [] }, 's3cmd --signature-v2 ls');
      const out = path.join(work, 'sigv2.out');
      noMd5Warning((await v2('get', '--no-progress', '--force', s3url(WEIRD_KEY), out)).stderr);
      assertEqual(await readFile(out, 'utf8'), listKeyBody(WEIRD_KEY), `body of ${WEIRD_KEY} by a SigV2 get`);
      await v2('del', s3url('sigv2/small.bin'));
      assertEqual(parseLs((await s3cmd('ls', s3url('sigv2/'))).stdout, bucket), { keys: [], prefixes: [] }, 'sigv2/ after del');
      await rm(out, { force: true });
    });

    await ctx.step('s3cmd get of a missing key fails with 404', async () => {
      const r = await runFails(S3CMD, ['-c', config, 'get', '--force', s3url('no/such/key'), path.join(work, 'nothing')], { env });
      assert(/404|NoSuchKey|does not exist/i.test(r.stderr), `expected a 404, got:\n${r.stderr}`);
    });

    await ctx.step('s3cmd del one key (DeleteObject), then del --recursive (DeleteObjects), bucket empty', async () => {
      await s3cmd('del', s3url('meta/small.bin'));
      await s3cmd('del', '--recursive', '--force', s3url());
      const r = await s3cmd('ls', '--recursive', s3url());
      assertEqual(r.stdout.trim(), '', 'objects left');
    });

    await ctx.step('s3cmd rb (DeleteBucket) both buckets, gone from ls', async () => {
      await s3cmd('del', '--recursive', '--force', otherUrl());
      await s3cmd('rb', `s3://${bucket}`);
      await s3cmd('rb', `s3://${other}`);
      const r = await s3cmd('ls');
      assert(!r.stdout.includes(`s3://${bucket}`), `bucket still listed:\n${r.stdout}`);
    });
  },
};
