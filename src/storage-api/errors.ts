// Failures of the /storage/v1 API as JSON, and the core's S3Error codes
// mapped onto this API's stable codes (so one core serves both protocols).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { jsonError } from '../http/json-error.ts';
import { isS3Error, type S3ErrorCode } from '../s3/errors.ts';

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
  PreconditionFailed: [409, 'DUPLICATE'],
  KeyTooLongError: [400, 'INVALID_KEY'],
  IncompleteBody: [400, 'INCOMPLETE_BODY'],
  InternalError: [500, 'INTERNAL_ERROR'],
};

export function apiErrorResponse(c: Context, err: unknown, log?: Logger): Response {
  if (err instanceof StorageApiError) return jsonError(c, err.status, err.code, err.message);
  if (isS3Error(err)) {
    const [status, code] = FROM_S3[err.code] ?? [400, 'INVALID_REQUEST'];
    return jsonError(c, status, code, err.message);
  }
  log?.error({ err }, '/storage/v1 failure');
  return jsonError(c, 500, 'INTERNAL_ERROR', 'Internal error.');
}
