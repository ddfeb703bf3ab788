// A bucket's upload rules (file_size_limit, allowed_mime_types), checked the
// same way for every API: on what the request declares before any body is
// read, then on the bytes as they stream (the size limit is ingest's maxSize),
// then on what the first bytes say the content is (a PDF sent as image/png).
import { fileTypeFromBuffer } from 'file-type';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';
import type { BucketRow } from './bucket.ts';
import type { StagedBlob } from '../blobs/store.ts';

/**
 * The largest object this upload may store: the bucket's limit, else the
 * API's default (the native API has one, S3 does not), never above the
 * server's maximum object size.
 */
export function sizeLimitFor(storage: Services, bucket: BucketRow, apiDefault?: number): number {
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
  if (size !== undefined && size > limit) throw new DomainError('EntityTooLarge', undefined, { MaxSizeAllowed: String(limit) });
  if (!mimeTypeAllowed(bucket, contentType)) {
    throw new DomainError('DeclaredTypeNotAllowed', `Content type ${contentType ?? '(none)'} is not allowed in bucket ${bucket.name}.`);
  }
}

/**
 * The type the content's first bytes reveal (magic numbers, file-type) must
 * be allowed too, whatever the client declared. Content without a signature
 * (plain text, JSON...) cannot be told apart and passes on its declared type.
 * Runs on the staged body's first bytes, before anything is committed.
 */
export async function checkSniffedType(bucket: BucketRow, staged: Pick<StagedBlob, 'head'>): Promise<void> {
  if (!bucket.allowed_mime_types || bucket.allowed_mime_types.length === 0) return;
  // The body's start as ingest() saw it pass (HEAD_BYTES, file-type's own sample size): a sealed temp file shows only ciphertext.
  const detected = await fileTypeFromBuffer(staged.head);
  if (detected && !mimeTypeAllowed(bucket, detected.mime)) {
    throw new DomainError('DetectedTypeNotAllowed', `The content is ${detected.mime}, which is not allowed in bucket ${bucket.name}.`);
  }
}
