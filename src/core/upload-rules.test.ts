// A bucket's upload rules (allowed_mime_types, file_size_limit) as tables —
// the size limit an upload gets, the types a pattern admits, what the
// declaration and the content's first bytes decide — and then through
// putObject against a real Postgres and blob directory: a refusal at any of
// the three checkpoints stores nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { body, domainError, openTestStorage, untouchedBody, user, type TestStorage } from '../../test/support/core-storage.ts';
import type { BucketRow } from './bucket.ts';
import { createBucket } from './buckets.ts';
import type { DomainError } from './errors.ts';
import { putObject } from './objects.ts';
import type { Services } from './services.ts';
import { checkDeclaredUpload, checkSniffedType, mimeTypeAllowed, sizeLimitFor } from './upload-rules.ts';

function bucket(rules: { fileSizeLimit?: number; allowedMimeTypes?: string[] } = {}): BucketRow {
  return {
    id: '00000000-0000-4000-8000-0000000000b0',
    name: 'uploads',
    owner_id: '00000000-0000-4000-8000-00000000000a',
    region: 'us-east-1',
    policy: 'private',
    cors: null,
    member_writes: false,
    public_list: false,
    file_size_limit: rules.fileSizeLimit ?? null,
    allowed_mime_types: rules.allowedMimeTypes ?? null,
    download_events: false,
    object_ownership: null,
    acl: null,
    created_at: new Date(0),
  };
}

/** Only the server's maximum object size matters to sizeLimitFor. */
const server = (maxObjectSize: number) => ({ maxObjectSize }) as Services;

/** Content whose first bytes say what it is (file-type's signatures). */
const SIGNED = {
  pdf: Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n'),
  gif: Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(20)]),
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]),
  text: Buffer.from('no signature: plain text passes on its declared type'),
};

describe('core/upload-rules: the rules as tables', () => {
  it('the size limit: the bucket’s, else the API default, never above the server maximum', () => {
    // [server max, bucket limit, API default] → limit
    const table: Array<[number, number | undefined, number | undefined, number]> = [
      [1000, undefined, undefined, 1000], // S3 without a bucket limit: the server maximum
      [1000, undefined, 100, 100], // /storage/v1's default when the bucket sets none
      [1000, 10, 100, 10], // the bucket's own limit wins over the default…
      [1000, 500, 100, 500], // …even above it
      [1000, 5000, undefined, 1000], // but never beyond the server maximum
      [1000, undefined, 5000, 1000],
    ];
    for (const [max, limit, apiDefault, expected] of table) {
      assert.equal(sizeLimitFor(server(max), bucket({ fileSizeLimit: limit }), apiDefault), expected, `${max} ${limit} ${apiDefault}`);
    }
  });

  it('allowed types: exact types and type/* wildcards, case and parameters ignored; no list allows all', () => {
    // patterns → content type → allowed
    const table: Array<[string[] | undefined, string | undefined, boolean]> = [
      [undefined, 'application/x-anything', true],
      [[], 'application/x-anything', true],
      [['image/png'], 'image/png', true],
      [['image/png'], 'IMAGE/PNG', true],
      [['image/png'], 'image/png; charset=binary', true],
      [['image/png'], ' image/png ', true],
      [['image/png'], 'image/jpeg', false],
      [['image/png'], 'image/pngx', false],
      [['image/*'], 'image/webp', true],
      [['image/*'], 'IMAGE/GIF', true],
      [['image/*'], 'imagex/gif', false],
      [['image/*'], 'text/plain', false],
      [['Text/Plain', 'image/*'], 'text/plain', true],
      // No Content-Type is judged as application/octet-stream.
      [['image/*'], undefined, false],
      [['application/octet-stream'], undefined, true],
    ];
    for (const [patterns, type, expected] of table) {
      assert.equal(mimeTypeAllowed(bucket({ allowedMimeTypes: patterns }), type), expected, `${JSON.stringify(patterns)} ${type}`);
    }
  });

  it('the declaration: a size over the limit, then a type not allowed, each before the body', () => {
    const images = bucket({ allowedMimeTypes: ['image/*'] });
    // [limit, declared size, declared type] → error code, or undefined when it passes
    const table: Array<[number, number | undefined, string | undefined, string | undefined]> = [
      [10, 10, 'image/png', undefined],
      [10, undefined, 'image/png', undefined], // no size declared: the limit is enforced as bytes arrive
      [10, 11, 'image/png', 'EntityTooLarge'],
      [10, 5, 'application/pdf', 'DeclaredTypeNotAllowed'],
      [10, 5, undefined, 'DeclaredTypeNotAllowed'],
      [10, 11, 'application/pdf', 'EntityTooLarge'], // the size is checked first
    ];
    for (const [limit, size, type, expected] of table) {
      const check = () => checkDeclaredUpload(images, limit, size, type);
      if (expected === undefined) assert.doesNotThrow(check, `${limit} ${size} ${type}`);
      else assert.throws(check, domainError(expected), `${limit} ${size} ${type}`);
    }
    assert.throws(() => checkDeclaredUpload(images, 10, 11, 'image/png'), (e: DomainError) => e.details.MaxSizeAllowed === '10');
  });

  it('the content: a signature of a type not allowed is refused, whatever was declared; no signature passes', async () => {
    // patterns → content → allowed
    const table: Array<[string[] | undefined, keyof typeof SIGNED, boolean]> = [
      [['image/*'], 'png', true],
      [['image/*'], 'gif', true],
      [['image/*'], 'pdf', false],
      [['image/png'], 'gif', false],
      [['image/*'], 'text', true],
      [['application/pdf'], 'pdf', true],
      [undefined, 'pdf', true],
    ];
    for (const [patterns, content, allowed] of table) {
      const check = checkSniffedType(bucket({ allowedMimeTypes: patterns }), { head: SIGNED[content] });
      if (allowed) await check;
      else await assert.rejects(check, domainError('DetectedTypeNotAllowed'), `${JSON.stringify(patterns)} ${content}`);
    }
  });
});

describe('core/upload-rules: putObject obeys them and a refusal stores nothing', () => {
  let t: TestStorage;
  const owner = user();
  let images: BucketRow;

  before(async () => {
    t = await openTestStorage({ maxObjectSize: 64 });
    images = await createBucket(t.storage, 'images', owner, 'private', { allowedMimeTypes: ['image/*'], fileSizeLimit: 48 });
  });
  after(async () => {
    await t?.close();
  });

  const put = (key: string, content: Buffer, contentType: string | undefined, extra: { expectedSize?: number; bucket?: string; defaultSizeLimit?: number } = {}) =>
    putObject(t.storage, { bucket: extra.bucket ?? images.name, key, body: body(content), expectedSize: extra.expectedSize, defaultSizeLimit: extra.defaultSizeLimit, headers: { contentType, userMetadata: {} }, principal: owner });

  it('stores what every rule allows', async () => {
    assert.equal((await put('ok.png', SIGNED.png, 'image/png')).object.content_type, 'image/png');
    assert.equal((await put('ok.txt', SIGNED.text.subarray(0, 40), 'image/png')).object.size, 40);
  });

  it('refuses at each checkpoint — declared type, declared size, bytes over the limit, detected type — and leaves nothing', async () => {
    const untouched = untouchedBody();
    await assert.rejects(
      putObject(t.storage, { bucket: images.name, key: 'declared.pdf', body: untouched.body, headers: { contentType: 'application/pdf', userMetadata: {} }, principal: owner }),
      domainError('DeclaredTypeNotAllowed'),
    );
    assert.equal(untouched.read(), false, 'a declared type not allowed is refused before the body is read');
    await assert.rejects(put('big.png', Buffer.alloc(49), 'image/png', { expectedSize: 49 }), domainError('EntityTooLarge'));
    await assert.rejects(put('big.png', Buffer.alloc(49), 'image/png'), domainError('EntityTooLarge'));
    await assert.rejects(put('disguised.png', SIGNED.pdf, 'image/png'), domainError('DetectedTypeNotAllowed'));

    await t.settle();
    const objects = await t.admin`select key from storage.objects where bucket_uuid = ${images.id} and key <> all(${['ok.png', 'ok.txt']}::text[])`;
    assert.equal(objects.length, 0);
    const blobs = await t.admin`select 1 from storage.blobs where bucket_id = ${images.id}`;
    assert.equal(blobs.length, 2, 'only the two stored objects’ blobs');
    assert.deepEqual(await t.stagedFiles(), []);
  });

  it('a bucket without rules: the API default applies, and never more than the server maximum', async () => {
    const open = await createBucket(t.storage, 'anything', owner);
    assert.equal((await put('a.pdf', SIGNED.pdf, 'application/pdf', { bucket: open.name })).object.content_type, 'application/pdf');
    await assert.rejects(put('b', Buffer.alloc(11), undefined, { bucket: open.name, defaultSizeLimit: 10 }), domainError('EntityTooLarge'));
    await assert.rejects(put('c', Buffer.alloc(65), undefined, { bucket: open.name }), domainError('EntityTooLarge'));
    assert.equal((await put('d', Buffer.alloc(64), undefined, { bucket: open.name })).object.size, 64);
    assert.deepEqual(await t.stagedFiles(), []);
  });
});
