// aws-cli v2 (Debian's /usr/bin/aws; a pip aws-cli v1 shim may shadow `aws`
// on PATH, so the path is explicit). Config through AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE in the scenario's temp dir, path-style, and
// --endpoint-url on every call (2.9 has no AWS_ENDPOINT_URL).
//
// Multipart: aws-cli's defaults (multipart_threshold and multipart_chunksize
// 8 MiB), so the 50 MiB file goes up as a 7-part multipart upload and comes
// down in ranged GETs; a 200 MiB file too (25 parts). Many files: `s3 cp
// --recursive` of a tree of 500 small files up and back down.
// Checksums: `s3api put-object --checksum-algorithm` (`s3 cp` has no such
// option in 2.9) and `head-object --checksum-mode ENABLED`.
// Deletes: `aws s3 rm --recursive` deletes object by object (DeleteObject,
// s3transfer's DeleteSubmitter), never DeleteObjects, so it is used as is.
import { access, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checksumOf } from '../src/core/checksums.ts';
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
  assertSameTree,
  clientEnv,
  crc32b64,
  listKeyBody,
  md5,
  multipartEtag,
  randomFile,
  recordTranscript,
  run,
  runFails,
  runOk,
  sha256,
  smallTree,
  sortTags,
  writeAwsConfig,
  writeFileDeep,
  type Scenario,
} from './lib.ts';

const AWS = '/usr/bin/aws';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What Debian's aws-cli 2.9 offers for --checksum-algorithm. */
const CLI_CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const;

/** `aws s3 ls` lines: "                           PRE dir/" and "2024-01-01 00:00:00       1234 key". */
function parseS3Ls(out: string): { keys: string[]; prefixes: string[] } {
  const keys: string[] = [];
  const prefixes: string[] = [];
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const pre = /^\s+PRE (.*)$/.exec(line);
    if (pre) {
      prefixes.push(pre[1]);
      continue;
    }
    const obj = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+ (.*)$/.exec(line);
    if (!obj) throw new Error(`unexpected line in aws s3 ls output: ${JSON.stringify(line)}`);
    keys.push(obj[1]);
  }
  return { keys, prefixes };
}

function uploads(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('upload:'))
    .map((l) => l.replace(/^upload: .* to s3:\/\/[^/]+\//, ''))
    .sort();
}

export const awsCliScenario: Scenario = {
  name: 'aws-cli',
  async unavailable() {
    try {
      await access(AWS);
      return undefined;
    } catch {
      return `${AWS} is missing: apt-get install -y awscli`;
    }
  },
  async run(ctx) {
    const { bucket, work, small, big, server } = ctx;
    const home = path.join(work, 'home');
    const env = clientEnv(home, await writeAwsConfig(work, server));
    const aws = (...args: string[]) => runOk(AWS, ['--endpoint-url', server.url, ...args], { env, cwd: work });
    const awsFails = (...args: string[]) => runFails(AWS, ['--endpoint-url', server.url, ...args], { env, cwd: work });
    const json = async (...args: string[]) => {
      const r = await aws(...args);
      return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as Record<string, any>;
    };
    const s3url = (key = '') => `s3://${bucket}/${key}`;

    await ctx.step('aws --version is Debian aws-cli v2', async () => {
      const r = await runOk(AWS, ['--version'], { env });
      ctx.note(r.stdout.trim());
      assert(/^aws-cli\/2\./.test(r.stdout), `expected aws-cli/2.x, got ${r.stdout}`);
    });

    await ctx.step('aws s3 mb (CreateBucket)', async () => {
      const r = await aws('s3', 'mb', s3url());
      assert(r.stdout.includes(`make_bucket: ${bucket}`), `unexpected output: ${r.stdout}`);
    });

    await ctx.step('aws s3 ls lists the bucket (ListBuckets)', async () => {
      const r = await aws('s3', 'ls');
      assert(r.stdout.split('\n').some((l) => l.endsWith(` ${bucket}`)), `bucket ${bucket} missing from:\n${r.stdout}`);
    });

    await ctx.step('aws s3api head-bucket and get-bucket-location', async () => {
      await aws('s3api', 'head-bucket', '--bucket', bucket);
      const loc = await json('s3api', 'get-bucket-location', '--bucket', bucket);
      // us-east-1 is reported as an empty/null LocationConstraint.
      assert(loc.LocationConstraint == null || loc.LocationConstraint === '', `LocationConstraint ${JSON.stringify(loc)}`);
    });

    await ctx.step(`aws s3 cp small (${small.size} B) and big (${big.size} B) up`, async () => {
      await aws('s3', 'cp', '--no-progress', small.path, s3url('blobs/small.bin'));
      await aws('s3', 'cp', '--no-progress', big.path, s3url('blobs/big.bin'));
    });

    await ctx.step('aws s3 cp both down and compare SHA-256', async () => {
      const dl = path.join(work, 'dl');
      await aws('s3', 'cp', '--no-progress', s3url('blobs/small.bin'), path.join(dl, 'small.bin'));
      await aws('s3', 'cp', '--no-progress', s3url('blobs/big.bin'), path.join(dl, 'big.bin'));
      await assertSameFile(path.join(dl, 'small.bin'), small);
      await assertSameFile(path.join(dl, 'big.bin'), big);
      await rm(dl, { recursive: true, force: true });
    });

    await ctx.step('aws s3api head-object: size and multipart ETag (8 MiB parts), --part-number', async () => {
      const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'blobs/big.bin');
      assertEqual(h.ContentLength, big.size, 'ContentLength');
      assertEqual(h.ETag, await multipartEtag(big.path, 8 * 1024 * 1024), 'ETag');
      const p = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'blobs/big.bin', '--part-number', '2');
      assertEqual(p.ContentLength, 8 * 1024 * 1024, 'ContentLength of part 2');
      assertEqual(p.PartsCount, Math.ceil(big.size / (8 * 1024 * 1024)), 'PartsCount');
      const mpu = await aws('s3api', 'list-multipart-uploads', '--bucket', bucket);
      assert(!/UploadId/.test(mpu.stdout), `uploads left in progress:\n${mpu.stdout}`);
    });

    await ctx.step('aws s3 cp a 200 MiB file up and down (25 parts)', async () => {
      const huge = await randomFile(path.join(work, 'huge.bin'), 200 * 1024 * 1024);
      try {
        await aws('s3', 'cp', '--no-progress', huge.path, s3url('blobs/huge.bin'));
        const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'blobs/huge.bin');
        assertEqual(h.ETag, await multipartEtag(huge.path, 8 * 1024 * 1024), 'ETag');
        const down = path.join(work, 'huge.down');
        await aws('s3', 'cp', '--no-progress', s3url('blobs/huge.bin'), down);
        await assertSameFile(down, huge);
        await aws('s3', 'rm', s3url('blobs/huge.bin'));
      } finally {
        await rm(huge.path, { force: true });
        await rm(path.join(work, 'huge.down'), { force: true });
      }
    });

    await ctx.step('aws s3api put-object the listing keys (space, +, unicode)', async () => {
      for (const key of LIST_KEYS) {
        const file = path.join(work, 'keys', sha256(key).slice(0, 12));
        await writeFileDeep(file, listKeyBody(key));
        const r = await json('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file, '--content-type', 'text/plain');
        assertEqual(r.ETag, `"${md5(listKeyBody(key))}"`, `ETag of ${key}`);
      }
    });

    await ctx.step('aws s3api put-object with a wrong --content-md5: BadDigest, nothing stored', async () => {
      const wrong = Buffer.from(md5('not the body'), 'hex').toString('base64');
      const r = await awsFails('s3api', 'put-object', '--bucket', bucket, '--key', 'bad/digest.bin', '--body', small.path, '--content-md5', wrong);
      assert(r.stderr.includes('BadDigest'), `expected BadDigest, got: ${r.stderr}`);
      const h = await awsFails('s3api', 'head-object', '--bucket', bucket, '--key', 'bad/digest.bin');
      assert(/\(404\)|Not Found/.test(h.stderr), `expected 404 for the refused upload, got: ${h.stderr}`);
    });

    await ctx.step('aws s3api get-object the unicode key, whole and --range', async () => {
      const out = path.join(work, 'weird.out');
      const r = await json('s3api', 'get-object', '--bucket', bucket, '--key', WEIRD_KEY, out);
      assertEqual(await readFile(out, 'utf8'), listKeyBody(WEIRD_KEY), 'body of the unicode key');
      assertEqual(r.ContentType, 'text/plain', 'ContentType');
      const ranged = await json('s3api', 'get-object', '--bucket', bucket, '--key', WEIRD_KEY, '--range', 'bytes=0-6', out);
      assertEqual(await readFile(out, 'utf8'), listKeyBody(WEIRD_KEY).slice(0, 7), 'ranged body');
      assertEqual(ranged.ContentRange, `bytes 0-6/${Buffer.byteLength(listKeyBody(WEIRD_KEY))}`, 'ContentRange');
      await rm(out);
    });

    await ctx.step('aws s3api list-objects-v2 --delimiter / at the root', async () => {
      const r = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--delimiter', '/');
      assertEqual((r.Contents ?? []).map((o: any) => o.Key), ROOT_LISTING.keys, 'keys');
      assertEqual((r.CommonPrefixes ?? []).map((p: any) => p.Prefix), ROOT_LISTING.prefixes, 'common prefixes');
    });

    await ctx.step('aws s3api list-objects-v2 --prefix dir/ --delimiter /', async () => {
      const r = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'dir/', '--delimiter', '/');
      assertEqual((r.Contents ?? []).map((o: any) => o.Key), DIR_LISTING.keys, 'keys');
      assertEqual((r.CommonPrefixes ?? []).map((p: any) => p.Prefix), DIR_LISTING.prefixes, 'common prefixes');
    });

    await ctx.step(`aws s3api list-objects-v2 --page-size 2 (continuation tokens, ${Math.ceil(ALL_KEYS.length / 2)} pages)`, async () => {
      const r = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--page-size', '2');
      assertEqual((r.Contents ?? []).map((o: any) => o.Key), ALL_KEYS, 'all keys over the pages');
      const sizes = Object.fromEntries((r.Contents ?? []).map((o: any) => [o.Key, o.Size]));
      assertEqual(sizes['blobs/big.bin'], big.size, 'Size of blobs/big.bin');
    });

    await ctx.step('aws s3 ls with prefix and --recursive', async () => {
      const root = parseS3Ls((await aws('s3', 'ls', s3url())).stdout);
      assertEqual(root, { keys: ROOT_LISTING.keys, prefixes: ROOT_LISTING.prefixes }, 'aws s3 ls s3://bucket/');
      const dir = parseS3Ls((await aws('s3', 'ls', s3url('dir/'))).stdout);
      // aws s3 ls shows names relative to the prefix.
      assertEqual(dir, { keys: ['a.txt'], prefixes: ['sub/'] }, 'aws s3 ls s3://bucket/dir/');
      const all = parseS3Ls((await aws('s3', 'ls', '--recursive', s3url())).stdout);
      assertEqual(all, { keys: ALL_KEYS, prefixes: [] }, 'aws s3 ls --recursive');
    });

    await ctx.step('aws s3 cp --metadata, read back with s3api head-object', async () => {
      await aws('s3', 'cp', '--no-progress', small.path, s3url('meta/small.bin'), '--metadata', 'color=blue,owner=alice', '--content-type', 'application/x-conformance');
      const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'meta/small.bin');
      assertEqual(h.Metadata, { color: 'blue', owner: 'alice' }, 'Metadata');
      assertEqual(h.ContentType, 'application/x-conformance', 'ContentType');
      assertEqual(h.ContentLength, small.size, 'ContentLength');
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', 'meta/api.bin', '--body', small.path, '--metadata', 'k1=v1,k2=v 2');
      const h2 = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'meta/api.bin');
      assertEqual(h2.Metadata, { k1: 'v1', k2: 'v 2' }, 'Metadata from s3api put-object');
    });

    // Debian's aws-cli 2.9 offers CRC32, CRC32C, SHA1 and SHA256 (`aws s3api
    // put-object help`); the newer algorithms go through the AWS SDK for
    // JavaScript (conformance/sdk-js.ts).
    await ctx.step('aws s3api put-object --checksum-algorithm CRC32, CRC32C, SHA1 and SHA256, head-object --checksum-mode ENABLED', async () => {
      const body = await readFile(small.path);
      for (const algo of CLI_CHECKSUM_ALGORITHMS) {
        const value = await checksumOf(algo, body);
        const key = `checksum/${algo.toLowerCase()}.bin`;
        const r = await json('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', small.path, '--checksum-algorithm', algo);
        assertEqual(r[`Checksum${algo}`], value, `Checksum${algo} echoed by put-object`);
        const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', key, '--checksum-mode', 'ENABLED');
        assertEqual(h[`Checksum${algo}`], value, `Checksum${algo} of head-object --checksum-mode ENABLED`);
        const plain = await json('s3api', 'head-object', '--bucket', bucket, '--key', key);
        assertEqual(plain[`Checksum${algo}`], undefined, `Checksum${algo} without checksum mode`);
        // The CLI checks the checksum it asks for on the way down.
        await aws('s3api', 'get-object', '--bucket', bucket, '--key', key, '--checksum-mode', 'ENABLED', path.join(work, 'checksum.out'));
        await aws('s3api', 'delete-object', '--bucket', bucket, '--key', key);
      }
      // Without one, the object gets S3's default: the CRC64NVME of its bytes.
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', 'checksum/default.bin', '--body', small.path);
      const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'checksum/default.bin', '--checksum-mode', 'ENABLED');
      ctx.note(`head-object of an object put without a checksum: ${JSON.stringify(Object.keys(h).filter((k) => k.startsWith('Checksum')))}`);
      await aws('s3api', 'delete-object', '--bucket', bucket, '--key', 'checksum/default.bin');
    });

    await ctx.step('aws s3api get-object-attributes --object-attributes ObjectParts after a 3-part CRC32C upload', async () => {
      const partSize = 5 * 1024 * 1024;
      const parts = [partSize, partSize, 4321].map((size, i) => ({ size, file: path.join(work, `part-${i + 1}.bin`) }));
      const bodies: Buffer[] = [];
      for (const p of parts) {
        await randomFile(p.file, p.size);
        bodies.push(await readFile(p.file));
      }
      const key = 'checksum/three-parts.bin';
      const created = await json('s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key, '--checksum-algorithm', 'CRC32C');
      const uploadId = created.UploadId as string;
      const listed = [];
      for (const [i, p] of parts.entries()) {
        const r = await json('s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId,
          '--part-number', String(i + 1), '--body', p.file, '--checksum-algorithm', 'CRC32C');
        assertEqual(r.ChecksumCRC32C, await checksumOf('CRC32C', bodies[i]), `ChecksumCRC32C of part ${i + 1}`);
        listed.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32C: r.ChecksumCRC32C });
      }
      const done = await json('s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId,
        '--multipart-upload', JSON.stringify({ Parts: listed }));
      const partSums = await Promise.all(bodies.map((b) => checksumOf('CRC32C', b)));
      const composite = await checksumOf('CRC32C', ...partSums.map((v) => Buffer.from(v, 'base64')));
      assertEqual(done.ChecksumCRC32C, `${composite}-3`, 'ChecksumCRC32C of complete-multipart-upload (composite)');

      const attrs = await json('s3api', 'get-object-attributes', '--bucket', bucket, '--key', key, '--object-attributes', 'ObjectParts', 'Checksum');
      assertEqual(attrs.ObjectParts?.TotalPartsCount, 3, 'ObjectParts.TotalPartsCount');
      assertEqual(
        attrs.ObjectParts?.Parts?.map((p: Record<string, unknown>) => [p.PartNumber, p.Size, p.ChecksumCRC32C]),
        parts.map((p, i) => [i + 1, p.size, partSums[i]]),
        'ObjectParts.Parts (number, size, CRC32C)',
      );
      // (aws-cli 2.9's model predates ChecksumType: the CLI drops it.)
      assertEqual(attrs.Checksum?.ChecksumCRC32C, composite, 'Checksum.ChecksumCRC32C (without -3)');

      const page = await json('s3api', 'get-object-attributes', '--bucket', bucket, '--key', key, '--object-attributes', 'ObjectParts',
        '--max-parts', '2', '--part-number-marker', '1');
      assertEqual(page.ObjectParts?.Parts?.map((p: Record<string, unknown>) => p.PartNumber), [2, 3], 'parts after marker 1, at most 2');
      assertEqual(page.ObjectParts?.IsTruncated, false, 'IsTruncated');
      const first = await json('s3api', 'get-object-attributes', '--bucket', bucket, '--key', key, '--object-attributes', 'ObjectParts', '--max-parts', '1');
      assertEqual(first.ObjectParts?.IsTruncated, true, 'IsTruncated with --max-parts 1');
      assertEqual(String(first.ObjectParts?.NextPartNumberMarker), '1', 'NextPartNumberMarker with --max-parts 1');
      await aws('s3api', 'delete-object', '--bucket', bucket, '--key', key);
      for (const p of parts) await rm(p.file, { force: true });
    });

    await ctx.step('aws s3api put-object-tagging, get-object-tagging, delete-object-tagging', async () => {
      const tagSet = [{ Key: 'project', Value: 'aero store' }, { Key: 'tier', Value: 'gold+1' }];
      await aws('s3api', 'put-object-tagging', '--bucket', bucket, '--key', 'meta/api.bin', '--tagging', JSON.stringify({ TagSet: tagSet }));
      const t = await json('s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'meta/api.bin');
      assertEqual(sortTags(t.TagSet), tagSet, 'TagSet after put-object-tagging');
      const bad = await awsFails('s3api', 'put-object-tagging', '--bucket', bucket, '--key', 'meta/api.bin',
        '--tagging', JSON.stringify({ TagSet: [{ Key: 'aws:reserved', Value: 'x' }] }));
      assert(bad.stderr.includes('InvalidTag'), `expected InvalidTag for an aws: key, got: ${bad.stderr}`);
      const missing = await awsFails('s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'meta/never-there');
      assert(missing.stderr.includes('NoSuchKey'), `expected NoSuchKey, got: ${missing.stderr}`);
      await aws('s3api', 'delete-object-tagging', '--bucket', bucket, '--key', 'meta/api.bin');
      const gone = await json('s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'meta/api.bin');
      assertEqual(gone.TagSet ?? [], [], 'TagSet after delete-object-tagging');
    });

    await ctx.step('aws s3api put-bucket-lifecycle-configuration, get-bucket-lifecycle-configuration (the rules back), x-amz-expiration on head-object, delete-bucket-lifecycle', async () => {
      const rules = [
        { ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'meta/' }, Expiration: { Days: 30 } },
        {
          ID: 'history',
          Status: 'Disabled',
          Filter: { And: { Prefix: 'old/', Tags: [{ Key: 'tier', Value: 'gold' }], ObjectSizeGreaterThan: 1024 } },
          NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 },
        },
        { ID: 'uploads', Status: 'Enabled', Filter: {}, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
      ];
      await aws('s3api', 'put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', JSON.stringify({ Rules: rules }));
      const got = await json('s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket);
      assertEqual(got.Rules, rules, 'Rules after put-bucket-lifecycle-configuration');
      const head = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'meta/api.bin');
      assert(/^expiry-date=".+ GMT", rule-id="tmp"$/.test(String(head.Expiration)), `Expiration on head-object: ${head.Expiration}`);
      const bad = await awsFails('s3api', 'put-bucket-lifecycle-configuration', '--bucket', bucket,
        '--lifecycle-configuration', JSON.stringify({ Rules: [{ ID: 'x', Status: 'Enabled', Filter: {}, Expiration: { Days: 0 } }] }));
      assert(bad.stderr.includes('InvalidArgument'), `expected InvalidArgument for Days 0, got: ${bad.stderr}`);
      await aws('s3api', 'delete-bucket-lifecycle', '--bucket', bucket);
      const gone = await awsFails('s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket);
      assert(gone.stderr.includes('NoSuchLifecycleConfiguration'), `expected NoSuchLifecycleConfiguration, got: ${gone.stderr}`);
    });

    await ctx.step('a lifecycle rule expires noncurrent versions after a simulated day (put-bucket-versioning, aerostore lifecycle run --now, list-object-versions)', async () => {
      if (!server.dataDir) return ctx.note('skipped: the server was not started by this run (aerostore lifecycle needs its data directory)');
      const versioned = `${bucket}-lc`;
      await aws('s3api', 'create-bucket', '--bucket', versioned);
      await aws('s3api', 'put-bucket-versioning', '--bucket', versioned, '--versioning-configuration', 'Status=Enabled');
      const first = await json('s3api', 'put-object', '--bucket', versioned, '--key', 'doc', '--body', small.path);
      const second = await json('s3api', 'put-object', '--bucket', versioned, '--key', 'doc', '--body', small.path);
      const rules = [{ ID: 'history', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }];
      await aws('s3api', 'put-bucket-lifecycle-configuration', '--bucket', versioned, '--lifecycle-configuration', JSON.stringify({ Rules: rules }));
      const ids = async () => ((await json('s3api', 'list-object-versions', '--bucket', versioned)).Versions ?? []).map((v: any) => v.VersionId);
      assertEqual(await ids(), [second.VersionId, first.VersionId], 'versions before the pass');
      const pass = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'lifecycle', 'run', '--bucket', versioned,
        '--now', new Date(Date.now() + 2 * 86_400_000).toISOString()], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', AEROSTORE_DATA_DIR: server.dataDir } });
      assert(pass.code === 0, `aerostore lifecycle run: ${pass.stdout}${pass.stderr}`);
      assertEqual(await ids(), [second.VersionId], 'versions after a pass two days ahead');
      await aws('s3api', 'delete-object', '--bucket', versioned, '--key', 'doc', '--version-id', second.VersionId);
      await aws('s3api', 'delete-bucket', '--bucket', versioned);
    });

    await ctx.step('aws s3api put-object --acl public-read into the private bucket: anonymous curl 200, its neighbour 403; get-object-acl, put-object-acl', async () => {
      const haveCurl = (await run('curl', ['--version']).catch(() => undefined))?.code === 0;
      if (!haveCurl) ctx.note('curl is missing: the anonymous GETs are sent with fetch()');
      /** An anonymous GET, as a browser or curl sends it: the status and the body. */
      const anonymousGet = async (key: string): Promise<{ status: string; body: string }> => {
        const url = `${server.url}/${bucket}/${key}`;
        if (haveCurl) {
          const out = path.join(work, 'anonymous.out');
          const r = await runOk('curl', ['--silent', '--show-error', '--output', out, '--write-out', '%{http_code}', url]);
          const body = await readFile(out, 'utf8');
          await rm(out);
          return { status: r.stdout, body };
        }
        const res = await fetch(url);
        const body = await res.text();
        recordTranscript({ command: `fetch(${url})  (no credentials)`, detail: `HTTP ${res.status}\n${body}` });
        return { status: String(res.status), body };
      };
      const file = path.join(work, 'acl.txt');
      await writeFileDeep(file, 'public, one object\n');
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', 'acl/public.txt', '--body', file, '--acl', 'public-read');
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', 'acl/neighbour.txt', '--body', file);
      const pub = await anonymousGet('acl/public.txt');
      assertEqual(pub.status, '200', 'anonymous GET of the public-read object');
      assertEqual(pub.body, 'public, one object\n', 'its body');
      assertEqual((await anonymousGet('acl/neighbour.txt')).status, '403', 'anonymous GET of its neighbour');
      assertEqual((await anonymousGet('')).status, '403', 'anonymous ListObjects of the private bucket');
      const acl = await json('s3api', 'get-object-acl', '--bucket', bucket, '--key', 'acl/public.txt');
      assertEqual(acl.Owner?.ID, 'aerostore', 'Owner.ID (the root key has no user id)');
      assertEqual(
        (acl.Grants ?? []).map((g: any) => [g.Grantee?.Type, g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]),
        [['CanonicalUser', 'aerostore', 'FULL_CONTROL'], ['Group', 'http://acs.amazonaws.com/groups/global/AllUsers', 'READ']],
        'Grants',
      );
      await aws('s3api', 'put-object-acl', '--bucket', bucket, '--key', 'acl/public.txt', '--acl', 'private');
      assertEqual((await anonymousGet('acl/public.txt')).status, '403', 'anonymous GET after put-object-acl --acl private');
      await aws('s3api', 'put-object-acl', '--bucket', bucket, '--key', 'acl/neighbour.txt', '--grant-read', 'uri=http://acs.amazonaws.com/groups/global/AllUsers');
      assertEqual((await anonymousGet('acl/neighbour.txt')).status, '200', 'anonymous GET after put-object-acl --grant-read AllUsers');
      const bad = await awsFails('s3api', 'put-object-acl', '--bucket', bucket, '--key', 'acl/neighbour.txt', '--grant-read', 'emailAddress=someone@example.com');
      assert(bad.stderr.includes('UnresolvableGrantByEmailAddress'), `expected UnresolvableGrantByEmailAddress, got: ${bad.stderr}`);
      await aws('s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: [{ Key: 'acl/public.txt' }, { Key: 'acl/neighbour.txt' }] }));
      await rm(file);
    });

    await ctx.step('aws s3api put-bucket-policy: a public-read prefix, a deny-unless-TLS condition, an IP allow-list (anonymous curl); get-bucket-policy, get-bucket-policy-status, MalformedPolicy, delete-bucket-policy', async () => {
      // The scenario signs as the root key, which bucket policies do not bind
      // (docs/security.md): the policy is seen through anonymous requests.
      const haveCurl = (await run('curl', ['--version']).catch(() => undefined))?.code === 0;
      const anonymousStatus = async (key: string): Promise<string> => {
        const url = `${server.url}/${bucket}/${key}`;
        if (haveCurl) return (await runOk('curl', ['--silent', '--output', '/dev/null', '--write-out', '%{http_code}', url])).stdout;
        const res = await fetch(url);
        recordTranscript({ command: `fetch(${url})  (no credentials)`, detail: `HTTP ${res.status}` });
        return String(res.status);
      };
      const file = path.join(work, 'policy.txt');
      await writeFileDeep(file, 'under a bucket policy\n');
      const keys = ['policy/public/a.txt', 'policy/public/secure/b.txt', 'policy/lan/c.txt', 'policy/far/d.txt', 'policy/private/e.txt'];
      for (const key of keys) await aws('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file);
      const arn = `arn:aws:s3:::${bucket}`;
      const document = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'PublicReadPrefix', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/policy/public/*` },
          { Sid: 'DenyUnlessTLS', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/policy/public/secure/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          { Sid: 'LanAllowList', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/policy/lan/*`, Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } },
          { Sid: 'FarAllowList', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/policy/far/*`, Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } },
        ],
      });
      await aws('s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', document);
      assertEqual((await json('s3api', 'get-bucket-policy', '--bucket', bucket)).Policy, document, 'get-bucket-policy answers the document as sent');
      assertEqual((await json('s3api', 'get-bucket-policy-status', '--bucket', bucket)).PolicyStatus?.IsPublic, true, 'IsPublic (Principal * without a narrowing condition)');
      assertEqual(await anonymousStatus('policy/public/a.txt'), '200', 'anonymous GET of the public-read prefix');
      assertEqual(await anonymousStatus('policy/public/secure/b.txt'), '403', 'anonymous GET over plain HTTP where the policy denies it without TLS');
      assertEqual(await anonymousStatus('policy/lan/c.txt'), '200', 'anonymous GET from 127.0.0.1, in the allow-list');
      assertEqual(await anonymousStatus('policy/far/d.txt'), '403', 'anonymous GET from outside the allow-list');
      assertEqual(await anonymousStatus('policy/private/e.txt'), '403', 'anonymous GET of a key no statement names');
      const malformed = await awsFails('s3api', 'put-bucket-policy', '--bucket', bucket, '--policy',
        JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::another-bucket/*' }] }));
      assert(malformed.stderr.includes('MalformedPolicy') && malformed.stderr.includes('Policy has invalid resource'), `expected MalformedPolicy, got: ${malformed.stderr}`);
      await aws('s3api', 'delete-bucket-policy', '--bucket', bucket);
      const none = await awsFails('s3api', 'get-bucket-policy', '--bucket', bucket);
      assert(none.stderr.includes('NoSuchBucketPolicy'), `expected NoSuchBucketPolicy after delete-bucket-policy, got: ${none.stderr}`);
      assertEqual(await anonymousStatus('policy/public/a.txt'), '403', 'anonymous GET once the policy is gone');
      await aws('s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: keys.map((Key) => ({ Key })) }));
      await rm(file);
    });

    await ctx.step('aws s3api copy-object (COPY, REPLACE, onto itself) and aws s3 cp s3:// to s3://', async () => {
      const r = await json('s3api', 'copy-object', '--bucket', bucket, '--key', 'copy/weird.txt', '--copy-source', `${bucket}/${WEIRD_KEY}`);
      assertEqual(r.CopyObjectResult?.ETag, `"${md5(listKeyBody(WEIRD_KEY))}"`, 'CopyObjectResult.ETag');
      const h = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'copy/weird.txt');
      assertEqual(h.ContentType, 'text/plain', 'ContentType copied with the object');
      await aws('s3api', 'copy-object', '--bucket', bucket, '--key', 'copy/replaced.bin', '--copy-source', `${bucket}/meta/small.bin`,
        '--metadata-directive', 'REPLACE', '--metadata', 'fresh=yes', '--content-type', 'application/x-replaced');
      const h2 = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'copy/replaced.bin');
      assertEqual(h2.Metadata, { fresh: 'yes' }, 'Metadata after REPLACE');
      assertEqual(h2.ContentType, 'application/x-replaced', 'ContentType after REPLACE');
      assertEqual(h2.ETag, `"${small.md5}"`, 'ETag of the copy');
      const self = await awsFails('s3api', 'copy-object', '--bucket', bucket, '--key', 'meta/small.bin', '--copy-source', `${bucket}/meta/small.bin`);
      assert(self.stderr.includes('InvalidRequest'), `expected InvalidRequest for a copy onto itself, got: ${self.stderr}`);
      await aws('s3', 'cp', '--no-progress', s3url('blobs/small.bin'), s3url('copy/small-cp.bin'));
      const dl = path.join(work, 'copied.bin');
      await aws('s3', 'cp', '--no-progress', s3url('copy/small-cp.bin'), dl);
      await assertSameFile(dl, small);
      await rm(dl);
    });

    await ctx.step('aws s3api delete-objects (DeleteObjects with Content-MD5): existing and missing keys', async () => {
      const keys = ['copy/weird.txt', 'copy/replaced.bin', 'copy/small-cp.bin', 'copy/never-there'];
      const r = await json('s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: keys.map((Key) => ({ Key })) }));
      assertEqual((r.Deleted ?? []).map((d: any) => d.Key).sort(), [...keys].sort(), 'Deleted');
      assertEqual(r.Errors ?? [], [], 'Errors');
      const left = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'copy/');
      assertEqual(left.Contents ?? [], [], 'keys left under copy/');
    });

    await ctx.step('aws s3 presign, fetched with plain fetch (small, unicode and odd-character keys)', async () => {
      for (const [key, expected] of [
        ['blobs/small.bin', await readFile(small.path)],
        [WEIRD_KEY, Buffer.from(listKeyBody(WEIRD_KEY))],
        [ODD_KEY, Buffer.from(listKeyBody(ODD_KEY))],
      ] as const) {
        const r = await aws('s3', 'presign', s3url(key), '--expires-in', '300');
        const url = r.stdout.trim();
        assert(url.includes('X-Amz-Signature='), `not a SigV4 presigned URL: ${url}`);
        const res = await fetch(url);
        const body = Buffer.from(await res.arrayBuffer());
        recordTranscript({ command: `fetch(${url})`, detail: `HTTP ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${res.ok ? '' : body.toString()}` });
        assertEqual(res.status, 200, `status of GET ${key}`);
        assertEqual(sha256(body), sha256(expected), `SHA-256 of presigned GET ${key}`);
      }
    });

    const tree = path.join(work, 'tree');
    await ctx.step('aws s3 sync a directory tree up', async () => {
      await writeFileDeep(path.join(tree, 'a.txt'), 'alpha\n');
      await writeFileDeep(path.join(tree, 'x', 'y.txt'), 'why\n');
      await writeFileDeep(path.join(tree, 'x', 'z', 'w.bin'), (await readFile(small.path)).subarray(0, 3000));
      await writeFileDeep(path.join(tree, 'with space', 'ü+1.txt'), 'unicode\n');
      // Backdate the local files a little, as an older working copy would be.
      const past = new Date(Date.now() - 3600_000);
      for (const f of ['a.txt', 'x/y.txt', 'x/z/w.bin', 'with space/ü+1.txt']) await utimes(path.join(tree, f), past, past);
      const r = await aws('s3', 'sync', '--no-progress', tree, s3url('tree/'));
      assertEqual(uploads(r.stdout), ['tree/a.txt', 'tree/with space/ü+1.txt', 'tree/x/y.txt', 'tree/x/z/w.bin'].sort(), 'uploaded files');
    });

    await ctx.step('aws s3 sync again: nothing re-uploaded', async () => {
      const r = await aws('s3', 'sync', '--no-progress', tree, s3url('tree/'));
      assertEqual(uploads(r.stdout), [], 'uploaded files on the second sync');
    });

    await ctx.step('aws s3 sync after changing one file: only that file', async () => {
      await writeFileDeep(path.join(tree, 'x', 'y.txt'), 'why not, a longer line\n');
      const r = await aws('s3', 'sync', '--no-progress', tree, s3url('tree/'));
      assertEqual(uploads(r.stdout), ['tree/x/y.txt'], 'uploaded files');
    });

    await ctx.step('aws s3 sync down into a fresh directory, bytes equal', async () => {
      const down = path.join(work, 'tree-down');
      await aws('s3', 'sync', '--no-progress', s3url('tree/'), down);
      for (const f of ['a.txt', 'x/y.txt', 'x/z/w.bin', 'with space/ü+1.txt']) {
        assertEqual(sha256(await readFile(path.join(down, f))), sha256(await readFile(path.join(tree, f))), `SHA-256 of ${f}`);
        assert((await stat(path.join(down, f))).isFile(), `${f} missing`);
      }
    });

    await ctx.step('aws s3 cp --recursive of 500 small files up and back down, all compared', async () => {
      const src = path.join(work, 'many');
      const files = await smallTree(src, 500);
      const r = await aws('s3', 'cp', '--recursive', '--no-progress', src, s3url('many/'));
      assertEqual(uploads(r.stdout), [...files.keys()].map((f) => `many/${f}`).sort(), 'uploaded files');
      const listed = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'many/');
      assertEqual((listed.Contents ?? []).length, files.size, 'keys listed under many/');
      const down = path.join(work, 'many-down');
      const d = await aws('s3', 'cp', '--recursive', '--no-progress', s3url('many/'), down);
      assertEqual(d.stdout.split('\n').filter((l) => l.startsWith('download:')).length, files.size, 'downloads reported');
      await assertSameTree(down, files);
      await aws('s3', 'rm', '--recursive', '--quiet', s3url('many/'));
      await rm(src, { recursive: true, force: true });
      await rm(down, { recursive: true, force: true });
    });

    await ctx.step('aws s3 rm one key, s3api delete-object another', async () => {
      const r = await aws('s3', 'rm', s3url('dir/a.txt'));
      assert(r.stdout.includes('delete: '), `unexpected output: ${r.stdout}`);
      await aws('s3api', 'delete-object', '--bucket', bucket, '--key', WEIRD_KEY);
      const gone = await awsFails('s3api', 'head-object', '--bucket', bucket, '--key', WEIRD_KEY);
      assert(/\(404\)|Not Found/.test(gone.stderr), `expected 404 for a deleted key, got: ${gone.stderr}`);
      const left = await json('s3api', 'list-objects-v2', '--bucket', bucket, '--delimiter', '/');
      assertEqual((left.Contents ?? []).map((o: any) => o.Key), [ODD_KEY, 'other.txt'], 'root keys after deletes');
    });

    await ctx.step('aws s3api get-object of a missing key: NoSuchKey', async () => {
      const r = await awsFails('s3api', 'get-object', '--bucket', bucket, '--key', 'no/such/key', path.join(work, 'nothing'));
      assert(r.stderr.includes('NoSuchKey'), `expected NoSuchKey, got: ${r.stderr}`);
    });

    await ctx.step('aws s3 rm --recursive (one DeleteObject per key), bucket empty', async () => {
      await aws('s3', 'rm', '--recursive', s3url());
      const r = await json('s3api', 'list-objects-v2', '--bucket', bucket);
      assertEqual(r.Contents ?? [], [], 'objects left');
    });

    await ctx.step('aws s3 rb (DeleteBucket); head-bucket then 404', async () => {
      await aws('s3', 'rb', s3url());
      const r = await awsFails('s3api', 'head-bucket', '--bucket', bucket);
      assert(/\(404\)|Not Found|NoSuchBucket/.test(r.stderr), `expected 404, got: ${r.stderr}`);
    });
  },
};
