// GET /storage/v1/file/{bucket}/{key}: the File Storage Blueprint's file
// record (core/file-record.ts), read as the caller — what it may not read is
// 404, as an object download. `?urls=download,upload` adds presigned URLs:
// `download_url` (served as an attachment under the original file name) and
// `upload_url` (replaces the file: the caller must be able to write it),
// each valid `expires_in` seconds, 3600 by default as the blueprint says.
import { Hono } from 'hono';
import { findObject } from '../core/objects.ts';
import { fileNameOf, fileRecordOf } from '../core/file-record.ts';
import type { Services } from '../core/services.ts';
import type { ApiEnv } from '../http/env.ts';
import { requestOrigin } from '../http/origin.ts';
import { StorageApiError } from './errors.ts';
import { objectTarget } from './objects.ts';
import { lifetimeOf, signDownload, signUpload, type SignedUrlSettings } from './signed-urls.ts';

/** The blueprint's lifetime of a presigned URL, either way. */
const BLUEPRINT_EXPIRY = { download: 3600, upload: 3600 };
const URL_KINDS = ['download', 'upload'] as const;

export function fileRoutes(storage: Services, { signer, maxExpiry }: SignedUrlSettings): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/*', async (c) => {
    const target = objectTarget(c, '', '/file/');
    const asked = (c.req.query('urls') ?? '').split(',').map((u) => u.trim()).filter(Boolean);
    const unknown = asked.filter((u) => !(URL_KINDS as readonly string[]).includes(u));
    if (unknown.length > 0) throw new StorageApiError(400, 'INVALID_REQUEST', `urls: download and/or upload, not ${unknown.join(', ')}.`);
    const principal = c.get('principal');
    const { bucket, object } = await findObject(storage, target.bucket, target.key, principal, 'metadata');
    const origin = `${requestOrigin(c.env.incoming)}/storage/v1`;
    const urls: { download_url?: string; upload_url?: string } = {};
    if (asked.includes('download')) {
      const signed = signDownload(signer, principal, bucket, object, lifetimeOf(c, {}, 'download', maxExpiry, BLUEPRINT_EXPIRY));
      urls.download_url = `${origin}${signed.url}&download=${encodeURIComponent(fileNameOf(object))}`;
    }
    if (asked.includes('upload')) {
      const signed = await signUpload(storage, signer, principal, bucket, object.key, true, lifetimeOf(c, {}, 'upload', maxExpiry, BLUEPRINT_EXPIRY));
      urls.upload_url = `${origin}${signed.encoded}`;
    }
    return c.json(fileRecordOf(bucket.name, object, urls));
  });
  return app;
}
