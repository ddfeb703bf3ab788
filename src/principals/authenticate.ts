// A request's principal, from whatever credentials it carries: a JWT bearer
// token, a SigV4 signature (Authorization header or presigned URL; with
// x-amz-security-token for STS temporary credentials), or none (anonymous).
// Shared by the S3 front end and the admin API.
import type { IncomingHttpHeaders } from 'node:http';
import { verifySigV4, type VerifiedSignature } from './sigv4.ts';
import { DomainError } from '../core/errors.ts';
import { JwtError, type JwtVerifier } from './jwt.ts';
import type { KeyResolver, ResolvedKey } from './keys.ts';
import { actingFrom, ANONYMOUS, type Principal } from './principal.ts';

export interface Authenticator {
  keys: KeyResolver;
  /** Undefined when neither AEROSTORE_JWT_SECRET nor AEROSTORE_JWKS is set: bearer tokens are refused. */
  jwt: JwtVerifier | undefined;
  region: string;
}

export interface Authenticated {
  principal: Principal;
  /** The verified SigV4 signature (null for bearer tokens and anonymous requests). */
  signature: VerifiedSignature | null;
}

export interface RequestHead {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The client's IP address (http/client-address.ts): the principal acts from it. */
  address?: string;
}

/** `Authorization: Bearer <jwt>` → the token; otherwise undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
  return m ? m[1] : undefined;
}

/** The STS session token of a SigV4 request: the header, or the presigned URL's parameter. */
function sessionTokenOf(head: RequestHead): string | undefined {
  const header = head.headers['x-amz-security-token'];
  if (typeof header === 'string') return header;
  const q = head.url.indexOf('?');
  if (q === -1) return undefined;
  return new URLSearchParams(head.url.slice(q + 1)).get('X-Amz-Security-Token') ?? undefined;
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
export async function authenticate(head: RequestHead, auth: Authenticator): Promise<Authenticated> {
  const token = bearerToken(head.headers);
  if (token !== undefined) {
    // One mechanism per request: credentials that would be ignored must not pass unchecked.
    if (/[?&]X-Amz-(Algorithm|Credential|Signature|Security-Token)=/i.test(head.url) || head.headers['x-amz-security-token'] !== undefined) {
      throw new DomainError('InvalidArgument', 'Only one auth mechanism allowed: a Bearer token or a SigV4 signature, not both.', {
        ArgumentName: 'Authorization',
        ArgumentValue: 'Bearer',
      });
    }
    return { principal: actingFrom(await principalFromJwt(token, auth.jwt), head.address), signature: null };
  }
  let resolved: ResolvedKey | undefined;
  const sessionToken = sessionTokenOf(head);
  const signature = await verifySigV4(
    head,
    async (id) => {
      resolved = await auth.keys.resolve(id, sessionToken);
      return resolved && { accessKeyId: id, secretAccessKey: resolved.secretAccessKey };
    },
    { region: auth.region },
  );
  if (!signature || !resolved) return { principal: actingFrom(ANONYMOUS, head.address), signature: null };
  return { principal: actingFrom(resolved.principal, head.address), signature };
}
