// JWT bearer tokens (Supabase-style): HS256 with a shared secret, and/or
// asymmetric algorithms with keys from a JWKS. The algorithm decides which key
// source verifies a token, and each source only accepts its own family, so an
// HS256 token "signed" with a public key from the JWKS (algorithm confusion)
// never meets that key as an HMAC secret.
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { ANONYMOUS, type Principal } from './principal.ts';

export class JwtError extends Error {
  constructor(
    readonly reason: 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

export interface JwtVerifier {
  /** The token's principal; throws JwtError when the token is expired or not acceptable. */
  verify(token: string): Promise<Principal>;
}

const SYMMETRIC = ['HS256'];
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Seconds of clock skew tolerated on exp and nbf. */
const CLOCK_TOLERANCE = 5;
/** How long a verified token is remembered at most (its exp comes first). */
const VERIFIED_TTL_MS = 5 * 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** undefined when neither secret nor jwks is configured. */
export async function loadJwtVerifier(opts: { secret?: string; jwks?: string }): Promise<JwtVerifier | undefined> {
  const secret = opts.secret ? new TextEncoder().encode(opts.secret) : undefined;
  const jwks = opts.jwks ? await loadJwks(opts.jwks) : undefined;
  if (!secret && !jwks) return undefined;
  // An app sends the same token with every request until it expires: a
  // verified token is remembered (never past its exp), not verified again.
  const verified = new LRUCache<string, Principal>({ max: 10_000, ttl: VERIFIED_TTL_MS });

  return {
    async verify(token: string): Promise<Principal> {
      const known = verified.get(token);
      if (known) return known;
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new JwtError('invalid', 'malformed token');
      }
      try {
        let payload: JWTPayload | undefined;
        if (typeof alg === 'string' && SYMMETRIC.includes(alg) && secret) {
          payload = (await jwtVerify(token, secret, options(SYMMETRIC))).payload;
        } else if (typeof alg === 'string' && ASYMMETRIC.includes(alg) && jwks) {
          payload = await verifyWithJwks(token, jwks);
        }
        if (payload) {
          const principal = principalFromClaims(payload, (payload.exp as number) * 1000);
          const ttl = Math.min(VERIFIED_TTL_MS, (payload.exp as number) * 1000 - Date.now());
          if (ttl > 0) verified.set(token, principal, { ttl });
          return principal;
        }
      } catch (err) {
        throw toJwtError(err);
      }
      throw new JwtError('invalid', `signing algorithm ${JSON.stringify(alg ?? null)} is not accepted`);
    },
  };
}

/** An http(s) URL is fetched (and cached) by jose; anything else is a file read once, here. */
async function loadJwks(source: string): Promise<JWTVerifyGetKey> {
  if (/^https?:\/\//i.test(source)) return createRemoteJWKSet(new URL(source));
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(source, 'utf8'));
  } catch (err) {
    throw new Error(`AEROSTORE_JWKS: cannot read a JSON key set from ${source}: ${(err as Error).message}`);
  }
  // A lone JWK is accepted as a set of one.
  const set = isObject(parsed) && !Array.isArray(parsed.keys) && typeof parsed.kty === 'string' ? { keys: [parsed] } : parsed;
  try {
    return createLocalJWKSet(set as JSONWebKeySet);
  } catch (err) {
    throw new Error(`AEROSTORE_JWKS: ${source} is not a valid JSON Web Key Set: ${(err as Error).message}`);
  }
}

function options(algorithms: string[]): JWTVerifyOptions {
  return { algorithms, clockTolerance: CLOCK_TOLERANCE, requiredClaims: ['exp'] };
}

/**
 * jose leaves a JWKS with several keys matching the header (no `kid`, say) to
 * the caller: try each, as its documentation suggests.
 */
async function verifyWithJwks(token: string, jwks: JWTVerifyGetKey): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, jwks, options(ASYMMETRIC))).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options(ASYMMETRIC))).payload;
      } catch (inner) {
        if (inner instanceof errors.JWSSignatureVerificationFailed) continue;
        throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

function toJwtError(err: unknown): JwtError {
  if (err instanceof JwtError) return err;
  if (err instanceof errors.JWTExpired) return new JwtError('expired', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' && err.reason === 'check_failed') return new JwtError('invalid', 'token is not valid yet (nbf)');
    if (err.reason === 'missing') return new JwtError('invalid', `token has no "${err.claim}" claim`);
    return new JwtError('invalid', `invalid "${err.claim}" claim`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new JwtError('invalid', 'signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return new JwtError('invalid', 'no key in the JWKS matches the token');
  if (err instanceof errors.JWKSTimeout) return new JwtError('invalid', 'timed out fetching the JWKS');
  if (err instanceof errors.JOSEAlgNotAllowed) return new JwtError('invalid', 'signing algorithm is not accepted');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new JwtError('invalid', 'malformed token');
  if (err instanceof errors.JOSEError) return new JwtError('invalid', 'token could not be verified');
  // A remote JWKS that cannot be fetched surfaces as a plain fetch error.
  return new JwtError('invalid', 'token could not be verified (is the JWKS reachable?)');
}

/** Supabase's role claim: service_role, anon, or authenticated (the default). */
function principalFromClaims(claims: JWTPayload, expiresAt: number): Principal {
  const { role, sub } = claims;
  if (role === 'anon') return ANONYMOUS;
  if (sub !== undefined && (typeof sub !== 'string' || !UUID.test(sub))) {
    throw new JwtError('invalid', '"sub" claim must be a uuid');
  }
  const userId = sub === undefined ? null : sub.toLowerCase();
  switch (role) {
    case 'service_role':
      return { kind: 'user', via: 'jwt', role: 'service', userId, expiresAt };
    case 'authenticated':
    case undefined:
      if (userId === null) throw new JwtError('invalid', 'token has no "sub" claim');
      // The whole token reaches the policies as auth.jwt() (email, app_metadata, …).
      return { kind: 'user', via: 'jwt', role: 'authenticated', userId, expiresAt, claims };
    default:
      throw new JwtError('invalid', `unsupported "role" claim ${JSON.stringify(role).slice(0, 64)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
