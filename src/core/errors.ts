// What can go wrong in the domain (core, blobs, principals), as data: each
// code is named for what happened and carries a default sentence for people.
// No HTTP here: each protocol has one table from these codes to its wire form
// (s3/errors.ts, storage-api/errors.ts, admin/errors.ts), and http/failure.ts
// sorts out what is not a DomainError (a client gone, a full disk, a bug).
//
// Many codes keep S3's names where S3's name is the domain's word. The
// authentication codes are SigV4's own (AWS defined the scheme and its
// failures); a few are ours: Quarantined, NotScanned, DeclaredTypeNotAllowed,
// DetectedTypeNotAllowed.

export const DOMAIN_ERRORS = {
  // Buckets
  NoSuchBucket: 'The specified bucket does not exist.',
  InvalidBucketName: 'The specified bucket is not valid.',
  BucketAlreadyExists: 'The requested bucket name is not available.',
  BucketAlreadyOwnedByYou: 'Your previous request to create the named bucket succeeded and you already own it.',
  BucketNotEmpty: 'The bucket that you tried to delete is not empty.',
  // Objects and keys
  NoSuchKey: 'The specified key does not exist.',
  KeyTooLong: 'Your key is too long.',
  PreconditionFailed: 'At least one of the preconditions you specified did not hold.',
  /** A create-only write (If-None-Match: *, an upload without upsert, a move) found the key taken. */
  KeyExists: 'At least one of the preconditions you specified did not hold.',
  InvalidRange: 'The requested range is not satisfiable',
  // Versions (core/versions.ts)
  NoSuchVersion: 'The specified version does not exist.',
  /** A version id that names a delete marker, asked for content (S3 answers 405). */
  DeleteMarkerNotReadable: 'The specified method is not allowed against this resource.',
  /** A change the bucket's state forbids (versioning suspended under object lock, ...). */
  InvalidBucketState: 'The request is not valid with the current state of the bucket.',
  /** Object lock (migration 0025) protects the version: S3 answers AccessDenied. */
  ObjectLocked: 'Access Denied because object protected by object lock.',
  // The virus scanner's verdict withholds the object's bytes from every principal (README "Virus scanning").
  Quarantined: 'The object is quarantined: the virus scanner found its content infected.',
  NotScanned: 'The object has not been scanned for viruses yet; try again shortly.',
  // Upload rules and the bytes received
  EntityTooLarge: 'Your proposed upload exceeds the maximum allowed object size.',
  EntityTooSmall: 'Your proposed upload is smaller than the minimum allowed object size.',
  IncompleteBody: 'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  /** A bucket's allowed_mime_types refused the declared Content-Type. */
  DeclaredTypeNotAllowed: 'The content type of this object is not allowed in this bucket.',
  /** The content's magic bytes name a type the bucket does not allow. */
  DetectedTypeNotAllowed: 'The content of this object is of a type not allowed in this bucket.',
  BadDigest: 'The Content-MD5 or checksum value that you specified did not match what the server received.',
  InvalidDigest: 'The Content-MD5 or checksum value that you specified is not valid.',
  /** The body is not the one whose SHA-256 the client signed. */
  ContentSha256Mismatch: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  /** A checksum announced for the trailer of a chunked body never came, or came malformed. */
  MalformedTrailer: 'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  // Multipart uploads
  NoSuchUpload: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  InvalidPart:
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
  InvalidPartOrder: 'The list of parts was not in ascending order. Parts must be ordered by part number.',
  // Tags, CORS rules, and requests the domain cannot make sense of
  InvalidTag: 'The tag provided was not a valid tag.',
  MalformedXML: 'The XML you provided was not well-formed or did not validate against our published schema.',
  InvalidArgument: 'Invalid Argument',
  InvalidRequest: 'Invalid Request',
  BadRequest: 'Bad Request',
  /** Something S3 offers that this server does not (yet); the message says what to do instead. */
  NotSupported: 'A header you provided implies functionality that is not implemented.',
  // ACLs (core/acl.ts): a bucket with Object Ownership BucketOwnerEnforced has them disabled.
  AclNotSupported: 'The bucket does not allow ACLs',
  // Principals: who may, and credentials that do not hold
  AccessDenied: 'Access Denied',
  ExpiredToken: 'The provided token has expired.',
  InvalidToken: 'The provided token is malformed or otherwise invalid.',
  InvalidAccessKeyId: 'The AWS access key ID that you provided does not exist in our records.',
  SignatureDoesNotMatch: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  RequestTimeTooSkewed: "The difference between the request time and the server's time is too large.",
  AuthorizationHeaderMalformed: 'The authorization header is malformed.',
  AuthorizationQueryParametersError: 'Error parsing the X-Amz-Credential parameter.',
} as const satisfies Record<string, string>;

export type DomainCode = keyof typeof DOMAIN_ERRORS;

/** The key's latest version (or the version asked for) is a delete marker: S3 says so in headers. */
export interface DeleteMarkerFact {
  versionId: string;
  lastModified: Date;
}

/** A failure of the domain, for the protocol in front to put in its own words. */
export class DomainError extends Error {
  /** Facts about the failure (BucketName, Key, ArgumentName, ...); S3 sends them as extra elements. */
  readonly details: Record<string, string>;

  constructor(
    readonly code: DomainCode,
    message?: string,
    details: Record<string, string> = {},
    /** NoSuchKey of a key hidden by a delete marker, DeleteMarkerNotReadable: the marker. */
    readonly deleteMarker?: DeleteMarkerFact,
  ) {
    super(message ?? DOMAIN_ERRORS[code]);
    this.name = 'DomainError';
    this.details = details;
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
