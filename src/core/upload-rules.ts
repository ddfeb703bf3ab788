// A bucket's upload rules (file_size_limit, allowed_mime_types), checked the
// same way for every API: on what the request declares before any body is
// read, then on the bytes as they stream (the size limit is ingest's maxSize).
import { S3Error } from '../s3/errors.ts';
import type { BucketRow, Storage } from './storage.ts';

/**
 * The largest object this upload may store: the bucket's limit, else the
 * API's default (the native API has one, S3 does not), never above the
 * server's maximum object size.
 */
export function sizeLimitFor(storage: Storage, bucket: BucketRow, apiDefault?: number): number {
  return Math.min(storage.maxObjectSize, bucket.file_size_limit ?? apiDefault ?? Infinity);
}

/** `type/subtype` against the bucket's patterns (`image/png`, `image/*`); parameters are ignored. */
export function mimeTypeAllowed(bucket: BucketRow, contentType: string | undefined): boolean {
  const patterns = bucket.allowed_mime_types;
  if (!patterns || patterns.length === 0) return true;
  const type = (contentType ?? 'application/octet-stream').split(';')[0].trim().toLowerCase();
  return patterns.some((p) => {
    const pattern = p.toLowerCase();
    return pattern.endsWith('/*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
  });
}

/** The checks on what an upload declares, before its body is read (and before 100 Continue). */
export function checkDeclaredUpload(bucket: BucketRow, limit: number, size: number | undefined, contentType: string | undefined): void {
  if (size !== undefined && size > limit) throw new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(limit) });
  if (!mimeTypeAllowed(bucket, contentType)) {
    throw new S3Error('UnsupportedMediaType', `Content type ${contentType ?? '(none)'} is not allowed in bucket ${bucket.name}.`);
  }
}
