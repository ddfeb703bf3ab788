// Failures of the /storage/v1 API as JSON: this API's own (StorageApiError),
// and the domain's (core/errors.ts) mapped onto this API's stable codes, so
// that one core serves both protocols.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { jsonError } from '../http/json-error.ts';
import { type DomainCode, isDomainError } from '../core/errors.ts';

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

/** A domain failure's status and code in this API (its message is the DomainError's); anything unlisted is a 400 INVALID_REQUEST. */
const FROM_DOMAIN: Partial<Record<DomainCode, [ContentfulStatusCode, string]>> = {
  NoSuchBucket: [404, 'BUCKET_NOT_FOUND'],
  NoSuchKey: [404, 'FILE_NOT_FOUND'],
  NoSuchVersion: [404, 'FILE_NOT_FOUND'],
  DeleteMarkerNotReadable: [404, 'FILE_NOT_FOUND'],
  InvalidBucketState: [409, 'INVALID_BUCKET_STATE'],
  ObjectLocked: [403, 'OBJECT_LOCKED'],
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
  DeclaredTypeNotAllowed: [415, 'INVALID_MIME_TYPE'],
  DetectedTypeNotAllowed: [422, 'FILE_CONTENT_TYPE_NOT_ALLOWED'],
  KeyExists: [409, 'DUPLICATE'],
  PreconditionFailed: [412, 'PRECONDITION_FAILED'],
  KeyTooLong: [400, 'INVALID_KEY'],
  IncompleteBody: [400, 'INCOMPLETE_BODY'],
  InvalidRange: [416, 'INVALID_RANGE'],
  Quarantined: [403, 'FILE_QUARANTINED'],
  NotScanned: [403, 'FILE_NOT_SCANNED'],
};

/** Whether this API answers the value as it is (its own failure or the domain's), as opposed to a failure of the server or the connection. */
export const isStorageAnswer = (err: unknown): boolean => err instanceof StorageApiError || isDomainError(err);

/** The JSON answer to a failure that classifyFailure (http/failure.ts) found answerable, or to a full disk or an internal failure. */
export function apiErrorResponse(c: Context, err: unknown, failure: 'answer' | 'disk-full' | 'internal' = 'answer'): Response {
  if (err instanceof StorageApiError) return jsonError(c, err.status, err.code, err.message);
  if (isDomainError(err)) {
    const [status, code] = FROM_DOMAIN[err.code] ?? [400, 'INVALID_REQUEST'];
    return jsonError(c, status, code, err.message);
  }
  if (failure === 'disk-full') return jsonError(c, 507, 'INSUFFICIENT_STORAGE', 'The server has no space left to store this request; try again later.');
  return jsonError(c, 500, 'INTERNAL_ERROR', 'Internal error.');
}
