// Which application answers a request: decided once, on the request target
// exactly as the client sent it (and signed it).
//
// S3 owns the root of the URL space; the service's own APIs live under three
// literal prefixes. The choice is made on the raw target, never on a parsed
// URL: a URL parser (WHATWG, as @hono/node-server builds the Request) resolves
// `..` and `%2e%2e`, turns `\` into `/`, and Hono decodes `%61` before routing,
// while SigV4 for S3 normalises nothing ("Create a canonical request": the
// path as sent). Routing on the parsed path let a root-presigned GET for the
// object key `uploads/../../admin/v1/keys` be answered by the admin API
// (issue 13). Here, a key with `..` in it is a key in its bucket, as on S3.
//
// The service APIs are Hono applications that route on the parsed path and
// authenticate the raw one; a target under their prefix that a URL parser
// would rewrite is refused (400, in that API's JSON), so that the two agree.
import { RESERVED_BUCKET_NAMES } from '../core/buckets.ts';

export type ServiceApi = 'health' | 'admin' | 'storage';

export type Destination =
  /** S3 (and STS at the service root): the handler reads the raw target itself. */
  | { api: 's3' }
  /** One of the service's Hono applications; `refuse` says why its path cannot be served as sent. */
  | { api: ServiceApi; refuse?: string };

/**
 * The service APIs by literal, case-sensitive prefix: the path is the prefix
 * (`exact`) or starts with the prefix and `/`. `/%61dmin/v1`, `/admin//v1` or
 * `/ADMIN/v1` is not one of them (it is S3's, and names a bucket that cannot
 * exist). `/health` alone stays S3's, so that `PUT /health` is answered as
 * the CreateBucket it is (InvalidBucketName).
 */
export const SERVICE_PREFIXES: ReadonlyArray<{ prefix: string; exact: boolean; api: ServiceApi }> = [
  { prefix: '/health', exact: false, api: 'health' },
  { prefix: '/admin/v1', exact: true, api: 'admin' },
  { prefix: '/storage/v1', exact: true, api: 'storage' },
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
 * them (InvalidURI), as it always has.
 */
export function destination(target: string, hostBucket: string | undefined): Destination {
  if (hostBucket !== undefined || !target.startsWith('/')) return { api: 's3' };
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  for (const { prefix, exact, api } of SERVICE_PREFIXES) {
    if ((exact && path === prefix) || path.startsWith(prefix + '/')) {
      const refuse = rewriteOf(target, path);
      return refuse ? { api, refuse } : { api };
    }
  }
  return { api: 's3' };
}

// The code points WHATWG's URL parser percent-encodes in a path ("path
// percent-encode set": C0 controls, space, " # < > ? ` { }, and above ~).
// Encoding them changes no segment, and Hono decodes them back.
const PATH_PERCENT_ENCODE = /[\x00-\x20"#<>?`{}\x7f-\u{10ffff}]/gu;

const percentEncode = (ch: string): string =>
  [...Buffer.from(ch, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');

/**
 * Why a URL parser would read `target` differently from its bytes, or
 * undefined when it would not: dot segments (raw or `%2e`-encoded, in any
 * case), backslashes, a fragment (never part of a request target, RFC 9112
 * §3.2). Compared on the parser's own output, so nothing it rewrites is missed.
 */
function rewriteOf(target: string, path: string): string | undefined {
  if (target.includes('#')) return 'The request target must not contain a fragment (#).';
  let parsed: string;
  try {
    parsed = new URL(`http://aerostore.invalid${path}`).pathname;
  } catch {
    return 'The request path is not a valid URL path.';
  }
  if (parsed === path.replace(PATH_PERCENT_ENCODE, percentEncode)) return undefined;
  return 'The request path has dot segments (. or .., also %2e-encoded) or backslashes, which a URL parser would rewrite; send the path it means.';
}
