// Failures of the /storage/v1 API as JSON, and the core's S3Error codes
// mapped onto this API's stable codes (so one core serves both protocols).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { jsonError } from '../http/json-error.ts';
import { isDiskFull } from '../blobs/store.ts';
import { isS3Error, S3Error, type S3ErrorCode } from '../s3/errors.ts';

export class StorageApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StorageApiError';
  }
}

/**
 * Signed URLs (signed-urls.ts). A token that is not ours, was altered, or
 * names another object or kind is 403 INVALID_SIGNATURE. A download URL past
 * its time is 400 TOKEN_EXPIRED (Supabase answers 400 too; an expired bearer
 * JWT is 401 TOKEN_EXPIRED, below); an upload URL's is 410
 * FILE_UPLOAD_URL_EXPIRED. An upload URL is good for one upload: another
 * attempt while one is under way or after it succeeded is 409 TOKEN_ALREADY_USED.
 */
export const signedUrlErrors = {
  invalidSignature: () => new StorageApiError(403, 'INVALID_SIGNATURE', 'The signed URL is not valid for this object.'),
  downloadExpired: () => new StorageApiError(400, 'TOKEN_EXPIRED', 'The signed URL has expired.'),
  uploadExpired: () => new StorageApiError(410, 'FILE_UPLOAD_URL_EXPIRED', 'The signed upload URL has expired.'),
  uploadUsed: () => new StorageApiError(409, 'TOKEN_ALREADY_USED', 'The signed upload URL has already been used.'),
};

/** S3 error code → this API's status and code; anything unlisted is a 400 INVALID_REQUEST. */
const FROM_S3: Partial<Record<S3ErrorCode, [ContentfulStatusCode, string]>> = {
  NoSuchBucket: [404, 'BUCKET_NOT_FOUND'],
  NoSuchKey: [404, 'FILE_NOT_FOUND'],
  BucketAlreadyExists: [409, 'BUCKET_ALREADY_EXISTS'],
  BucketAlreadyOwnedByYou: [409, 'BUCKET_ALREADY_EXISTS'],
  BucketNotEmpty: [409, 'BUCKET_NOT_EMPTY'],
  InvalidBucketName: [400, 'INVALID_BUCKET_NAME'],
  AccessDenied: [403, 'ACCESS_DENIED'],
  ExpiredToken: [401, 'TOKEN_EXPIRED'],
  InvalidToken: [401, 'INVALID_TOKEN'],
  InvalidAccessKeyId: [403, 'ACCESS_DENIED'],
  SignatureDoesNotMatch: [403, 'ACCESS_DENIED'],
  EntityTooLarge: [413, 'FILE_TOO_LARGE'],
  UnsupportedMediaType: [415, 'INVALID_MIME_TYPE'],
  ContentTypeNotAllowed: [422, 'FILE_CONTENT_TYPE_NOT_ALLOWED'],
  PreconditionFailed: [409, 'DUPLICATE'],
  KeyTooLongError: [400, 'INVALID_KEY'],
  IncompleteBody: [400, 'INCOMPLETE_BODY'],
  InvalidRange: [416, 'INVALID_RANGE'],
  InternalError: [500, 'INTERNAL_ERROR'],
  InsufficientStorage: [507, 'INSUFFICIENT_STORAGE'],
  ObjectQuarantined: [403, 'FILE_QUARANTINED'],
  ObjectNotScanned: [403, 'FILE_NOT_SCANNED'],
};

export function apiErrorResponse(c: Context, err: unknown, log?: Logger): Response {
  if (err instanceof StorageApiError) return jsonError(c, err.status, err.code, err.message);
  if (isS3Error(err)) {
    const [status, code] = FROM_S3[err.code] ?? [400, 'INVALID_REQUEST'];
    return jsonError(c, status, code, err.message);
  }
  if (isDiskFull(err)) {
    log?.error({ err }, 'no space left in the data directory');
    return apiErrorResponse(c, new S3Error('InsufficientStorage'));
  }
  log?.error({ err }, '/storage/v1 failure');
  return jsonError(c, 500, 'INTERNAL_ERROR', 'Internal error.');
}
