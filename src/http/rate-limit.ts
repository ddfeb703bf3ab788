// Rate limits (issue 15; README "Rate limits"): per signed URL, per principal
// and per client address, each a token bucket per key (http/token-bucket.ts)
// set by AEROSTORE_RATE_LIMIT_SIGNED_URL, _PRINCIPAL and _ADDRESS. Which
// requests each one counts, and where it is checked:
//
//  - address: every request but health probes, keyed by the socket's peer
//    address (an IPv6 client by its /64, which one client usually holds
//    whole). Checked first, in http/app.ts, before routing into a protocol:
//    it costs nothing, so it also bounds what bad credentials cost.
//  - signed URL: the redemptions of one URL — an S3 presigned URL by its
//    verified signature, a /storage/v1 signed URL by its verified token.
//    Checked once the URL is verified (HMACs over the request and a cached
//    key, CPU only) and before anything else: no database, no body. Verified
//    first so that only real URLs take a place in the LRU, and a forged one
//    cannot push a real one out; and so that spellings of one URL (query
//    order) share one bucket.
//  - principal: every S3 and /storage/v1 request acting as a signed-in
//    principal (its user id, or the access key of one without), including
//    the presigned and signed URLs it signed — those act as it, and would
//    otherwise be a way around its limit. (S3 POST Object forms authenticate
//    in the operation, after the form is read, and STS before any principal
//    exists: the address limit is theirs.) The service role is exempt: it is the operator and the
//    application's back end (load tests, migrations, bulk jobs), and whoever
//    holds it owns the deployment anyway. Anonymous requests are not a
//    principal: the address limit is theirs.
//
// A signed URL's request takes from its URL's bucket and its signer's
// together, or from neither. The buckets live in this process: with several
// server processes each one enforces the limits on what it receives (README).
import { isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { isService, type Principal } from '../principals/principal.ts';
import { clientAddress, normalAddress } from './client-address.ts';
import { TokenBuckets, type RateLimit, type TokenBucketOptions } from './token-bucket.ts';

export type LimitName = 'signed-url' | 'principal' | 'address';

/** The configured limits; null: off. */
export interface RateLimitSettings {
  signedUrl: RateLimit | null;
  principal: RateLimit | null;
  address: RateLimit | null;
}

/** The default signed-URL limit: 10 requests a second, 50 at once (README "Rate limits"). Principal and address: off. */
export const DEFAULT_SIGNED_URL_LIMIT: RateLimit = { rate: 10, burst: 50 };

const WHOSE: Record<LimitName, string> = {
  'signed-url': 'for this signed URL',
  principal: 'with these credentials',
  address: 'from this client address',
};

/** A request refused by a rate limit: S3 answers SlowDown (503), the JSON APIs 429; both with Retry-After. */
export class RateLimited extends Error {
  constructor(
    readonly limit: LimitName,
    /** Whole seconds until a retry can succeed, at least 1 (the Retry-After header). */
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many requests ${WHOSE[limit]}: please reduce your request rate, and retry after ${retryAfterSeconds} s.`);
    this.name = 'RateLimited';
  }
}

export interface LimitStats {
  limit: RateLimit | null;
  /** Keys (URLs, principals, addresses) tracked now. */
  keys: number;
  /** Requests refused since the process started. */
  refused: number;
}

export class RateLimits {
  private readonly buckets: Partial<Record<LimitName, TokenBuckets>> = {};
  private readonly refused: Record<LimitName, number> = { 'signed-url': 0, principal: 0, address: 0 };

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly log: Logger,
    options: TokenBucketOptions = {},
  ) {
    const named: Array<[LimitName, RateLimit | null]> = [
      ['signed-url', settings.signedUrl],
      ['principal', settings.principal],
      ['address', settings.address],
    ];
    for (const [name, limit] of named) if (limit) this.buckets[name] = new TokenBuckets(limit, options);
  }

  /** The address limit: the refusal to answer, or undefined. Every request but health probes, before anything else. */
  checkAddress(req: IncomingMessage): RateLimited | undefined {
    const buckets = this.buckets.address;
    const key = buckets && addressKey(clientAddress(req));
    if (!buckets || key === undefined) return undefined;
    const taken = buckets.tryTake(key);
    return taken.ok ? undefined : this.refuse(req, 'address', taken.retryAfterMs);
  }

  /**
   * After authentication: a signed URL's limit (`signedUrl`, its key:
   * presignedUrlKey or signedUrlTokenKey) and the principal's, both or
   * neither. Throws RateLimited.
   */
  admit(req: IncomingMessage, { signedUrl, principal }: { signedUrl?: string; principal: Principal }): void {
    const checks: Array<[LimitName, TokenBuckets, string]> = [];
    if (signedUrl !== undefined && this.buckets['signed-url']) checks.push(['signed-url', this.buckets['signed-url'], signedUrl]);
    const who = principalKey(principal);
    if (who !== undefined && this.buckets.principal) checks.push(['principal', this.buckets.principal, who]);
    for (const [name, buckets, key] of checks) {
      const wait = buckets.waitMs(key);
      if (wait > 0) throw this.refuse(req, name, wait, name === 'principal' ? { principal: key } : {});
    }
    for (const [, buckets, key] of checks) buckets.take(key);
  }

  /** Per limit: its setting, the keys tracked and the requests refused (for the metrics, once there are some). */
  stats(): Record<LimitName, LimitStats> {
    const of = (name: LimitName, limit: RateLimit | null): LimitStats => ({ limit, keys: this.buckets[name]?.size ?? 0, refused: this.refused[name] });
    return {
      'signed-url': of('signed-url', this.settings.signedUrl),
      principal: of('principal', this.settings.principal),
      address: of('address', this.settings.address),
    };
  }

  private refuse(req: IncomingMessage, limit: LimitName, waitMs: number, fields: Record<string, string> = {}): RateLimited {
    this.refused[limit]++;
    const refusal = new RateLimited(limit, Math.max(1, Math.ceil(waitMs / 1000)));
    // Every refused request leaves a line. The path only: a query may hold the URL's credentials.
    this.log.info(
      { method: req.method, path: (req.url ?? '/').split('?')[0], address: clientAddress(req), limit, retryAfter: refusal.retryAfterSeconds, ...fields },
      'rate limited',
    );
    return refusal;
  }
}

/** An S3 presigned URL's key: its verified signature (the one the server computed, so any spelling of the URL is one key). */
export function presignedUrlKey(signature: string): string {
  return `s3:${signature}`;
}

/** A /storage/v1 signed URL's key: its verified token's MAC (only the server can make another token with the same claims). */
export function signedUrlTokenKey(token: string): string {
  return `token:${token.slice(token.lastIndexOf('.') + 1)}`;
}

/** The principal's key: its user id, or the access key of one without; none for anonymous requests and the service role. */
export function principalKey(p: Principal): string | undefined {
  if (p.kind !== 'user' || isService(p)) return undefined;
  if (p.userId !== null) return `user:${p.userId}`;
  return p.accessKeyId === undefined ? undefined : `key:${p.accessKeyId}`;
}

/**
 * A client address's key (the socket's peer, as the audit trail records it:
 * http/client-address.ts): an IPv4 address as it is, an IPv6 address by its
 * /64 — the least a site is given, so one client cannot mint a fresh key per
 * request.
 */
export function addressKey(address: string | undefined): string | undefined {
  const ip = normalAddress(address);
  if (ip === undefined || !isIPv6(ip)) return ip;
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of a valid IPv6 address, without leading zeros (an embedded IPv4 tail, which a /64 never reaches, as zeros). */
function ipv6Groups(address: string): string[] {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (s: string) => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const first = parts(head);
  const last = tail === undefined ? [] : parts(tail);
  const zeros = Array<string>(8 - first.length - last.length).fill('0');
  return [...first, ...zeros, ...last].map((g) => parseInt(g, 16).toString(16));
}
