// Every failure the S3 front end can report, as data: code → HTTP status and
// S3's default message. Codes and statuses follow the "List of error codes"
// table of the Amazon S3 API reference (ErrorResponses.html). The domain's
// failures (core/errors.ts) reach the wire through FROM_DOMAIN below; S3Error
// is for the protocol's own failures, raised inside s3/.
import { type DomainCode, DomainError } from '../core/errors.ts';

export const S3_ERRORS = {
  AccessDenied: [403, 'Access Denied'],
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BadRequest: [400, 'Bad Request'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket that you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IllegalLocationConstraintException: [400, 'The specified location constraint is not valid.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS access key ID that you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketAclWithObjectOwnership: [400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidChunkSizeError: [403, 'Only the last chunk is allowed to have a size less than 8192 bytes'],
  InvalidDigest: [400, 'The Content-MD5 or checksum value that you specified is not valid.'],
  InvalidPart: [
    400,
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
  ],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedTrailerError: [
    400,
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  ],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  // Bucket policies (s3/ops/bucket-policy.ts): the message says what is wrong, in S3's words.
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchWebsiteConfiguration: [404, 'The specified bucket does not have a website configuration'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  ReplicationConfigurationNotFoundError: [404, 'The replication configuration was not found'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchUpload: [
    404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  ],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented.'],
  PreconditionFailed: [412, 'At least one of the preconditions you specified did not hold.'],
  RequestTimeTooSkewed: [403, "The difference between the request time and the server's time is too large."],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  // A rate limit (http/rate-limit.ts) refused the request; answered with Retry-After.
  SlowDown: [503, 'Please reduce your request rate.'],
  // Not an AWS code: a bucket's allowed_mime_types refused the declared type.
  UnsupportedMediaType: [415, 'The content type of this object is not allowed in this bucket.'],
  // Not an AWS code: the content's magic bytes name a type the bucket does not allow.
  ContentTypeNotAllowed: [422, 'The content of this object is of a type not allowed in this bucket.'],
  // Not AWS codes: the virus scanner's verdict withholds the object's bytes
  // from every principal, the service role included (README "Virus scanning").
  ObjectQuarantined: [403, 'The object is quarantined: the virus scanner found its content infected.'],
  ObjectNotScanned: [403, 'The object has not been scanned for viruses yet; try again shortly.'],
  UnresolvableGrantByEmailAddress: [400, 'The e-mail address you provided does not match any account on record.'],
  UnexpectedContent: [400, 'This request does not support content.'],
  // Not an AWS code (MinIO answers 507 too): the data directory's disk is full.
  InsufficientStorage: [507, 'The server has no space left to store this request; try again later.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** A failure to report to the client as an S3 XML error body. */
export class S3Error extends Error {
  readonly status: number;
  /** Extra elements S3 adds to some errors (e.g. BucketName, Key, ArgumentName). */
  readonly details: Record<string, string>;

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    details: Record<string, string> = {},
    /** Headers S3 sends with this error (a delete marker's). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? S3_ERRORS[code][1]);
    this.name = 'S3Error';
    this.status = S3_ERRORS[code][0];
    this.details = details;
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}

/** Each domain failure's S3 code; the status is the code's, the message and details the DomainError's. */
const FROM_DOMAIN: Record<DomainCode, S3ErrorCode> = {
  NoSuchBucket: 'NoSuchBucket',
  InvalidBucketName: 'InvalidBucketName',
  BucketAlreadyExists: 'BucketAlreadyExists',
  BucketAlreadyOwnedByYou: 'BucketAlreadyOwnedByYou',
  BucketNotEmpty: 'BucketNotEmpty',
  NoSuchKey: 'NoSuchKey',
  KeyTooLong: 'KeyTooLongError',
  PreconditionFailed: 'PreconditionFailed',
  KeyExists: 'PreconditionFailed',
  InvalidRange: 'InvalidRange',
  NoSuchVersion: 'NoSuchVersion',
  DeleteMarkerNotReadable: 'MethodNotAllowed',
  InvalidBucketState: 'InvalidBucketState',
  ObjectLocked: 'AccessDenied',
  Quarantined: 'ObjectQuarantined',
  NotScanned: 'ObjectNotScanned',
  EntityTooLarge: 'EntityTooLarge',
  EntityTooSmall: 'EntityTooSmall',
  IncompleteBody: 'IncompleteBody',
  DeclaredTypeNotAllowed: 'UnsupportedMediaType',
  DetectedTypeNotAllowed: 'ContentTypeNotAllowed',
  BadDigest: 'BadDigest',
  ContentSha256Mismatch: 'XAmzContentSHA256Mismatch',
  MalformedTrailer: 'MalformedTrailerError',
  InvalidDigest: 'InvalidDigest',
  NoSuchUpload: 'NoSuchUpload',
  InvalidPart: 'InvalidPart',
  InvalidPartOrder: 'InvalidPartOrder',
  InvalidTag: 'InvalidTag',
  MalformedXML: 'MalformedXML',
  InvalidArgument: 'InvalidArgument',
  InvalidRequest: 'InvalidRequest',
  BadRequest: 'BadRequest',
  NotSupported: 'NotImplemented',
  AclNotSupported: 'AccessControlListNotSupported',
  AccessDenied: 'AccessDenied',
  ExpiredToken: 'ExpiredToken',
  InvalidToken: 'InvalidToken',
  InvalidAccessKeyId: 'InvalidAccessKeyId',
  SignatureDoesNotMatch: 'SignatureDoesNotMatch',
  RequestTimeTooSkewed: 'RequestTimeTooSkewed',
  AuthorizationHeaderMalformed: 'AuthorizationHeaderMalformed',
  AuthorizationQueryParametersError: 'AuthorizationQueryParametersError',
};

/** A thrown value the S3 front end answers as it is: its own S3Error, or a domain failure in S3's terms. */
export function asS3Error(err: unknown): S3Error | undefined {
  if (err instanceof S3Error) return err;
  if (err instanceof DomainError) {
    const marker = err.deleteMarker;
    const headers: Record<string, string> = marker
      ? { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId, 'last-modified': marker.lastModified.toUTCString() }
      : {};
    return new S3Error(FROM_DOMAIN[err.code], err.message, err.details, headers);
  }
  return undefined;
}

/** The error S3 answers when a hex x-amz-content-sha256 disagrees with the body received. */
export function contentSha256Mismatch(claimed: string, computed: string): S3Error {
  return new S3Error('XAmzContentSHA256Mismatch', undefined, {
    ClientComputedContentSHA256: claimed,
    S3ComputedContentSHA256: computed,
  });
}
