// A request's principal, from whatever credentials it carries: a JWT bearer
// token, a SigV4 signature (Authorization header or presigned URL; with
// x-amz-security-token for STS temporary credentials), on the S3 API a legacy
// SigV2 one (sigv2.ts; the same keys, the same session tokens), or none
// (anonymous). Shared by the S3 front end, /storage/v1 and the admin API.
import type { IncomingHttpHeaders } from 'node:http';
import { sigV2Flavour, verifySigV2 } from './sigv2.ts';
import { verifySigV4, type SecretLookup, type VerifiedSignature } from './sigv4.ts';
import { DomainError } from '../core/errors.ts';
import { JwtError, type JwtVerifier } from './jwt.ts';
import type { KeyResolver, ResolvedKey } from './keys.ts';
import { actingFrom, ANONYMOUS, type Principal } from './principal.ts';

export interface Authenticator {
  keys: KeyResolver;
  /** Undefined when neither AEROSTORE_JWT_SECRET nor AEROSTORE_JWKS is set: bearer tokens are refused. */
  jwt: JwtVerifier | undefined;
  region: string;
  /**
   * Legacy Signature Version 2 on the S3 API (AEROSTORE_SIGV2, on by
   * default). Off or unset: SigV2 is answered as S3 regions without it answer.
   */
  sigv2?: boolean;
}

export interface Authenticated {
  principal: Principal;
  /** The verified SigV4 or SigV2 signature (null for bearer tokens and anonymous requests). */
  signature: VerifiedSignature | null;
}

export interface RequestHead {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The client's IP address (http/client-address.ts): the principal acts from it. */
  address?: string;
  /** S3: the bucket a virtual-hosted-style Host names, where SigV2's canonical resource starts. */
  hostBucket?: string;
}

export interface AuthenticateOptions {
  /**
   * The S3 API accepts SigV2 (when Authenticator.sigv2 allows it). The
   * /storage/v1 and admin APIs do not: SigV2 leaves their query strings and
   * bodies unsigned.
   */
  signatureV2?: boolean;
}

/** `Authorization: Bearer <jwt>` → the token; otherwise undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
  return m ? m[1] : undefined;
}

/**
 * The STS session token of a signed request: the header, or the presigned
 * URL's parameter (SigV4's X-Amz-Security-Token; botocore's SigV2 URLs carry
 * x-amz-security-token). Either way the signature covers it.
 */
function sessionTokenOf(head: RequestHead): string | undefined {
  const header = head.headers['x-amz-security-token'];
  if (typeof header === 'string') return header;
  const q = head.url.indexOf('?');
  if (q === -1) return undefined;
  const query = new URLSearchParams(head.url.slice(q + 1));
  return query.get('X-Amz-Security-Token') ?? query.get('x-amz-security-token') ?? undefined;
}

/** Verifies a bearer token; failures as DomainErrors (ExpiredToken, AccessDenied). */
export async function principalFromJwt(token: string, jwt: JwtVerifier | undefined): Promise<Principal> {
  if (!jwt) throw new DomainError('AccessDenied', 'Bearer tokens are not accepted: no JWT secret or JWKS is configured.');
  try {
    return await jwt.verify(token);
  } catch (err) {
    if (!(err instanceof JwtError)) throw err;
    if (err.reason === 'expired') throw new DomainError('ExpiredToken', `The JWT has expired: ${err.message}`);
    throw new DomainError('AccessDenied', `Invalid JWT: ${err.message}`);
  }
}

/** Throws a DomainError for credentials that are present but wrong; anonymous when there are none. */
export async function authenticate(head: RequestHead, auth: Authenticator, opts: AuthenticateOptions = {}): Promise<Authenticated> {
  const token = bearerToken(head.headers);
  if (token !== undefined) {
    // One mechanism per request: credentials that would be ignored must not pass unchecked.
    if (/[?&](X-Amz-(Algorithm|Credential|Signature|Security-Token)|AWSAccessKeyId|Signature)=/i.test(head.url) || head.headers['x-amz-security-token'] !== undefined) {
      throw new DomainError('InvalidArgument', 'Only one auth mechanism allowed: a Bearer token or a SigV4 signature, not both.', {
        ArgumentName: 'Authorization',
        ArgumentValue: 'Bearer',
      });
    }
    return { principal: actingFrom(await principalFromJwt(token, auth.jwt), head.address), signature: null };
  }
  let resolved: ResolvedKey | undefined;
  const sessionToken = sessionTokenOf(head);
  // The principal is resolved from the access key the same way for both signature versions.
  const lookup: SecretLookup = async (id) => {
    resolved = await auth.keys.resolve(id, sessionToken);
    return resolved && { accessKeyId: id, secretAccessKey: resolved.secretAccessKey };
  };
  // Without SigV2 (elsewhere than S3, or turned off) verifySigV4 answers a SigV2 request as V4-only S3 regions do.
  const signature =
    opts.signatureV2 && auth.sigv2 && sigV2Flavour(head) !== undefined
      ? await verifySigV2(head, lookup, { hostBucket: head.hostBucket })
      : await verifySigV4(head, lookup, { region: auth.region });
  if (!signature || !resolved) return { principal: actingFrom(ANONYMOUS, head.address), signature: null };
  return { principal: actingFrom(resolved.principal, head.address), signature };
}
