// AWS SDK for JavaScript v3 (@aws-sdk/client-s3, pinned) with DEFAULT client
// settings: only endpoint, region, credentials and forcePathStyle. That means
// CRC32 checksums on every PutObject (a header for a Buffer body; aws-chunked
// with an unsigned x-amz-checksum-crc32 trailer for a stream), checksum mode
// ENABLED and validation on GetObject, and presigned PUT URLs that carry
// x-amz-checksum-crc32=AAAAAA== (the CRC32 of an empty body) in their query.
//
// A read-only middleware records each request's and response's headers so
// that a failing step can show them; it changes nothing on the wire.
//
// Multipart: PutObjectCommand is always one request, so the 50 MiB stream
// goes up as a single aws-chunked PUT. The SDK's Upload helper
// (@aws-sdk/lib-storage, same pinned version) is exercised separately with
// its defaults: a 100 MiB stream in 5 MiB parts, 4 at a time.
// GetObjectAttributes (ETag, Checksum, ObjectSize) reads back the default
// CRC32 of both PutObject forms; object tagging with the Tagging commands.
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  DeleteObjectsCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Sha512 } from '@aws-sdk/checksums/sha';
import { Xxh3_128, Xxh3_64, Xxh64 } from '@aws-sdk/checksums/xxh';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
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
  crc32File,
  crc32b64,
  listKeyBody,
  md5,
  recordTranscript,
  sha256,
  sortTags,
  type Scenario,
} from './lib.ts';

const SDK_VERSION: string = createRequire(import.meta.url)('@aws-sdk/client-s3/package.json').version;

interface Exchange {
  request: { method: string; path: string; query: Record<string, unknown>; headers: Record<string, string> };
  response?: { statusCode: number; headers: Record<string, string> };
}

function describe(command: string, x: Exchange): string {
  const q = new URLSearchParams(
    Object.entries(x.request.query).flatMap(([k, v]): [string, string][] =>
      Array.isArray(v) ? v.map((vv): [string, string] => [k, String(vv)]) : [[k, v == null ? '' : String(v)]],
    ),
  ).toString();
  const lines = [`${command}`, `> ${x.request.method} ${x.request.path}${q ? '?' + q : ''}`];
  for (const [k, v] of Object.entries(x.request.headers)) lines.push(`> ${k}: ${/authorization/i.test(k) ? v.replace(/Signature=\w+/, 'Signature=…') : v}`);
  if (x.response) {
    lines.push(`< ${x.response.statusCode}`);
    for (const [k, v] of Object.entries(x.response.headers)) lines.push(`< ${k}: ${v}`);
  } else lines.push('< (no response)');
  return lines.join('\n');
}

/** Reads a GetObject body to the end (the SDK validates its checksum as it ends). */
async function drain(body: unknown): Promise<{ bytes: number; sha256: string; data?: Buffer }> {
  const h = createHash('sha256');
  const keep: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body as Readable) {
    const b = chunk as Buffer;
    h.update(b);
    bytes += b.length;
    if (bytes <= 1 << 20) keep.push(b);
  }
  return { bytes, sha256: h.digest('hex'), data: bytes <= 1 << 20 ? Buffer.concat(keep) : undefined };
}

export const sdkJsScenario: Scenario = {
  name: 'sdk-js',
  async run(ctx) {
    const { bucket, small, big, server } = ctx;
    // The SDK warns (once, at length) that releases after early 2027 need
    // Node 22; the @aws-sdk/* versions are pinned, so one line says it here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    ctx.note(`@aws-sdk/client-s3 ${SDK_VERSION} on Node ${process.version} (NodeVersionSupportWarning silenced; versions pinned)`);
    const client = new S3Client({
      endpoint: server.url,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      forcePathStyle: true,
    });
    let last: Exchange | undefined;
    const recordOn = (c: S3Client) => c.middlewareStack.add(
      (next, context) => async (args: any) => {
        const req = args.request;
        const x: Exchange = { request: { method: req.method, path: req.path, query: { ...req.query }, headers: { ...req.headers } } };
        last = x;
        const command = `S3Client.send(${context.commandName})`;
        recordTranscript({ command, detail: describe(command, x) });
        const out = await next(args);
        const res = (out as any).response;
        if (res) x.response = { statusCode: res.statusCode, headers: { ...res.headers } };
        recordTranscript({ command, detail: describe(command, x) });
        return out;
      },
      { step: 'deserialize', priority: 'low', name: 'conformanceRecorder' },
    );
    recordOn(client);
    const expectError = async (what: string, p: Promise<unknown>): Promise<S3ServiceException> => {
      try {
        await p;
      } catch (e) {
        if (e instanceof S3ServiceException) return e;
        throw e;
      }
      throw new Error(`${what} succeeded but should have failed`);
    };
    const smallBytes = await readFile(small.path);

    try {
      await ctx.step('CreateBucket, HeadBucket, ListBuckets', async () => {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        const r = await client.send(new ListBucketsCommand({}));
        assert(r.Buckets?.some((b) => b.Name === bucket), `bucket missing from ListBuckets: ${JSON.stringify(r.Buckets)}`);
      });

      await ctx.step('ListBuckets a page at a time (MaxBuckets 1, ContinuationToken, Prefix), as its paginator asks', async () => {
        const names: string[] = [];
        let ContinuationToken: string | undefined;
        for (let page = 0; page < 1000; page++) {
          const r = await client.send(new ListBucketsCommand({ MaxBuckets: 1, Prefix: bucket.slice(0, 3), ContinuationToken }));
          assert((r.Buckets ?? []).length <= 1, `a page of ${r.Buckets?.length} buckets at MaxBuckets 1`);
          assertEqual(r.Prefix, bucket.slice(0, 3), 'Prefix echoed');
          names.push(...(r.Buckets ?? []).map((b) => b.Name as string));
          ContinuationToken = r.ContinuationToken;
          if (!ContinuationToken) break;
        }
        assert(names.includes(bucket), `bucket missing from the pages: ${JSON.stringify(names)}`);
        assertEqual(names, [...new Set(names)].sort(), 'every bucket once, in name order');
      });

      await ctx.step(`PutObject from a Buffer (${small.size} B, x-amz-checksum-crc32 header)`, async () => {
        const r = await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin', Body: smallBytes, Metadata: { color: 'blue' }, ContentType: 'application/x-conformance' }),
        );
        assertEqual(last?.request.headers['x-amz-checksum-crc32'], crc32b64(smallBytes), 'the SDK sent x-amz-checksum-crc32 (precondition)');
        assertEqual(r.ETag, `"${small.md5}"`, 'ETag');
        assertEqual(r.ChecksumCRC32, crc32b64(smallBytes), 'ChecksumCRC32 echoed by PutObject');
      });

      await ctx.step('HeadObject: metadata, size, ETag, type', async () => {
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        assertEqual(h.Metadata, { color: 'blue' }, 'Metadata');
        assertEqual(h.ContentLength, small.size, 'ContentLength');
        assertEqual(h.ETag, `"${small.md5}"`, 'ETag');
        assertEqual(h.ContentType, 'application/x-conformance', 'ContentType');
      });

      await ctx.step('GetObject small: bytes, and the stored CRC32 (checksum mode ENABLED)', async () => {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        assertEqual(last?.request.headers['x-amz-checksum-mode'], 'ENABLED', 'the SDK sent x-amz-checksum-mode (precondition)');
        const body = await drain(r.Body);
        assertEqual(body.sha256, small.sha256, 'SHA-256');
        assertEqual(r.ChecksumCRC32, crc32b64(smallBytes), 'ChecksumCRC32 of GetObject');
      });

      await ctx.step('GetObject with Range bytes=10-19', async () => {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin', Range: 'bytes=10-19' }));
        const body = await drain(r.Body);
        assertEqual(r.$metadata.httpStatusCode, 206, 'status');
        assertEqual(r.ContentRange, `bytes 10-19/${small.size}`, 'ContentRange');
        assertEqual(body.data?.toString('hex'), smallBytes.subarray(10, 20).toString('hex'), 'bytes');
      });

      await ctx.step(`PutObject from a stream with ContentLength (${big.size} B, aws-chunked + unsigned CRC32 trailer)`, async () => {
        const r = await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'blobs/big.bin', Body: createReadStream(big.path), ContentLength: big.size }),
        );
        const h = last!.request.headers;
        assertEqual(
          [h['x-amz-content-sha256'], h['content-encoding'], h['x-amz-trailer'], h['x-amz-decoded-content-length']],
          ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'aws-chunked', 'x-amz-checksum-crc32', String(big.size)],
          'the SDK sent aws-chunked with a trailer (precondition)',
        );
        assertEqual(r.ETag, `"${big.md5}"`, 'ETag');
        assertEqual(r.ChecksumCRC32, await crc32File(big.path), 'ChecksumCRC32 echoed by PutObject');
      });

      await ctx.step('GetObject big: bytes compared (SDK validates the CRC32)', async () => {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'blobs/big.bin' }));
        const body = await drain(r.Body);
        assertEqual(body.bytes, big.size, 'bytes read');
        assertEqual(body.sha256, big.sha256, 'SHA-256');
        assertEqual(r.ChecksumCRC32, await crc32File(big.path), 'ChecksumCRC32 of GetObject');
      });

      await ctx.step("GetObjectAttributes ['ETag','Checksum','ObjectSize'] of the two PutObjects (default CRC32: header, trailer)", async () => {
        for (const [key, file] of [['blobs/small.bin', small], ['blobs/big.bin', big]] as const) {
          const a = await client.send(
            new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ['ETag', 'Checksum', 'ObjectSize'] }),
          );
          // Unlike every header, GetObjectAttributes gives the ETag without quotes.
          assertEqual(a.ETag, file.md5, `ETag of ${key}`);
          assertEqual(a.ObjectSize, file.size, `ObjectSize of ${key}`);
          assertEqual(a.Checksum?.ChecksumCRC32, await crc32File(file.path), `Checksum.ChecksumCRC32 of ${key}`);
          assert(a.LastModified instanceof Date, `LastModified of ${key} parsed as a date`);
          assertEqual([a.ObjectParts, a.StorageClass], [undefined, undefined], `attributes not asked for (${key})`);
        }
      });

      // The algorithms Debian's aws-cli 2.9 does not offer (conformance/aws-cli.ts
      // covers CRC32, CRC32C, SHA1, SHA256). The SDK computes SHA512 and the
      // xxHashes with the implementations given to the client (its own
      // @aws-sdk/checksums); MD5 it only passes through when precomputed.
      await ctx.step('PutObject with ChecksumAlgorithm CRC64NVME, SHA512, XXHASH64, XXHASH3, XXHASH128 (header and trailer), and ChecksumMD5', async () => {
        const withAlgorithms = new S3Client({
          endpoint: server.url,
          region: server.region,
          credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
          forcePathStyle: true,
          checksumAlgorithms: { SHA512: Sha512, XXHASH64: Xxh64, XXHASH3: Xxh3_64, XXHASH128: Xxh3_128 },
        });
        recordOn(withAlgorithms);
        try {
          for (const algorithm of ['CRC64NVME', 'SHA512', 'XXHASH64', 'XXHASH3', 'XXHASH128'] as const) {
            const value = await checksumOf(algorithm, smallBytes);
            const field = `Checksum${algorithm}` as const;
            for (const [form, body] of [['header', smallBytes], ['trailer', Readable.from([smallBytes])]] as const) {
              const key = `checksums/${algorithm.toLowerCase()}-${form}.bin`;
              const put = await withAlgorithms.send(
                new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: small.size, ChecksumAlgorithm: algorithm }),
              );
              const sent = last!.request.headers;
              const header = `x-amz-checksum-${algorithm.toLowerCase()}`;
              assert(form === 'header' ? sent[header] === value : sent['x-amz-trailer'] === header, `the SDK sent ${header} in a ${form} (precondition)`);
              assertEqual(put[field], value, `${field} echoed by PutObject (${form})`);
              // The SDK validates the body against the checksum it is served.
              const got = await withAlgorithms.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
              assertEqual((await drain(got.Body)).sha256, small.sha256, `GetObject ${key}`);
              assertEqual(got[field], value, `${field} of GetObject (${form})`);
              const a = await withAlgorithms.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ['Checksum'] }));
              assertEqual([a.Checksum?.[field], a.Checksum?.ChecksumType], [value, 'FULL_OBJECT'], `GetObjectAttributes Checksum of ${key}`);
              await withAlgorithms.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            }
          }
          const md5Value = Buffer.from(small.md5, 'hex').toString('base64');
          const put = await withAlgorithms.send(new PutObjectCommand({ Bucket: bucket, Key: 'checksums/md5.bin', Body: smallBytes, ChecksumMD5: md5Value }));
          assertEqual(put.ChecksumMD5, md5Value, 'ChecksumMD5 echoed by PutObject');
          const h = await withAlgorithms.send(new HeadObjectCommand({ Bucket: bucket, Key: 'checksums/md5.bin', ChecksumMode: 'ENABLED' }));
          assertEqual(h.ChecksumMD5, md5Value, 'ChecksumMD5 of HeadObject');
          await withAlgorithms.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'checksums/md5.bin' }));
          const wrong = await expectError(
            'PutObject with a wrong ChecksumSHA512',
            withAlgorithms.send(
              new PutObjectCommand({ Bucket: bucket, Key: 'checksums/wrong.bin', Body: smallBytes, ChecksumSHA512: await checksumOf('SHA512', Buffer.from('x')) }),
            ),
          );
          assertEqual([wrong.name, wrong.$metadata.httpStatusCode], ['BadDigest', 400], 'a wrong SHA512');
        } finally {
          withAlgorithms.destroy();
        }
      });

      await ctx.step('PutObjectTagging, GetObjectTagging, PutObject with Tagging, DeleteObjectTagging', async () => {
        const TagSet = [{ Key: 'project', Value: 'aero store' }, { Key: 'tier', Value: 'gold+1/ü' }];
        await client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'blobs/small.bin', Tagging: { TagSet } }));
        const t = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        assertEqual(sortTags(t.TagSet), TagSet, 'TagSet after PutObjectTagging');
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        assertEqual(h.TagCount, 2, 'x-amz-tagging-count on HeadObject');
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'misc/tagged.txt', Body: Buffer.from('tagged\n'), Tagging: 'a=1&b=two%20words' }));
        const t2 = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'misc/tagged.txt' }));
        assertEqual(sortTags(t2.TagSet), [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 'two words' }], 'TagSet from PutObject Tagging');
        await client.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        const t3 = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'blobs/small.bin' }));
        assertEqual(t3.TagSet ?? [], [], 'TagSet after DeleteObjectTagging');
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'misc/tagged.txt' }));
      });

      await ctx.step('PutObject from a small stream, and an empty object', async () => {
        const s = await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'misc/stream-small.bin', Body: createReadStream(small.path), ContentLength: small.size }),
        );
        assertEqual(s.ETag, `"${small.md5}"`, 'ETag of the small stream');
        const e = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'misc/empty', Body: Buffer.alloc(0) }));
        assertEqual(e.ETag, `"${md5('')}"`, 'ETag of the empty object');
        const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'misc/empty' }));
        assertEqual((await drain(g.Body)).bytes, 0, 'bytes of the empty object');
        assertEqual(g.ContentLength, 0, 'ContentLength of the empty object');
        const g2 = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'misc/stream-small.bin' }));
        assertEqual((await drain(g2.Body)).sha256, small.sha256, 'SHA-256 of the small stream');
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'misc/stream-small.bin' }));
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'misc/empty' }));
      });

      await ctx.step('PutObject the listing keys (space, +, unicode)', async () => {
        for (const key of LIST_KEYS) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(listKeyBody(key)) }));
        for (const key of [WEIRD_KEY, ODD_KEY]) {
          const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          assertEqual((await drain(r.Body)).data?.toString(), listKeyBody(key), `body of ${key}`);
        }
      });

      await ctx.step('ListObjectsV2 with Prefix and Delimiter', async () => {
        const root = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
        assertEqual(root.Contents?.map((o) => o.Key) ?? [], ROOT_LISTING.keys, 'root keys');
        assertEqual(root.CommonPrefixes?.map((p) => p.Prefix) ?? [], ROOT_LISTING.prefixes, 'root common prefixes');
        const dir = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/', Delimiter: '/' }));
        assertEqual(dir.Contents?.map((o) => o.Key) ?? [], DIR_LISTING.keys, 'dir/ keys');
        assertEqual(dir.CommonPrefixes?.map((p) => p.Prefix) ?? [], DIR_LISTING.prefixes, 'dir/ common prefixes');
      });

      await ctx.step('paginateListObjectsV2 (pageSize 2)', async () => {
        const keys: string[] = [];
        let pages = 0;
        for await (const page of paginateListObjectsV2({ client, pageSize: 2 }, { Bucket: bucket })) {
          pages++;
          keys.push(...(page.Contents ?? []).map((o) => o.Key!));
          assert(pages < 50, 'pagination does not end');
        }
        assertEqual(keys, ALL_KEYS, 'keys over all pages');
        assertEqual(pages, Math.ceil(ALL_KEYS.length / 2), 'pages');
      });

      await ctx.step('presigned GET (s3-request-presigner) fetched with plain fetch', async () => {
        for (const [key, expected] of [
          ['blobs/small.bin', smallBytes],
          [WEIRD_KEY, Buffer.from(listKeyBody(WEIRD_KEY))],
          [ODD_KEY, Buffer.from(listKeyBody(ODD_KEY))],
        ] as const) {
          const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
          const res = await fetch(url);
          const body = Buffer.from(await res.arrayBuffer());
          recordTranscript({ command: `fetch(${url})`, detail: `HTTP ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${res.ok ? '' : body.toString()}` });
          assertEqual(res.status, 200, `status of presigned GET ${key}`);
          assertEqual(sha256(body), sha256(expected), `SHA-256 of presigned GET ${key}`);
        }
      });

      await ctx.step('presigned PUT (default: x-amz-checksum-crc32=AAAAAA== of an empty body in the query) with a real body', async () => {
        const data = randomBytes(9000);
        const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: 'presigned/put.bin' }), { expiresIn: 300 });
        const q = new URL(url).searchParams;
        ctx.note(`query checksum: x-amz-checksum-crc32=${q.get('x-amz-checksum-crc32')} x-amz-sdk-checksum-algorithm=${q.get('x-amz-sdk-checksum-algorithm')}`);
        assertEqual(q.get('x-amz-checksum-crc32'), 'AAAAAA==', 'the presigned URL carries the empty-body CRC32 (precondition)');
        const res = await fetch(url, { method: 'PUT', body: data });
        const text = await res.text();
        recordTranscript({ command: `fetch(${url}, { method: 'PUT', body: <9000 random bytes> })`, detail: `HTTP ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}` });
        assertEqual(res.status, 200, 'status of the presigned PUT');
        assertEqual(res.headers.get('etag'), `"${md5(data)}"`, 'ETag');
        const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'presigned/put.bin' }));
        const body = await drain(g.Body);
        assertEqual(body.sha256, sha256(data), 'SHA-256 read back');
        // The empty-body CRC32 from the URL must not have been stored as the object's checksum.
        if (g.ChecksumCRC32 !== undefined) assertEqual(g.ChecksumCRC32, crc32b64(data), 'ChecksumCRC32 of the presigned upload');
      });

      await ctx.step('presigned GET past its expiry: 403 AccessDenied', async () => {
        const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin' }), { expiresIn: 1 });
        await new Promise((r) => setTimeout(r, 2100));
        const res = await fetch(url);
        const text = await res.text();
        recordTranscript({ command: `fetch(${url})`, detail: `HTTP ${res.status}\n${text}` });
        assertEqual(res.status, 403, 'status');
        assert(/<Code>AccessDenied<\/Code>/.test(text) && /expired/i.test(text), `expected AccessDenied / Request has expired, got: ${text}`);
      });

      await ctx.step('wrong secret key: SignatureDoesNotMatch; unknown access key: InvalidAccessKeyId', async () => {
        const bad = (accessKeyId: string, secretAccessKey: string) =>
          new S3Client({ endpoint: server.url, region: server.region, credentials: { accessKeyId, secretAccessKey }, forcePathStyle: true });
        const wrongSecret = bad(server.accessKeyId, server.secretAccessKey + 'x');
        const unknownKey = bad('AKIDNOSUCHKEY0000000', server.secretAccessKey);
        try {
          const e1 = await expectError('GetObject with a wrong secret', wrongSecret.send(new GetObjectCommand({ Bucket: bucket, Key: 'blobs/small.bin' })));
          assertEqual([e1.name, e1.$metadata.httpStatusCode], ['SignatureDoesNotMatch', 403], 'wrong secret');
          const e2 = await expectError('PutObject with a wrong secret', wrongSecret.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/put.bin', Body: smallBytes })));
          assertEqual([e2.name, e2.$metadata.httpStatusCode], ['SignatureDoesNotMatch', 403], 'wrong secret on PUT');
          const e3 = await expectError('ListObjectsV2 with an unknown key', unknownKey.send(new ListObjectsV2Command({ Bucket: bucket })));
          assertEqual([e3.name, e3.$metadata.httpStatusCode], ['InvalidAccessKeyId', 403], 'unknown access key');
        } finally {
          wrongSecret.destroy();
          unknownKey.destroy();
        }
      });

      await ctx.step('CopyObject within the bucket, DeleteObjects (the SDK sends x-amz-checksum-crc32, no Content-MD5)', async () => {
        const c = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/small.bin', CopySource: `${bucket}/${encodeURIComponent('blobs/small.bin')}` }));
        assertEqual(c.CopyObjectResult?.ETag, `"${small.md5}"`, 'CopyObjectResult.ETag');
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/small.bin' }));
        assertEqual(h.ContentLength, small.size, 'ContentLength of the copy');
        const d = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'copy/small.bin' }, { Key: 'copy/never-there' }] } }));
        assertEqual((d.Deleted ?? []).map((o) => o.Key).sort(), ['copy/never-there', 'copy/small.bin'], 'Deleted');
        assertEqual(d.Errors ?? [], [], 'Errors');
      });

      await ctx.step('lib-storage Upload of a 100 MiB stream with DEFAULT settings (5 MiB parts, queue size 4, default checksums), read back', async () => {
        const size = 100 * 1024 * 1024;
        const chunk = 1024 * 1024;
        const sent = createHash('sha256');
        async function* source() {
          for (let off = 0; off < size; off += chunk) {
            const b = randomBytes(chunk);
            sent.update(b);
            yield b;
          }
        }
        const key = 'multipart/lib-storage-100mib.bin';
        const methods: string[] = [];
        const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: Readable.from(source()) } });
        upload.on('httpUploadProgress', (p) => {
          if (p.part !== undefined) methods.push(String(p.part));
        });
        const r = await upload.done();
        const expectedSha = sent.digest('hex');
        assertEqual(/^"[0-9a-f]{32}-(\d+)"$/.exec(r.ETag ?? '')?.[1], '20', `ETag of 20 parts of 5 MiB (got ${r.ETag})`);
        const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = await drain(g.Body);
        assertEqual(body.bytes, size, 'bytes read');
        assertEqual(body.sha256, expectedSha, 'SHA-256 of the bytes read back');
        assertEqual(g.ETag, r.ETag, 'ETag of GetObject');
        ctx.note(`lib-storage: ${methods.length} parts reported, ETag ${r.ETag}, ChecksumCRC32 ${r.ChecksumCRC32 ?? '(none)'} ${r.ChecksumType ?? ''}`);
      });

      await ctx.step('UploadPartCopy: two ranges of the 100 MiB object, CompleteMultipartUpload, read back', async () => {
        const src = 'multipart/lib-storage-100mib.bin';
        const key = 'multipart/part-copy.bin';
        const MiB = 1024 * 1024;
        const ranges: Array<[number, number]> = [
          [10 * MiB, 15 * MiB - 1],
          [100 * MiB - 1000, 100 * MiB - 1],
        ];
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const parts = [];
        for (const [i, [first, last]] of ranges.entries()) {
          const c = await client.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: key,
              UploadId,
              PartNumber: i + 1,
              CopySource: `${bucket}/${encodeURIComponent(src)}`,
              CopySourceRange: `bytes=${first}-${last}`,
            }),
          );
          assert(/^"[0-9a-f]{32}"$/.test(c.CopyPartResult?.ETag ?? ''), `CopyPartResult.ETag: ${c.CopyPartResult?.ETag}`);
          assert(c.CopyPartResult?.LastModified instanceof Date, 'CopyPartResult.LastModified parsed as a date');
          parts.push({ PartNumber: i + 1, ETag: c.CopyPartResult!.ETag });
        }
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
        const expected = createHash('sha256');
        for (const [first, last] of ranges) {
          const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: src, Range: `bytes=${first}-${last}` }));
          for await (const chunk of g.Body as Readable) expected.update(chunk as Buffer);
        }
        const copied = await drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body);
        assertEqual(copied.bytes, 5 * MiB + 1000, 'bytes of the assembled copy');
        assertEqual(copied.sha256, expected.digest('hex'), 'SHA-256 of the assembled copy');
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: src }));
      });

      await ctx.step('GetObject of a missing key: NoSuchKey', async () => {
        const e = await expectError('GetObject of a missing key', client.send(new GetObjectCommand({ Bucket: bucket, Key: 'no/such/key' })));
        assertEqual([e.name, e.$metadata.httpStatusCode], ['NoSuchKey', 404], 'error');
      });

      await ctx.step('DeleteObject every key, bucket empty', async () => {
        for (const key of [...ALL_KEYS, 'presigned/put.bin']) {
          const r = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          assertEqual(r.$metadata.httpStatusCode, 204, `status of DeleteObject ${key}`);
        }
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        assertEqual(r.Contents ?? [], [], 'objects left');
        assertEqual(r.KeyCount, 0, 'KeyCount');
      });

      await ctx.step('DeleteBucket, then HeadBucket is 404', async () => {
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
        const e = await expectError('HeadBucket of a deleted bucket', client.send(new HeadBucketCommand({ Bucket: bucket })));
        assertEqual(e.$metadata.httpStatusCode, 404, 'status');
      });
    } finally {
      client.destroy();
    }
  },
};
