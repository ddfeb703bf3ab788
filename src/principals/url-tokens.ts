// Tokens of signed URLs (/storage/v1/object/sign and /object/upload/sign):
// the token carries what it grants — one kind of access to one object, until
// when, on whose behalf — MACed with a server key, and is kept nowhere (an
// upload token's one use is recorded when it is spent, by the caller).
//
// A name is not an identity: a key can be deleted and written again by
// someone else, a bucket deleted and re-created under its name, an object
// overwritten in place (its row, and row id, stay). So a token names what it
// was made for by identity too: a download token the bucket's id, the
// object's id and its content's sha256 — the exact bytes its signer could
// read when signing; an upload token the bucket's id. The caller checks
// these against the database when the token is redeemed (signed-urls.ts).
// Tokens of format version 1, which named only the bucket and key, are
// refused as invalid.
//
// Format: base64url(JSON payload) "." base64url(HMAC-SHA256(key, first part)).
// The payload names its key (`kid`) so that keys can rotate: the first key
// signs, every listed key verifies.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal, Role } from './principal.ts';

export type UrlTokenKind = 'download' | 'upload';

/** What a token grants. */
export interface UrlTokenClaims {
  kind: UrlTokenKind;
  bucket: string;
  key: string;
  /** The bucket's id when signed: a bucket re-created under the same name is another bucket. */
  bucketId: string;
  /** Download tokens: the object's row id when signed (a key deleted and written again is another row). */
  objectId?: string;
  /** Download tokens: the sha256 of the content signed (an overwrite keeps the row id, not the content). */
  sha256?: string;
  /** The signer's user id and role: an upload acts as the signer, so RLS sees the real owner. */
  sub?: string;
  role?: Role;
  /** Upload tokens: may replace an existing object. */
  upsert?: boolean;
  /** Upload tokens: the id their single use is recorded under. */
  jti?: string;
}

/** The token's payload as signed. */
interface UrlTokenPayload extends UrlTokenClaims {
  /** 2: bound to the bucket's (and a download's object's) identity. Version 1 tokens are refused. */
  v: 2;
  kid: string;
  /** Unix seconds. */
  exp: number;
}

export interface VerifiedUrlToken extends UrlTokenClaims {
  kid: string;
  expiresAt: Date;
}

/** Why a token was refused: not ours, altered, or for another object or kind — or merely too old. */
export type UrlTokenRefusal = 'invalid' | 'expired';

export type UrlTokenCheck = { ok: true; token: VerifiedUrlToken } | { ok: false; reason: UrlTokenRefusal };

export interface UrlSigningKey {
  kid: string;
  key: Buffer;
}

/** A key id as AEROSTORE_URL_SIGNING_KEYS writes it. */
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const ROLES: readonly Role[] = ['service', 'authenticated'];
/** Longer than any honest token (a 1,024-byte key, JSON-escaped, in base64url): refused before any work. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The key derived from the master key: the default, kid 1. */
export const DERIVED_URL_SIGNING_KID = '1';
/** In AEROSTORE_URL_SIGNING_KEYS, the word that stands for the derived key (to rotate away from it gracefully). */
export const DERIVED = 'derived';
export type ConfiguredUrlSigningKey = UrlSigningKey | typeof DERIVED;

/**
 * AEROSTORE_URL_SIGNING_KEYS: `kid:base64-of-32-bytes` or `derived`,
 * comma-separated; the first signs. Throws a message fit for the
 * configuration error.
 */
export function parseUrlSigningKeys(text: string): ConfiguredUrlSigningKey[] {
  const keys = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i): ConfiguredUrlSigningKey => {
      if (entry === DERIVED) return DERIVED;
      const colon = entry.indexOf(':');
      const kid = colon === -1 ? '' : entry.slice(0, colon);
      // Messages name the entry, never its text: it holds a secret.
      if (!KID.test(kid)) throw new Error(`entry ${i + 1}: each key is kid:base64 (the kid 1 to 32 of A-Z a-z 0-9 _ -) or ${DERIVED}`);
      const key = Buffer.from(entry.slice(colon + 1), 'base64');
      if (key.length !== 32) throw new Error(`key ${kid}: base64 of exactly 32 bytes`);
      return { kid, key };
    });
  if (keys.length === 0) throw new Error('at least one kid:base64 key');
  const kids = keys.map((k) => (k === DERIVED ? DERIVED_URL_SIGNING_KID : k.kid));
  if (new Set(kids).size !== keys.length) throw new Error(`each kid at most once (${DERIVED} is kid ${DERIVED_URL_SIGNING_KID})`);
  return keys;
}

export class UrlSigner {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly signingKid: string;

  /** `keys[0]` signs; all of them verify. */
  constructor(
    keys: readonly UrlSigningKey[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    if (keys.length === 0) throw new Error('a URL signer needs at least one key');
    for (const k of keys) if (!KID.test(k.kid) || k.key.length !== 32) throw new Error(`URL-signing key ${k.kid}: a 32-byte key with a short id`);
    this.keys = new Map(keys.map((k) => [k.kid, k.key]));
    this.signingKid = keys[0].kid;
  }

  /** A token for `claims`, good for `expiresInSeconds` from now; upload tokens get a fresh jti. */
  sign(claims: Omit<UrlTokenClaims, 'jti'>, expiresInSeconds: number): { token: string; expiresAt: Date; jti?: string } {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0) throw new RangeError('expiresInSeconds must be a positive integer');
    const exp = Math.floor(this.clock().getTime() / 1000) + expiresInSeconds;
    const jti = claims.kind === 'upload' ? randomBytes(16).toString('base64url') : undefined;
    const payload: UrlTokenPayload = { v: 2, kid: this.signingKid, ...claims, ...(jti !== undefined && { jti }), exp };
    const payloadPart = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const key = this.keys.get(this.signingKid) as Buffer;
    return { token: `${payloadPart}.${mac(key, payloadPart)}`, expiresAt: new Date(exp * 1000), ...(jti !== undefined && { jti }) };
  }

  /**
   * The token's claims when it is ours, unaltered, grants `expected` (this
   * kind of access to exactly this bucket name and key) and has not expired.
   * The MAC is checked before anything in the payload is trusted; only the
   * key id is read before it, to pick the key. Whether the bucket and object
   * are still the ones it was signed for (bucketId, objectId, sha256) is the
   * caller's to check: that takes the database.
   */
  verify(token: string, expected: { kind: UrlTokenKind; bucket: string; key: string }): UrlTokenCheck {
    const invalid = { ok: false, reason: 'invalid' } as const;
    if (token.length > MAX_TOKEN_LENGTH) return invalid;
    const parts = token.split('.');
    if (parts.length !== 2) return invalid;
    const [payloadPart, given] = parts;
    const untrusted = parseJson(payloadPart);
    const kid = untrusted && typeof untrusted === 'object' && 'kid' in untrusted ? untrusted.kid : undefined;
    const key = typeof kid === 'string' ? this.keys.get(kid) : undefined;
    if (!key) return invalid;
    const expectedMac = Buffer.from(mac(key, payloadPart));
    const givenMac = Buffer.from(given);
    if (givenMac.length !== expectedMac.length || !timingSafeEqual(givenMac, expectedMac)) return invalid;
    if (!isPayload(untrusted)) return invalid;
    const p = untrusted;
    if (p.kind !== expected.kind || p.bucket !== expected.bucket || p.key !== expected.key) return invalid;
    if (p.exp * 1000 <= this.clock().getTime()) return { ok: false, reason: 'expired' };
    const { v: _v, exp, ...claims } = p;
    return { ok: true, token: { ...claims, expiresAt: new Date(exp * 1000) } };
  }
}

/**
 * Who a token acts for: its signer (the user id and role it was signed
 * with), or no one for a download token signed anonymously.
 */
export function signerOf(token: UrlTokenClaims): Principal {
  if (token.role === undefined) return { kind: 'anonymous' };
  return { kind: 'user', via: 'url-token', userId: token.sub ?? null, role: token.role };
}

function mac(key: Buffer, payloadPart: string): string {
  return createHmac('sha256', key).update(payloadPart).digest('base64url');
}

function parseJson(payloadPart: string): unknown {
  try {
    return JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function isPayload(value: unknown): value is UrlTokenPayload {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  const optional = (field: string, type: 'string' | 'boolean') => p[field] === undefined || typeof p[field] === type;
  return (
    p.v === 2 &&
    typeof p.kid === 'string' &&
    (p.kind === 'download' || p.kind === 'upload') &&
    typeof p.bucket === 'string' &&
    typeof p.key === 'string' &&
    typeof p.bucketId === 'string' &&
    // A download is of the exact content signed: without its identity, it would be of whatever holds the name.
    (p.kind === 'upload' || (typeof p.objectId === 'string' && typeof p.sha256 === 'string')) &&
    optional('objectId', 'string') &&
    optional('sha256', 'string') &&
    Number.isInteger(p.exp) &&
    optional('sub', 'string') &&
    (p.role === undefined || ROLES.includes(p.role as Role)) &&
    optional('upsert', 'boolean') &&
    optional('jti', 'string') &&
    // An upload is spent once, by its id: an upload token without one would be reusable.
    (p.kind === 'download' || typeof p.jti === 'string')
  );
}
