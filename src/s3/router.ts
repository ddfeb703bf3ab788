// Turns an HTTP request into one S3 endpoint. The table below is the whole
// supported S3 API at a glance; anything else is answered with a clear error.
import { S3Error } from './errors.ts';

export type Endpoint =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'PutObjectLockConfiguration'
  | 'GetObjectRetention'
  | 'PutObjectRetention'
  | 'GetObjectLegalHold'
  | 'PutObjectLegalHold'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetBucketLifecycleConfiguration'
  | 'PutBucketLifecycleConfiguration'
  | 'DeleteBucketLifecycle'
  | 'GetBucketPolicy'
  | 'PutBucketPolicy'
  | 'DeleteBucketPolicy'
  | 'GetBucketPolicyStatus'
  | 'GetPublicAccessBlock'
  | 'PutPublicAccessBlock'
  | 'DeletePublicAccessBlock'
  | 'GetBucketEncryption'
  | 'GetObjectLockConfiguration'
  | 'GetBucketNotificationConfiguration'
  | 'GetBucketWebsite'
  | 'GetBucketReplication'
  | 'GetBucketLogging'
  | 'GetBucketAccelerateConfiguration'
  | 'GetBucketRequestPayment'
  | 'ListObjectVersions'
  | 'GetObjectAttributes'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'PreflightRequest'
  | 'GetBucketAcl'
  | 'GetBucketOwnershipControls'
  | 'PutBucketOwnershipControls'
  | 'DeleteBucketOwnershipControls'
  | 'PutBucketAcl'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CopyObject'
  | 'DeleteObjects'
  | 'PostObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'ListMultipartUploads';

type Target = 'service' | 'bucket' | 'object';

interface Route {
  method: string;
  target: Target;
  /** A query parameter that selects the operation: `name` present, or `name=value`. */
  query?: string;
  /** A second selecting parameter, also required (UploadPart: partNumber and uploadId). */
  andQuery?: string;
  /** A sub-resource parameter the operation reads without being selected by it (GetObject ?partNumber). */
  accepts?: string;
  /** A request header that selects the operation (CopyObject: x-amz-copy-source). */
  header?: string;
  endpoint: Endpoint;
}

// Order matters: routes with a selecting query parameter come before the
// plain route for the same method and target.
const ROUTES: readonly Route[] = [
  { method: 'GET', target: 'service', endpoint: 'ListBuckets' },
  { method: 'GET', target: 'bucket', query: 'location', endpoint: 'GetBucketLocation' },
  { method: 'GET', target: 'bucket', query: 'versioning', endpoint: 'GetBucketVersioning' },
  { method: 'PUT', target: 'bucket', query: 'versioning', endpoint: 'PutBucketVersioning' },
  { method: 'GET', target: 'bucket', query: 'versions', endpoint: 'ListObjectVersions' },
  { method: 'GET', target: 'bucket', query: 'tagging', endpoint: 'GetBucketTagging' },
  { method: 'PUT', target: 'bucket', query: 'tagging', endpoint: 'PutBucketTagging' },
  { method: 'DELETE', target: 'bucket', query: 'tagging', endpoint: 'DeleteBucketTagging' },
  // Lifecycle rules (s3/ops/lifecycle.ts).
  { method: 'GET', target: 'bucket', query: 'lifecycle', endpoint: 'GetBucketLifecycleConfiguration' },
  { method: 'PUT', target: 'bucket', query: 'lifecycle', endpoint: 'PutBucketLifecycleConfiguration' },
  { method: 'DELETE', target: 'bucket', query: 'lifecycle', endpoint: 'DeleteBucketLifecycle' },
  // Bucket policies and Block Public Access (s3/ops/bucket-policy.ts).
  { method: 'GET', target: 'bucket', query: 'policy', endpoint: 'GetBucketPolicy' },
  { method: 'PUT', target: 'bucket', query: 'policy', endpoint: 'PutBucketPolicy' },
  { method: 'DELETE', target: 'bucket', query: 'policy', endpoint: 'DeleteBucketPolicy' },
  { method: 'GET', target: 'bucket', query: 'policyStatus', endpoint: 'GetBucketPolicyStatus' },
  { method: 'GET', target: 'bucket', query: 'publicAccessBlock', endpoint: 'GetPublicAccessBlock' },
  { method: 'PUT', target: 'bucket', query: 'publicAccessBlock', endpoint: 'PutPublicAccessBlock' },
  { method: 'DELETE', target: 'bucket', query: 'publicAccessBlock', endpoint: 'DeletePublicAccessBlock' },
  // Configurations this server does not implement, read as S3 reads them on a
  // bucket without one (s3/ops/configuration.ts); writing them is NotImplemented.
  { method: 'GET', target: 'bucket', query: 'encryption', endpoint: 'GetBucketEncryption' },
  { method: 'GET', target: 'bucket', query: 'object-lock', endpoint: 'GetObjectLockConfiguration' },
  { method: 'PUT', target: 'bucket', query: 'object-lock', endpoint: 'PutObjectLockConfiguration' },
  { method: 'GET', target: 'object', query: 'retention', endpoint: 'GetObjectRetention' },
  { method: 'PUT', target: 'object', query: 'retention', endpoint: 'PutObjectRetention' },
  { method: 'GET', target: 'object', query: 'legal-hold', endpoint: 'GetObjectLegalHold' },
  { method: 'PUT', target: 'object', query: 'legal-hold', endpoint: 'PutObjectLegalHold' },
  { method: 'GET', target: 'bucket', query: 'notification', endpoint: 'GetBucketNotificationConfiguration' },
  { method: 'GET', target: 'bucket', query: 'website', endpoint: 'GetBucketWebsite' },
  { method: 'GET', target: 'bucket', query: 'replication', endpoint: 'GetBucketReplication' },
  { method: 'GET', target: 'bucket', query: 'logging', endpoint: 'GetBucketLogging' },
  { method: 'GET', target: 'bucket', query: 'accelerate', endpoint: 'GetBucketAccelerateConfiguration' },
  { method: 'GET', target: 'bucket', query: 'requestPayment', endpoint: 'GetBucketRequestPayment' },
  { method: 'GET', target: 'object', query: 'attributes', endpoint: 'GetObjectAttributes' },
  { method: 'GET', target: 'bucket', query: 'cors', endpoint: 'GetBucketCors' },
  { method: 'PUT', target: 'bucket', query: 'cors', endpoint: 'PutBucketCors' },
  { method: 'DELETE', target: 'bucket', query: 'cors', endpoint: 'DeleteBucketCors' },
  { method: 'OPTIONS', target: 'bucket', endpoint: 'PreflightRequest' },
  { method: 'OPTIONS', target: 'object', endpoint: 'PreflightRequest' },
  { method: 'GET', target: 'bucket', query: 'acl', endpoint: 'GetBucketAcl' },
  { method: 'GET', target: 'bucket', query: 'ownershipControls', endpoint: 'GetBucketOwnershipControls' },
  { method: 'PUT', target: 'bucket', query: 'ownershipControls', endpoint: 'PutBucketOwnershipControls' },
  { method: 'DELETE', target: 'bucket', query: 'ownershipControls', endpoint: 'DeleteBucketOwnershipControls' },
  { method: 'PUT', target: 'bucket', query: 'acl', endpoint: 'PutBucketAcl' },
  { method: 'GET', target: 'object', query: 'acl', endpoint: 'GetObjectAcl' },
  { method: 'PUT', target: 'object', query: 'acl', endpoint: 'PutObjectAcl' },
  { method: 'GET', target: 'object', query: 'tagging', endpoint: 'GetObjectTagging' },
  { method: 'PUT', target: 'object', query: 'tagging', endpoint: 'PutObjectTagging' },
  { method: 'DELETE', target: 'object', query: 'tagging', endpoint: 'DeleteObjectTagging' },
  { method: 'GET', target: 'bucket', query: 'uploads', endpoint: 'ListMultipartUploads' },
  { method: 'POST', target: 'object', query: 'uploads', endpoint: 'CreateMultipartUpload' },
  { method: 'PUT', target: 'object', query: 'partNumber', andQuery: 'uploadId', header: 'x-amz-copy-source', endpoint: 'UploadPartCopy' },
  { method: 'PUT', target: 'object', query: 'partNumber', andQuery: 'uploadId', endpoint: 'UploadPart' },
  { method: 'POST', target: 'object', query: 'uploadId', endpoint: 'CompleteMultipartUpload' },
  { method: 'DELETE', target: 'object', query: 'uploadId', endpoint: 'AbortMultipartUpload' },
  { method: 'GET', target: 'object', query: 'uploadId', endpoint: 'ListParts' },
  { method: 'POST', target: 'bucket', query: 'delete', endpoint: 'DeleteObjects' },
  // Browser form upload: the credentials are in the form (a SigV4 POST policy).
  { method: 'POST', target: 'bucket', endpoint: 'PostObject' },
  { method: 'GET', target: 'bucket', query: 'list-type=2', endpoint: 'ListObjectsV2' },
  { method: 'GET', target: 'bucket', endpoint: 'ListObjects' },
  { method: 'PUT', target: 'bucket', endpoint: 'CreateBucket' },
  { method: 'DELETE', target: 'bucket', endpoint: 'DeleteBucket' },
  { method: 'HEAD', target: 'bucket', endpoint: 'HeadBucket' },
  { method: 'PUT', target: 'object', header: 'x-amz-copy-source', endpoint: 'CopyObject' },
  { method: 'PUT', target: 'object', endpoint: 'PutObject' },
  { method: 'GET', target: 'object', accepts: 'partNumber', endpoint: 'GetObject' },
  { method: 'HEAD', target: 'object', accepts: 'partNumber', endpoint: 'HeadObject' },
  { method: 'DELETE', target: 'object', endpoint: 'DeleteObject' },
];

/** The object operations that take ?versionId= (S3: "To ... a specific version, use the versionId subresource"). */
const VERSION_ENDPOINTS: ReadonlySet<Endpoint> = new Set<Endpoint>([
  'GetObject', 'HeadObject', 'DeleteObject', 'GetObjectTagging', 'PutObjectTagging', 'DeleteObjectTagging', 'GetObjectAttributes',
  'GetObjectRetention', 'PutObjectRetention', 'GetObjectLegalHold', 'PutObjectLegalHold', 'GetObjectAcl', 'PutObjectAcl',
]);

/**
 * Query parameters that name an S3 sub-resource, or another server's API at
 * S3's paths (MinIO's `?events=` bucket notification listener). A request
 * carrying one that no route above selects is an operation we do not
 * implement; answering it as the plain route (e.g. PUT ?acl as PutObject, or
 * GET ?events as a listing) would silently do harm. Other parameters are
 * ignored, as S3 ignores them (`x-id`, which the AWS SDK for JavaScript adds).
 */
const SUBRESOURCES = new Set([
  'abac', 'accelerate', 'acl', 'analytics', 'annotation', 'attributes', 'cors', 'delete', 'encryption',
  'events', 'intelligent-tiering', 'inventory', 'legal-hold', 'lifecycle', 'location', 'logging',
  'metadataConfiguration', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'partNumber', 'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore',
  'retention', 'select', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions',
  'website',
]);

export interface S3Route {
  endpoint: Endpoint;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
}

function decodePathPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/**
 * Virtual-hosted-style addressing: with a base domain configured, a Host of
 * `<bucket>.<domain>[:port]` names the bucket and the whole path is the key.
 * Any other Host (the domain itself, an IP address) means path-style.
 */
export function bucketFromHost(host: string | undefined, domain: string | undefined): string | undefined {
  if (!domain || !host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = '.' + domain.toLowerCase();
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
}

/**
 * Path-style /<bucket>/<key...>, or virtual-hosted-style when the Host named
 * the bucket; the key is taken verbatim (`//` and all).
 */
export function routeS3(
  method: string,
  rawUrl: string,
  hostBucket?: string,
  headers: Readonly<Record<string, string | string[] | undefined>> = {},
): S3Route {
  // A request target carries no fragment (RFC 9112 §3.2); the signature
  // never covers one, so a '#' kept in the key would let a captured signed
  // request be replayed onto another key. Clients send it as %23.
  if (rawUrl.includes('#')) throw new S3Error('InvalidURI');
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI');
  let bucket: string;
  let key: string;
  if (hostBucket !== undefined) {
    bucket = hostBucket;
    key = decodePathPart(rawPath.slice(1));
  } else {
    const slash = rawPath.indexOf('/', 1);
    bucket = decodePathPart(slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash));
    key = slash === -1 ? '' : decodePathPart(rawPath.slice(slash + 1));
  }
  // Postgres text cannot hold NUL: refuse it here, for every endpoint, rather
  // than let a lookup by that key or parameter fail as an internal error.
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object key must not contain a NUL character.');
  for (const [name, value] of query) {
    if (name.includes('\0') || value.includes('\0')) throw new S3Error('InvalidArgument', 'Query parameters must not contain a NUL character.');
  }
  const target: Target = bucket === '' ? 'service' : key === '' ? 'bucket' : 'object';

  const candidates = ROUTES.filter((r) => r.target === target);
  const route = candidates.find(
    (r) =>
      r.method === method &&
      (r.query === undefined || queryMatches(query, r.query)) &&
      (r.andQuery === undefined || queryMatches(query, r.andQuery)) &&
      (r.header === undefined || headers[r.header] !== undefined),
  );
  const handled = [route?.query, route?.andQuery, route?.accepts].map((s) => s?.split('=')[0]);
  // A version id names which version an object operation acts on (core/versions.ts).
  if (route && VERSION_ENDPOINTS.has(route.endpoint)) handled.push('versionId');
  // Elsewhere 'null' names the only thing there is, as before versions existed; any other id is refused.
  else if (query.get('versionId') === 'null') query.delete('versionId');
  else if (query.has('versionId') && route) {
    throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: query.get('versionId') ?? '' });
  }
  const unhandled = [...query.keys()].find((k) => SUBRESOURCES.has(k) && !handled.includes(k));
  // A CORS preflight names the URL of the request it asks about, sub-resources and all.
  if (unhandled !== undefined && route?.endpoint !== 'PreflightRequest') {
    throw new S3Error('NotImplemented', `This server does not implement ${method} ?${unhandled} on ${target === 'object' ? 'an object' : `a ${target}`}.`);
  }
  if (!route) throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: target.toUpperCase() });
  return {
    endpoint: route.endpoint,
    bucket: bucket || undefined,
    key: key || undefined,
    query,
  };
}

function queryMatches(query: URLSearchParams, selector: string): boolean {
  const [name, value] = selector.split('=');
  return value === undefined ? query.has(name) : query.get(name) === value;
}
