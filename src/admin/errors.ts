// Failures of the admin API (/admin/v1) as JSON (http/json-error.ts). The
// admin API words the domain's failures (core/errors.ts) with the S3 code and
// status an operator already knows from the S3 API; this table says so once.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { DomainCode, DomainError } from '../core/errors.ts';
import { jsonError } from '../http/json-error.ts';

/** A domain failure's status and code in the admin API; its message is the DomainError's. */
const FROM_DOMAIN: Record<DomainCode, [ContentfulStatusCode, string]> = {
  NoSuchBucket: [404, 'NoSuchBucket'],
  InvalidBucketName: [400, 'InvalidBucketName'],
  BucketAlreadyExists: [409, 'BucketAlreadyExists'],
  BucketAlreadyOwnedByYou: [409, 'BucketAlreadyOwnedByYou'],
  BucketNotEmpty: [409, 'BucketNotEmpty'],
  NoSuchKey: [404, 'NoSuchKey'],
  NoSuchVersion: [404, 'NoSuchVersion'],
  DeleteMarkerNotReadable: [405, 'MethodNotAllowed'],
  InvalidBucketState: [409, 'InvalidBucketState'],
  ObjectLocked: [403, 'AccessDenied'],
  KeyTooLong: [400, 'KeyTooLongError'],
  PreconditionFailed: [412, 'PreconditionFailed'],
  KeyExists: [409, 'KeyExists'],
  InvalidRange: [416, 'InvalidRange'],
  Quarantined: [403, 'ObjectQuarantined'],
  NotScanned: [403, 'ObjectNotScanned'],
  EntityTooLarge: [400, 'EntityTooLarge'],
  EntityTooSmall: [400, 'EntityTooSmall'],
  IncompleteBody: [400, 'IncompleteBody'],
  DeclaredTypeNotAllowed: [415, 'UnsupportedMediaType'],
  DetectedTypeNotAllowed: [422, 'ContentTypeNotAllowed'],
  BadDigest: [400, 'BadDigest'],
  InvalidDigest: [400, 'InvalidDigest'],
  ContentSha256Mismatch: [400, 'ContentSha256Mismatch'],
  MalformedTrailer: [400, 'MalformedTrailer'],
  NoSuchUpload: [404, 'NoSuchUpload'],
  InvalidPart: [400, 'InvalidPart'],
  InvalidPartOrder: [400, 'InvalidPartOrder'],
  InvalidTag: [400, 'InvalidTag'],
  MalformedXML: [400, 'MalformedXML'],
  InvalidArgument: [400, 'InvalidArgument'],
  InvalidRequest: [400, 'InvalidRequest'],
  BadRequest: [400, 'BadRequest'],
  NotSupported: [501, 'NotImplemented'],
  AclNotSupported: [400, 'AccessControlListNotSupported'],
  AccessDenied: [403, 'AccessDenied'],
  ExpiredToken: [400, 'ExpiredToken'],
  InvalidToken: [400, 'InvalidToken'],
  InvalidAccessKeyId: [403, 'InvalidAccessKeyId'],
  SignatureDoesNotMatch: [403, 'SignatureDoesNotMatch'],
  RequestTimeTooSkewed: [403, 'RequestTimeTooSkewed'],
  AuthorizationHeaderMalformed: [400, 'AuthorizationHeaderMalformed'],
  AuthorizationQueryParametersError: [400, 'AuthorizationQueryParametersError'],
};

/** A domain failure as the admin API's JSON answer. */
export function adminDomainError(c: Context, err: DomainError): Response {
  const [status, code] = FROM_DOMAIN[err.code];
  return jsonError(c, status, code, err.message);
}

/** Credentials that do not hold: 400 when the request is malformed, 403 otherwise (never the domain's other statuses). */
export function adminAuthError(c: Context, err: DomainError): Response {
  const [status, code] = FROM_DOMAIN[err.code];
  return jsonError(c, status === 400 ? 400 : 403, code, err.message);
}
