// /storage/v1/object: upload (raw body or storage-js's multipart form),
// download (as the principal, public, authenticated), HEAD, info, delete,
// batch delete by paths, copy and move. Listing is in list.ts; signed URLs
// (signed-urls.ts) reuse the download and upload here. Objects are the same
// rows and blobs the S3 protocol serves; the bucket's upload rules hold on both.
import { contentSafetyHeaders } from '../http/content-safety.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { type Context, Hono } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { z } from 'zod';
import { missingObject } from '../core/access.ts';
import { requireBucket } from '../core/buckets.ts';
import { parseContentMd5 } from '../core/checksums.ts';
import { deleteObjects } from '../core/delete-objects.ts';
import { copyObjectTo, moveObject } from '../core/move.ts';
import { dispositionFileName, fileNameOf, fileRecordOf } from '../core/file-record.ts';
import { findObjects, findObject, openObject, putObject, validateKey, type ObjectHeaders, type ObjectRow } from '../core/objects.ts';
import type { Services } from '../core/services.ts';
import { findVersion } from '../core/versions.ts';
import { pipeToForm } from '../http/forms.ts';
import { actingFrom, ANONYMOUS, type Principal } from '../principals/principal.ts';
import { clientAddress } from '../http/client-address.ts';
import { notModified, parseRange, readConditionsOf } from '../core/read.ts';
import type { ApiEnv } from '../http/env.ts';
import { StorageApiError } from './errors.ts';
import { isDomainError } from '../core/errors.ts';
import { noteRequest } from '../http/request-log.ts';
import { validBody } from './request.ts';

/** Types a browser would run or render as a page: served as attachments unless asked otherwise. */
const ACTIVE_TYPES = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[a-z]+\/[a-z.+-]*javascript|text\/javascript|application\/x-shockwave-flash)\b/i;

export interface ObjectTarget {
  bucket: string;
  key: string;
}

/** The bucket and the object path after `/storage/v1/object/<route>`, decoded. */
export function objectTarget(c: Context<ApiEnv>, route: string, mount = '/object/'): ObjectTarget {
  const raw = (c.env.incoming.url ?? '').split('?')[0];
  const rest = raw.slice(raw.indexOf(mount) + mount.length + route.length);
  const slash = rest.indexOf('/');
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
    key = slash === -1 ? '' : decodeURIComponent(rest.slice(slash + 1));
  } catch {
    throw new StorageApiError(400, 'INVALID_KEY', 'The object path is not valid percent-encoded UTF-8.');
  }
  noteRequest(c.env.incoming, { bucket, key });
  if (key === '') throw new StorageApiError(400, 'INVALID_KEY', 'An object path is required.');
  validateKey(key);
  return { bucket, key };
}

/** An object as storage-js reads an upload's or a copy's answer (`Key`, `Id`). */
export function objectJson(bucket: string, o: ObjectRow) {
  return {
    Id: o.id,
    Key: `${bucket}/${o.key}`,
    id: o.id,
    bucket,
    path: o.key,
    size: o.size,
    content_type: o.content_type,
    owner_id: o.owner_id,
    created_at: o.created_at.toISOString(),
    // The File Storage Blueprint's record of the same object (core/file-record.ts).
    file: fileRecordOf(bucket, o),
  };
}

function infoJson(bucket: string, o: ObjectRow) {
  return {
    id: o.id,
    name: o.key,
    bucket_id: bucket,
    version: o.etag.replace(/"/g, ''),
    size: o.size,
    content_type: o.content_type,
    cache_control: o.cache_control,
    etag: o.etag,
    last_modified: o.updated_at.toISOString(),
    created_at: o.created_at.toISOString(),
    updated_at: o.updated_at.toISOString(),
    metadata: o.user_metadata,
    owner_id: o.owner_id,
    // The S3 version id ('null' where the bucket never had versioning).
    version_id: o.version,
  };
}

/** storage-js's metadata: a JSON object of strings, sent base64-encoded in x-metadata or as a form field. */
function userMetadata(json: string | undefined): Record<string, string> {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new StorageApiError(400, 'INVALID_REQUEST', 'metadata must be a JSON object.');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new StorageApiError(400, 'INVALID_REQUEST', 'metadata must be a JSON object.');
  const entries = Object.entries(parsed).map(([k, v]) => [k.toLowerCase(), typeof v === 'string' ? v : JSON.stringify(v)]);
  // Postgres text (and jsonb) cannot hold NUL.
  if (entries.some(([k, v]) => k.includes('\0') || v.includes('\0'))) throw new StorageApiError(400, 'INVALID_REQUEST', 'metadata must not contain NUL characters.');
  return Object.fromEntries(entries);
}

/** Characters an HTTP header value cannot carry: a stored header must be servable. */
const NOT_HEADER_SAFE = /[^\t\x20-\x7e\x80-\xff]/;

/** A value stored to be served as the header `name`, refused (400) if it could not be. */
function headerValue(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (NOT_HEADER_SAFE.test(value)) throw new StorageApiError(400, 'INVALID_REQUEST', `${name}: a character not allowed in an HTTP header.`);
  return value;
}

/** `cacheControl: 3600` (storage-js's option) is `max-age=3600`; a full header value passes as is. */
function cacheControlOf(value: string | undefined): string | undefined {
  const v = headerValue('cacheControl', value);
  if (!v) return undefined;
  return /^\d+$/.test(v.trim()) ? `max-age=${v.trim()}` : v;
}

interface UploadSource {
  body: Readable;
  expectedSize?: number;
  headers: ObjectHeaders;
  /** Content-MD5 of a raw body (checked well-formed already), verified once the body is in, as S3 does. */
  contentMd5?: string;
  /** The original file name: the form part's, or a raw body's Content-Disposition filename. */
  filename?: string;
}

/**
 * A form part's filename as the original file name. "blob" is what
 * FormData names a Blob that has none (storage-js uploading a Blob or a
 * Buffer): not a name anyone gave the file.
 */
function formFileName(name: string | undefined): string | undefined {
  const base = name?.replace(/^.*[\\/]/, '').trim();
  return base && base !== 'blob' ? base : undefined;
}

/**
 * The upload's body and headers: the request itself, or the file part of a
 * multipart form (its fields come first, as storage-js sends them).
 */
function uploadSource(req: IncomingMessage): Promise<UploadSource> {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^multipart\/form-data/i.test(type)) {
    const length = req.headers['content-length'];
    const meta = req.headers['x-metadata'];
    const md5Header = req.headers['content-md5'];
    const contentMd5 = md5Header === undefined ? undefined : String(md5Header);
    // Malformed: refused before the body is read.
    if (contentMd5 !== undefined) parseContentMd5(contentMd5);
    return Promise.resolve({
      body: req,
      expectedSize: length === undefined ? undefined : Number(length),
      contentMd5,
      filename: dispositionFileName(req.headers['content-disposition']),
      headers: {
        contentType: type || undefined,
        cacheControl: cacheControlOf(req.headers['cache-control']),
        contentEncoding: req.headers['content-encoding'] || undefined,
        userMetadata: userMetadata(typeof meta === 'string' ? Buffer.from(meta, 'base64').toString('utf8') : undefined),
      },
    });
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 20, fieldSize: 64 * 1024 } });
    } catch {
      reject(new StorageApiError(400, 'INVALID_REQUEST', 'The multipart/form-data body cannot be parsed.'));
      return;
    }
    const fields = new Map<string, string>();
    let found = false;
    bb.on('field', (name, value) => fields.set(name, value));
    bb.on('file', (_name, file, info) => {
      found = true;
      // The part's bytes go to ingest; the form parser keeps feeding them.
      const body = new PassThrough();
      file.pipe(body);
      file.on('limit', () => body.destroy(new StorageApiError(400, 'INVALID_REQUEST', 'form limit exceeded')));
      // A form cut off inside the file part fails the part's stream (pipe()
      // does not pass errors on): unheard, that error took the process down.
      file.on('error', (err) => body.destroy(new StorageApiError(400, 'INVALID_REQUEST', `multipart/form-data: ${err.message}`)));
      // The upload's pipeline reports that error (a destroyed stream keeps it);
      // until the pipeline is attached, or if the upload is refused first, this
      // keeps it from being uncaught.
      body.on('error', () => {});
      // (A throw in this listener would be uncaught: a refused field rejects.)
      try {
        resolve({
          body,
          filename: formFileName(info.filename),
          headers: {
            contentType: headerValue('content type', info.mimeType),
            cacheControl: cacheControlOf(fields.get('cacheControl')),
            contentEncoding: headerValue('contentEncoding', fields.get('contentEncoding')),
            userMetadata: userMetadata(fields.get('metadata')),
          },
        });
      } catch (err) {
        body.destroy();
        file.resume();
        reject(err);
      }
    });
    bb.on('error', (err) => reject(new StorageApiError(400, 'INVALID_REQUEST', `multipart/form-data: ${(err as Error).message}`)));
    bb.on('close', () => {
      if (!found) reject(new StorageApiError(400, 'INVALID_REQUEST', 'The form has no file.'));
    });
    pipeToForm(req, bb);
  });
}

/** storage-js's move() and copy(): both within `bucketId` unless `destinationBucket` says otherwise. */
export const transferBody = z.object({
  bucketId: z.string().min(1),
  sourceKey: z.string().min(1),
  destinationKey: z.string().min(1),
  destinationBucket: z.string().min(1).optional(),
  sourceVersionId: z.string().optional(),
  // copy(): copyMetadata false takes these instead of the source's headers, and no user metadata.
  copyMetadata: z.boolean().optional(),
  metadata: z
    .object({ cacheControl: z.string().optional(), contentEncoding: z.string().optional(), mimetype: z.string().optional() })
    .optional(),
});
type TransferBody = z.infer<typeof transferBody>;

/** storage-js's remove(): up to 1,000 paths at once. */
export const removeBody = z.object({ prefixes: z.array(z.string()).min(1).max(1000) });

async function transferOf(c: Context<ApiEnv>): Promise<TransferBody & { destinationBucket: string }> {
  const b = await validBody(c, transferBody);
  validateKey(b.sourceKey);
  validateKey(b.destinationKey);
  return { ...b, destinationBucket: b.destinationBucket ?? b.bucketId };
}

/** copy() with copyMetadata false: the source's headers, these overrides, no user metadata. */
async function replacedHeaders(storage: Services, t: TransferBody, principal: Principal): Promise<ObjectHeaders> {
  const { object: o } = await findObject(storage, t.bucketId, t.sourceKey, principal);
  const m = t.metadata ?? {};
  const encoding = m.contentEncoding ?? o.content_encoding ?? undefined;
  return {
    contentType: m.mimetype ?? o.content_type ?? undefined,
    cacheControl: m.cacheControl ?? o.cache_control ?? undefined,
    // storage-js: an empty string clears the encoding.
    contentEncoding: encoding === '' ? undefined : encoding,
    contentDisposition: o.content_disposition ?? undefined,
    contentLanguage: o.content_language ?? undefined,
    expires: o.expires ?? undefined,
    userMetadata: {},
  };
}

/**
 * Streams an object (or a range of it) with the safe-download headers, read
 * as `principal` (a signed URL's redemption passes the service role: its
 * token is the permission).
 */
export async function sendObject(
  c: Context<ApiEnv>,
  storage: Services,
  { bucket, key }: ObjectTarget,
  principal: Principal,
  /** Who the download is recorded as, when not `principal` (a signed URL's signer). */
  actor: Principal = principal,
  /** A past version (?versionId=); none: the current one. */
  versionId?: string,
): Promise<Response> {
  const found = await findVersion(storage, bucket, key, principal, 'content', versionId);
  const o = found.object;
  const req = c.env.incoming;
  const res: ServerResponse = c.env.outgoing;
  const type = o.content_type ?? 'application/octet-stream';
  const forced = c.req.query('download');
  const headers: Record<string, string | number> = {
    'content-type': type,
    etag: o.etag,
    'last-modified': o.updated_at.toUTCString(),
    'accept-ranges': 'bytes',
    ...contentSafetyHeaders(type),
  };
  if (o.cache_control) headers['cache-control'] = o.cache_control;
  if (forced !== undefined || ACTIVE_TYPES.test(type)) {
    const name = forced || fileNameOf(o);
    headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
  }
  if (notModified(readConditionsOf(req.headers), o)) {
    res.writeHead(304, headers).end();
    return RESPONSE_ALREADY_SENT;
  }
  const range = parseRange(req.headers.range, o.size);
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${o.size}`;
    headers['content-length'] = range.end - range.start + 1;
  } else {
    headers['content-length'] = o.size;
  }
  if (req.method === 'HEAD') {
    res.writeHead(range ? 206 : 200, headers).end();
    return RESPONSE_ALREADY_SENT;
  }
  if (o.size === 0) {
    // Nothing to open, but a download all the same (events, audit trail).
    storage.downloads.record(found.bucket, o, actor);
    res.writeHead(200, headers).end();
    return RESPONSE_ALREADY_SENT;
  }
  const body = await openObject(storage, found, range);
  storage.downloads.record(found.bucket, o, actor, range && `${range.start}-${range.end}`);
  res.writeHead(range ? 206 : 200, headers);
  body.on('error', () => res.destroy());
  res.on('close', () => body.destroy());
  body.pipe(res);
  return RESPONSE_ALREADY_SENT;
}

/**
 * Stores the request's body (raw, or storage-js's multipart form) as the
 * object, written by `principal` (a signed upload URL passes its signer).
 */
export async function receiveUpload(
  c: Context<ApiEnv>,
  storage: Services,
  { bucket, key }: ObjectTarget,
  opts: { principal: Principal; upsert: boolean; defaultSizeLimit: number },
): Promise<ObjectRow> {
  const req = c.env.incoming;
  const source = await uploadSource(req);
  const { object } = await putObject(storage, {
    bucket,
    key,
    body: source.body,
    expectedSize: source.expectedSize,
    headers: source.headers,
    filename: source.filename,
    principal: opts.principal,
    defaultSizeLimit: opts.defaultSizeLimit,
    condition: opts.upsert ? undefined : { ifNoneMatch: '*' },
    expected: { contentMd5: source.contentMd5 },
  });
  return object;
}

export function objectRoutes(storage: Services, defaultSizeLimit: number): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const download = (c: Context<ApiEnv>, route: string, principal: Principal) =>
    sendObject(c, storage, objectTarget(c, route), principal, principal, c.req.query('versionId'));
  const upload = async (c: Context<ApiEnv>, upsert: boolean) => {
    const target = objectTarget(c, '');
    const object = await receiveUpload(c, storage, target, { principal: c.get('principal'), upsert, defaultSizeLimit });
    return c.json(objectJson(target.bucket, object));
  };

  app.get('/info/*', async (c) => {
    const { bucket, key } = objectTarget(c, 'info/');
    const { object } = await findVersion(storage, bucket, key, c.get('principal'), 'metadata', c.req.query('versionId'));
    return c.json(infoJson(bucket, object));
  });

  // Public: anyone, whatever credentials the request carries, in a public bucket, as on Supabase. An
  // object readable anonymously by its own S3 ACL (public-read in a private bucket) is served by S3 and
  // by GET /object/<bucket>/<key>, where RLS reads its ACL; not here, which answers it as missing.
  app.on(['GET', 'HEAD'], '/public/*', async (c) => {
    const principal = actingFrom(ANONYMOUS, clientAddress(c.env.incoming));
    const target = objectTarget(c, 'public/');
    const bucket = await requireBucket(storage, target.bucket);
    if (bucket.policy !== 'public') throw missingObject(bucket, principal, target.key);
    return sendObject(c, storage, target, principal);
  });
  app.on(['GET', 'HEAD'], '/authenticated/*', (c) => {
    if (c.get('principal').kind === 'anonymous') throw new StorageApiError(403, 'ACCESS_DENIED', 'Sign in to read this object.');
    return download(c, 'authenticated/', c.get('principal'));
  });

  // Before the upload routes below, which would take /move and /copy for bucket names.
  app.post('/copy', async (c) => {
    const t = await transferOf(c);
    const principal = c.get('principal');
    const { object } = await copyObjectTo(
      storage,
      {
        sourceBucket: t.bucketId,
        sourceKey: t.sourceKey,
        // A past version (core/versions.ts): copying one over its own key restores it.
        sourceVersionId: t.sourceVersionId,
        bucket: t.destinationBucket,
        key: t.destinationKey,
        principal,
        replaceHeaders: t.copyMetadata === false ? await replacedHeaders(storage, t, principal) : undefined,
      },
      c.req.header('x-upsert') === 'true',
    );
    return c.json(objectJson(t.destinationBucket, object)); // storage-js reads `Key`
  });

  // Copy, then delete the source; undone if the source may not be deleted (core/move.ts).
  app.post('/move', async (c) => {
    const t = await transferOf(c);
    if (t.sourceVersionId !== undefined) throw new StorageApiError(400, 'INVALID_REQUEST', 'sourceVersionId: a move takes the current version; copy a past one.');
    await moveObject(storage, { sourceBucket: t.bucketId, sourceKey: t.sourceKey, bucket: t.destinationBucket, key: t.destinationKey, principal: c.get('principal') });
    return c.json({ message: 'Successfully moved' });
  });

  app.post('/*', (c) => upload(c, c.req.header('x-upsert') === 'true'));
  // storage-js's update(): replaces the object.
  app.put('/*', (c) => upload(c, true));
  app.on(['GET', 'HEAD'], '/*', (c) => download(c, '', c.get('principal')));

  app.delete('/:bucket', async (c) => {
    const { prefixes } = await validBody(c, removeBody);
    const name = c.req.param('bucket');
    const bucket = await requireBucket(storage, name);
    const keys = prefixes.map((p) => p.replace(/^\/+/, ''));
    keys.forEach(validateKey);
    const principal = c.get('principal');
    // What the principal can see of them, to answer with their rows as storage-js expects.
    const seen = await findObjects(storage, bucket, keys, principal);
    const { deleted } = await deleteObjects(storage, name, keys, principal);
    return c.json(seen.filter((o) => deleted.has(o.key)).map((o) => ({ ...infoJson(name, o), bucket_id: name })));
  });

  app.delete('/*', async (c) => {
    const { bucket, key } = objectTarget(c, '');
    const principal = c.get('principal');
    // Its row, to answer with as storage-js expects — when the principal may read it: deleting
    // is its own permission (a bucket policy may deny the read and not the delete).
    const found = await findObject(storage, bucket, key, principal, 'metadata').catch((err: unknown) => {
      if (isDomainError(err) && err.code === 'AccessDenied') return undefined;
      throw err;
    });
    const { deleted } = await deleteObjects(storage, bucket, [key], principal);
    if (!deleted.has(key)) throw new StorageApiError(403, 'ACCESS_DENIED', 'This object may not be deleted by this principal.');
    return c.json({ message: 'Successfully deleted', ...(found ? infoJson(bucket, found.object) : { name: key, bucket_id: bucket }) });
  });

  return app;
}
