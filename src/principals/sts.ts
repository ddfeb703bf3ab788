// Temporary credentials (STS), kept nowhere: the session token carries who and
// until when, MACed with a key derived from the master key, and the secret
// access key is derived from the token. A request signed with an ASIA key id
// and its x-amz-security-token therefore resolves without a database lookup.
// The price is that issued credentials cannot be revoked before they expire,
// short of rotating the master key — so they never outlive the identity they
// were issued for: a principal with an expiry of its own (a JWT's exp) gets
// credentials that end no later than it does.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../core/errors.ts';
import type { KeyResolver, ResolvedKey } from './keys.ts';
import type { Principal, Role } from './principal.ts';

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What a session token says, as JSON in its first part. */
interface SessionClaims {
  v: 1;
  akid: string;
  sub?: string;
  role: Role;
  /** Unix seconds. */
  exp: number;
}

/** AWS-style alphabet; ASIA marks temporary keys, as in AWS. */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ID_PREFIX = 'ASIA';
const ROLES: readonly Role[] = ['service', 'authenticated'];

export class StsCredentials implements KeyResolver {
  constructor(
    private readonly key: Buffer,
    private readonly clock: () => Date = () => new Date(),
  ) {
    if (key.length !== 32) throw new Error('the STS session-token key must be 32 bytes');
  }

  /**
   * Credentials for `principal`, good for `durationSeconds` from `now` or
   * until the principal's own expiresAt, whichever comes first. A principal
   * already expired (or with less than a second left) gets none: RangeError.
   */
  issue(principal: Principal & { kind: 'user' }, durationSeconds: number, now: Date = this.clock()): TemporaryCredentials {
    if (!Number.isInteger(durationSeconds) || durationSeconds <= 0) throw new RangeError('durationSeconds must be a positive integer');
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const exp = Math.min(nowSeconds + durationSeconds, principal.expiresAt === undefined ? Infinity : Math.floor(principal.expiresAt / 1000));
    if (exp <= nowSeconds) throw new RangeError('the principal has expired: no credentials outlive it');
    const akid = ID_PREFIX + Array.from(randomBytes(16), (b) => ID_ALPHABET[b & 31]).join('');
    const claims: SessionClaims = { v: 1, akid, ...(principal.userId !== null && { sub: principal.userId }), role: principal.role, exp };
    const payloadPart = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return {
      accessKeyId: akid,
      secretAccessKey: this.secretFor(payloadPart),
      sessionToken: `${payloadPart}.${this.mac(payloadPart)}`,
      expiration: new Date(exp * 1000),
    };
  }

  async resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedKey | undefined> {
    if (sessionToken === undefined || !accessKeyId.startsWith(ID_PREFIX)) return undefined;
    const claims = this.open(sessionToken);
    if (!claims || claims.akid !== accessKeyId) throw new DomainError('InvalidToken');
    if (claims.exp * 1000 <= this.clock().getTime()) throw new DomainError('ExpiredToken');
    const payloadPart = sessionToken.slice(0, sessionToken.indexOf('.'));
    return {
      secretAccessKey: this.secretFor(payloadPart),
      principal: { kind: 'user', via: 'sts', userId: claims.sub ?? null, role: claims.role, accessKeyId, expiresAt: claims.exp * 1000 },
    };
  }

  /** The token's claims when its MAC is ours and its payload well formed; the MAC is checked before parsing. */
  private open(token: string): SessionClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 2) return undefined;
    const [payloadPart, mac] = parts;
    const expected = Buffer.from(this.mac(payloadPart));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    return isSessionClaims(claims) ? claims : undefined;
  }

  private mac(payloadPart: string): string {
    return createHmac('sha256', this.key).update(payloadPart).digest('base64url');
  }

  /** base64url never contains a newline, so 'secret\n' keeps this input apart from the token MAC's. */
  private secretFor(payloadPart: string): string {
    return createHmac('sha256', this.key).update('secret\n' + payloadPart).digest('base64url');
  }
}

function isSessionClaims(value: unknown): value is SessionClaims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    c.v === 1 &&
    typeof c.akid === 'string' &&
    (c.sub === undefined || typeof c.sub === 'string') &&
    ROLES.includes(c.role as Role) &&
    Number.isInteger(c.exp)
  );
}
