// @supabase/storage-js (the npm package, unmodified) against /storage/v1:
// its public bucket and file methods (signed URLs, move and copy included), as a user (JWT), as the
// service role (a service_role JWT, as Supabase's service key is) and
// anonymously on a public bucket. Objects written here are checked over S3
// too: one object, both APIs.
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StorageClient } from '@supabase/storage-js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckFailed, run, type Scenario } from './lib.ts';
import { mintJwt } from './principals.ts';

function check(ok: unknown, what: string): void {
  if (!ok) throw new CheckFailed(what);
}

/** storage-js answers { data, error }: a step fails on the error, with its message. */
async function ok<T>(p: Promise<{ data: T | null; error: unknown }>, what: string): Promise<T> {
  const { data, error } = await p;
  if (error) throw new CheckFailed(`${what}: ${(error as Error).message ?? String(error)} (status ${(error as { status?: number }).status})`);
  if (data === null) throw new CheckFailed(`${what}: no data`);
  return data;
}

async function refused(p: Promise<{ error: unknown }>, status: number, what: string): Promise<void> {
  const { error } = await p;
  const got = (error as { status?: number } | null)?.status;
  if (got !== status) throw new CheckFailed(`${what}: expected status ${status}, got ${error ? got : 'success'}`);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export const storageJsScenario: Scenario = {
  name: 'storage-js',
  async run(ctx) {
    const base = `${ctx.server.url}/storage/v1`;
    const client = (token: string) => new StorageClient(base, { apikey: token, Authorization: `Bearer ${token}` });
    const userId = randomUUID();
    const otherId = randomUUID();
    const user = client(await mintJwt(userId));
    const other = client(await mintJwt(otherId));
    const service = client(await mintJwt(randomUUID(), { role: 'service_role' }));
    const anon = client(await mintJwt(randomUUID(), { role: 'anon' }));
    const priv = `${ctx.bucket}-private`;
    const pub = `${ctx.bucket}-public`;
    const small = ctx.small;

    await ctx.step('createBucket / getBucket / listBuckets / updateBucket as a user', async () => {
      await ok(user.createBucket(priv, { public: false, fileSizeLimit: '20MB' }), 'createBucket private');
      await ok(user.createBucket(pub, { public: true }), 'createBucket public');
      const got = await ok(user.getBucket(priv), 'getBucket');
      check(got.public === false && got.file_size_limit === 20 * 1024 * 1024, `getBucket: ${JSON.stringify(got)}`);
      const names = (await ok(user.listBuckets(), 'listBuckets')).map((b) => b.name);
      check(names.includes(priv) && names.includes(pub), `listBuckets: ${names}`);
      await ok(user.updateBucket(priv, { public: false, allowedMimeTypes: ['text/*', 'application/octet-stream', 'image/*'] }), 'updateBucket');
      check((await ok(user.getBucket(priv), 'getBucket')).allowed_mime_types?.includes('image/*'), 'allowed_mime_types stored');
    });

    const bytes = await readFile(small.path);
    await ctx.step('upload a Buffer, a Blob, a File and a stream; upsert; download the same bytes', async () => {
      const files = user.from(priv);
      await ok(files.upload('docs/a.bin', bytes, { contentType: 'application/octet-stream' }), 'upload Buffer');
      await ok(files.upload('docs/b.txt', new Blob(['blob body'], { type: 'text/plain' })), 'upload Blob');
      await ok(files.upload('docs/c.txt', new File(['file body'], 'c.txt', { type: 'text/plain' })), 'upload File');
      await ok(files.upload('stream.txt', Readable.from([Buffer.from('stream body')]), { contentType: 'text/plain', duplex: 'half' }), 'upload stream');
      await refused(files.upload('docs/b.txt', Buffer.from('again'), { contentType: 'text/plain' }), 409, 'upload over an existing path without upsert');
      await ok(files.upload('docs/b.txt', Buffer.from('replaced'), { contentType: 'text/plain', upsert: true }), 'upload with upsert');
      await ok(files.update('stream.txt', Buffer.from('updated'), { contentType: 'text/plain' }), 'update');
      const got = Buffer.from(await (await ok(files.download('docs/a.bin'), 'download')).arrayBuffer());
      check(sha(got) === small.sha256, 'downloaded bytes differ');
      check((await (await ok(files.download('docs/b.txt'), 'download')).text()) === 'replaced', 'upsert did not replace');
      check((await (await ok(files.download('stream.txt'), 'download')).text()) === 'updated', 'update did not replace');
    });

    await ctx.step('the same object over S3: the SDK with the root key reads it, unsigned requests are refused', async () => {
      const s3 = new S3Client({
        endpoint: ctx.server.url,
        region: ctx.server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: ctx.server.accessKeyId, secretAccessKey: ctx.server.secretAccessKey },
      });
      const got = await s3.send(new GetObjectCommand({ Bucket: priv, Key: 'docs/a.bin' }));
      check(sha(Buffer.from(await got.Body!.transformToByteArray())) === small.sha256, 'S3 GetObject bytes differ');
      const res = await fetch(`${ctx.server.url}/${priv}/docs/a.bin`);
      check(res.status === 403, `unsigned S3 GET of a private object: ${res.status}`);
    });

    await ctx.step('info / exists / list with folders, search, sorting and paging; listV2 with a cursor', async () => {
      const files = user.from(priv);
      const info = await ok(files.info('docs/a.bin'), 'info');
      check(info.size === small.size, `info size ${info.size}`);
      check((await ok(files.exists('docs/a.bin'), 'exists')) === true, 'exists true');
      check((await files.exists('docs/missing.bin')).data === false, 'exists false');
      const top = (await ok(files.list(), 'list')).map((e) => e.name);
      check(JSON.stringify(top) === JSON.stringify(['docs', 'stream.txt']), `list root: ${top}`);
      const docs = (await ok(files.list('docs', { sortBy: { column: 'name', order: 'desc' } }), 'list docs')).map((e) => e.name);
      check(JSON.stringify(docs) === JSON.stringify(['c.txt', 'b.txt', 'a.bin']), `list docs desc: ${docs}`);
      const found = (await ok(files.list('docs', { search: 'b' }), 'list search')).map((e) => e.name);
      check(JSON.stringify(found) === JSON.stringify(['b.txt']), `search: ${found}`);
      const page = (await ok(files.list('docs', { limit: 1, offset: 1 }), 'list page')).map((e) => e.name);
      check(JSON.stringify(page) === JSON.stringify(['b.txt']), `page: ${page}`);
      // listV2: a prefix, folders rolled up, and a cursor page by page.
      const v2 = await ok(files.listV2({ with_delimiter: true }), 'listV2');
      check(JSON.stringify(v2.folders) === JSON.stringify([{ name: 'docs', key: 'docs/' }]), `listV2 folders: ${JSON.stringify(v2.folders)}`);
      check(JSON.stringify(v2.objects.map((o) => o.name)) === JSON.stringify(['stream.txt']), `listV2 objects: ${v2.objects.map((o) => o.name)}`);
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const p = await ok(files.listV2({ prefix: 'docs/', limit: 2, cursor }), 'listV2 page');
        paged.push(...p.objects.map((o) => o.key!));
        cursor = p.hasNext ? p.nextCursor : undefined;
      } while (cursor !== undefined && paged.length < 10);
      check(JSON.stringify(paged) === JSON.stringify(['docs/a.bin', 'docs/b.txt', 'docs/c.txt']), `listV2 pages: ${paged}`);
    });

    await ctx.step('another user sees none of the private bucket; anonymous reads the public one', async () => {
      await refused(other.from(priv).download('docs/a.bin'), 403, 'another user downloads');
      await refused(other.from(priv).upload('x.txt', Buffer.from('x'), { contentType: 'text/plain' }), 403, 'another user uploads');
      await ok(user.from(pub).upload('hello.txt', Buffer.from('hello public'), { contentType: 'text/plain' }), 'upload public');
      const url = anon.from(pub).getPublicUrl('hello.txt').data.publicUrl;
      const res = await fetch(url);
      check(res.status === 200 && (await res.text()) === 'hello public', `getPublicUrl fetch: ${res.status}`);
      check((await (await ok(anon.from(pub).download('hello.txt'), 'anonymous download')).text()) === 'hello public', 'anon download');
      await refused(anon.from(priv).download('docs/a.bin'), 403, 'anonymous download of a private object');
    });

    await ctx.step('copy and move; createSignedUrl(s); createSignedUploadUrl + uploadToSignedUrl', async () => {
      const files = user.from(priv);
      await ok(files.copy('docs/a.bin', 'copies/a.bin'), 'copy');
      await ok(files.move('copies/a.bin', 'moved/a.bin'), 'move');
      check((await files.exists('copies/a.bin')).data === false, 'moved source gone');
      const signed = await ok(files.createSignedUrl('moved/a.bin', 60), 'createSignedUrl');
      const res = await fetch(signed.signedUrl);
      check(res.status === 200 && sha(Buffer.from(await res.arrayBuffer())) === small.sha256, `signed URL fetch: ${res.status}`);
      const batch = await ok(files.createSignedUrls(['docs/b.txt', 'stream.txt'], 60), 'createSignedUrls');
      check(batch.length === 2 && batch.every((b) => b.signedUrl), `createSignedUrls: ${JSON.stringify(batch)}`);
      const tampered = await fetch(signed.signedUrl.replace('moved/a.bin', 'docs/b.txt'));
      check(tampered.status === 403, `a token on another path: ${tampered.status}`);
      const up = await ok(files.createSignedUploadUrl('uploads/u.txt'), 'createSignedUploadUrl');
      await ok(anon.from(priv).uploadToSignedUrl('uploads/u.txt', up.token, Buffer.from('via signed upload'), { contentType: 'text/plain' }), 'uploadToSignedUrl');
      check((await (await ok(files.download('uploads/u.txt'), 'download')).text()) === 'via signed upload', 'signed upload content');
      await refused(anon.from(priv).uploadToSignedUrl('uploads/u.txt', up.token, Buffer.from('again'), { contentType: 'text/plain' }), 409, 'a second use of the upload token');
    });

    await ctx.step('the service role sees and changes everything; remove, emptyBucket, deleteBucket', async () => {
      const all = (await ok(service.listBuckets(), 'service listBuckets')).map((b) => b.name);
      check(all.includes(priv) && all.includes(pub), 'service sees both');
      const removed = await ok(service.from(priv).remove(['docs/c.txt']), 'remove');
      check(removed.length === 1, `removed ${removed.length}`);
      await ok(user.emptyBucket(priv), 'emptyBucket');
      check((await ok(user.from(priv).list('docs'), 'list after empty')).length === 0, 'empty');
      await ok(user.deleteBucket(priv), 'deleteBucket');
      await ok(service.emptyBucket(pub), 'service emptyBucket');
      await ok(service.deleteBucket(pub), 'service deleteBucket');
    });

    // Issue 17 §2: Supabase's "upload into one's own folder" policy, written
    // with `aerostore sql` as an operator would, is the bucket's only rule.
    const folders = `${ctx.bucket}-folders`;
    await ctx.step('a bucket whose only rule is Supabase’s own-folder policy, created with aerostore sql', async () => {
      if (!ctx.server.dataDir) return ctx.note('skipped: the server was not started by this run (aerostore sql needs its data directory)');
      await ok(service.createBucket(folders, { public: false }), 'createBucket as the service role');
      const policy = (verb: string, clause: string) =>
        `create policy "${folders} ${verb}" on storage.objects for ${verb} to authenticated ${clause} ` +
        `(bucket_id = '${folders}' and (storage.foldername(name))[1] = (select auth.uid()::text));`;
      const created = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'sql'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', AEROSTORE_DATA_DIR: ctx.server.dataDir },
        input: [policy('insert', 'with check'), policy('select', 'using')].join('\n'),
      });
      check(created.code === 0, `aerostore sql: ${created.stderr}`);
      const mine = user.from(folders);
      await ok(mine.upload(`${userId}/avatar.png`, bytes, { contentType: 'image/png' }), 'upload into one’s own folder');
      await refused(mine.upload(`${otherId}/avatar.png`, bytes, { contentType: 'image/png' }), 403, 'upload into another user’s folder');
      const listed = (await ok(mine.list(userId), 'list one’s own folder')).map((f) => f.name);
      check(listed.join() === 'avatar.png', `own folder: ${listed}`);
      check((await ok(other.from(folders).list(userId), 'another user lists it')).length === 0, 'another user sees nothing there');
      check((await other.from(folders).download(`${userId}/avatar.png`)).error !== null, 'another user cannot download it');
      await ok(service.emptyBucket(folders), 'service emptyBucket');
      await ok(service.deleteBucket(folders), 'service deleteBucket');
    });
  },
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
