// CORS rules per bucket and S3's rule matching (Amazon S3 User Guide,
// "Using cross-origin resource sharing"): the first rule whose origin,
// method and every requested header match applies.
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { changeBucket, COLUMNS, requireBucket } from './buckets.ts';
import type { BucketRow, CorsRule } from './bucket.ts';
import type { Services } from './services.ts';

export const CORS_METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE']);
const MAX_RULES = 100;

/** S3 wildcards: at most one `*`, matching any run of characters. Header names compare case-insensitively. */
function wildcardMatches(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

export function validateCorsRules(rules: CorsRule[]): void {
  if (rules.length === 0 || rules.length > MAX_RULES) {
    throw new DomainError('MalformedXML', `A CORS configuration holds 1 to ${MAX_RULES} rules.`);
  }
  for (const rule of rules) {
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) {
      throw new DomainError('MalformedXML', 'Each CORSRule needs an AllowedOrigin and an AllowedMethod.');
    }
    const maxAge = rule.maxAgeSeconds;
    if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && maxAge >= 0)) {
      throw new DomainError('MalformedXML', 'MaxAgeSeconds must be a whole number of seconds.');
    }
    for (const method of rule.allowedMethods) {
      if (!CORS_METHODS.has(method)) {
        throw new DomainError('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`);
      }
    }
    for (const origin of rule.allowedOrigins) {
      if ((origin.match(/\*/g) ?? []).length > 1) {
        throw new DomainError('InvalidRequest', `AllowedOrigin "${origin}" can not have more than one wildcard.`);
      }
    }
    for (const header of rule.allowedHeaders) {
      if ((header.match(/\*/g) ?? []).length > 1) {
        throw new DomainError('InvalidRequest', `AllowedHeader "${header}" can not have more than one wildcard.`);
      }
    }
  }
}

/** The rule that allows `origin` to use `method` with these request headers, if any. */
export function matchCorsRule(rules: CorsRule[], origin: string, method: string, requestHeaders: string[] = []): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcardMatches(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((a) => wildcardMatches(a, h, true))),
  );
}

export async function setBucketCors(storage: Services, bucketName: string, principal: Principal, rules: CorsRule[] | null): Promise<void> {
  if (rules) validateCorsRules(rules);
  const bucket = await requireBucket(storage, bucketName);
  await changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set cors = ${rules === null ? null : tx.json(rules as never)} where id = ${bucket.id}
    returning ${COLUMNS(tx)}`);
}
