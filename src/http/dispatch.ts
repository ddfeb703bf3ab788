// Which application answers a request, and on which path: decided once, on
// the request target exactly as the client sent it (and signed it).
//
// S3 owns the root of the URL space; the service's own APIs (and the web
// console) live under literal prefixes. A URL parser (WHATWG, as @hono/node-server builds the
// Request) resolves `..` and `%2e%2e`, turns `\` into `/`, and Hono decodes
// `%61` before routing, while SigV4 for S3 normalises nothing ("Create a
// canonical request": the path as sent). Routing on the parsed path let a
// root-presigned GET for the object key `uploads/../../admin/v1/keys` be
// answered by the admin API (issue 13). Here, a key with `..` in it is a key
// in its bucket, as on S3, whichever API names it.
//
// The service APIs are Hono applications. They route on `routingPath` (the
// raw path, http/app.ts passes it as Hono's getPath), so their routes, their
// parameters and their authentication all read the same bytes; `c.req.url`
// is the parsed URL and must not be used for a path. A target with a
// fragment is refused: the authenticator drops it, a router would not.
import { RESERVED_BUCKET_NAMES } from '../core/buckets.ts';

export type ServiceApi = 'health' | 'admin' | 'storage' | 'metrics' | 'console';

export type Destination =
  /** S3 (and STS at the service root): the handler reads the raw target itself. */
  | { api: 's3' }
  /** One of the service's Hono applications; `refuse` says why its target cannot be served as sent. */
  | { api: ServiceApi; refuse?: string };

/**
 * The service APIs by literal, case-sensitive prefix: the path is the prefix
 * (`exact`) or starts with the prefix and `/` (unless `subpaths` is false).
 * `/%61dmin/v1`, `/admin//v1` or `/ADMIN/v1` is not one of them (it is S3's,
 * and names a bucket that cannot exist). `/health` alone stays S3's, so that
 * `PUT /health` is answered as the CreateBucket it is (InvalidBucketName).
 * `/metrics` is the one path Prometheus asks for, nothing under it, and
 * `/metrics/…` stays S3's (keys of a bucket that cannot exist). `/metrics`
 * and `/console` alone (`exact: 'reads'`) are the service's for GET and HEAD
 * only: `PUT /metrics` or `DELETE /console` is S3's CreateBucket or
 * DeleteBucket, answered as S3 answers a reserved name.
 */
export const SERVICE_PREFIXES: ReadonlyArray<{ prefix: string; exact: boolean | 'reads'; subpaths?: false; api: ServiceApi }> = [
  { prefix: '/health', exact: false, api: 'health' },
  { prefix: '/admin/v1', exact: true, api: 'admin' },
  { prefix: '/storage/v1', exact: true, api: 'storage' },
  { prefix: '/metrics', exact: 'reads', subpaths: false, api: 'metrics' },
  // The web console's files (http/console.ts); `/console` alone redirects to `/console/`.
  { prefix: '/console', exact: 'reads', api: 'console' },
];

// A service prefix must begin with a name no bucket can take, or a bucket of
// that name would have keys no S3 client could reach.
for (const { prefix } of SERVICE_PREFIXES) {
  const first = prefix.split('/')[1];
  if (!RESERVED_BUCKET_NAMES.has(first)) throw new Error(`service prefix ${prefix}: "${first}" is not a reserved bucket name (core/buckets.ts)`);
}

/**
 * Where a request goes. `target` is `req.url` as Node hands it over (the
 * request-target of the request line); `hostBucket` the bucket a virtual-hosted
 * Host names (s3/router.ts bucketFromHost), with which the whole path is a key.
 * Only an origin-form target (`/...`) can name a service API; absolute-form
 * (`http://host/...`) and asterisk-form (`*`) go to S3, whose router refuses
 * them (InvalidURI), as it always has. `method` only matters on a bare
 * prefix (`exact: 'reads'`).
 */
export function destination(target: string, hostBucket: string | undefined, method = 'GET'): Destination {
  if (hostBucket !== undefined || !target.startsWith('/')) return { api: 's3' };
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  for (const { prefix, exact, subpaths, api } of SERVICE_PREFIXES) {
    const bare = exact === true || (exact === 'reads' && (method === 'GET' || method === 'HEAD'));
    if ((bare && path === prefix) || (subpaths !== false && path.startsWith(prefix + '/'))) {
      const refuse = rewriteOf(target);
      return refuse ? { api, refuse } : { api };
    }
  }
  return { api: 's3' };
}

/**
 * The path a service API routes on: the target up to its query, as sent
 * (Hono decodes route parameters itself). Only for origin-form targets, the
 * only ones `destination` hands to a service API.
 */
export function routingPath(target: string | undefined): string {
  const t = target ?? '/';
  const q = t.indexOf('?');
  return q === -1 ? t : t.slice(0, q);
}

/**
 * Why a service API cannot take `target` as sent, or undefined. A fragment is
 * never part of a request target (RFC 9112 §3.2); the SigV4 authenticator
 * drops it (principals/sigv4.ts splitTarget), a router would not. A backslash in
 * the path is what URL parsers read as `/`; @hono/node-server refuses it with
 * a bare 400, this says why in the API's JSON.
 */
function rewriteOf(target: string): string | undefined {
  if (target.includes('#')) return 'The request target must not contain a fragment (#).';
  if (routingPath(target).includes('\\')) return 'The request path must not contain a backslash (URL parsers read it as /); percent-encode it as %5C.';
  return undefined;
}
