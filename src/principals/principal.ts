// Who is making a request. Every protocol edge maps its credentials to one of
// these; core/access.ts and the row-level-security policies in Postgres
// decide what the principal may do.
export type Role = 'service' | 'authenticated';

/** How a signed-in principal proved who it is (url-token: a signed upload URL, acting for its signer). */
export type Via = 'access-key' | 'jwt' | 'sts' | 'url-token';

export type Principal = (
  | { kind: 'anonymous'; address?: string }
  | {
      kind: 'user';
      via: Via;
      /** The user id (uuid); null only for a service-role principal without one (the root key). */
      userId: string | null;
      role: Role;
      /** The access key id that signed the request (access-key and sts). */
      accessKeyId?: string;
      /**
       * When the credentials stop being valid (epoch ms): a JWT's exp, an STS
       * session's expiry. Long-lived responses (event streams) end then.
       */
      expiresAt?: number;
      /** The client's IP address the request came from (actingFrom); absent for work no client asked for. */
      address?: string;
      /** A user JWT's verified claims, which policies read as auth.jwt(); sub and role are set from the fields above. */
      claims?: Readonly<Record<string, unknown>>;
    }
) &
  RequestFacts;

/**
 * What a request states about itself, for bucket-policy conditions
 * (core/bucket-policy.ts; db/session.ts carries it into the transaction as
 * request.context), and the bucket policy's word on the request's own
 * action, asked of Postgres before the body is read (s3/policy-precheck.ts;
 * core/access.ts reads it). Both per request: set on a copy.
 */
export interface RequestFacts {
  /** Condition keys in lower case → value(s): aws:sourceip, aws:securetransport, s3:prefix, … */
  requestContext?: Readonly<Record<string, string | readonly string[]>>;
  policyVerdict?: PolicyVerdict;
}

/** storage.bucket_policy_effect for one bucket and the request's action, and which pre-check it answers. */
export interface PolicyVerdict {
  bucketId: string;
  use: 'list' | 'write' | 'administer';
  effect: 'allow' | 'deny' | null;
}

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/**
 * `p` acting from `address`, the client's IP address (http/client-address.ts):
 * the audit trail's "from where" (db/session.ts carries it into the
 * transaction, events/downloads.ts into a download's record). A copy:
 * principals from the key caches are shared between requests.
 */
export function actingFrom(p: Principal, address: string | undefined): Principal {
  return address === undefined ? p : { ...p, address };
}

export function ownerId(p: Principal): string | null {
  return p.kind === 'user' ? p.userId : null;
}

export function isService(p: Principal): boolean {
  return p.kind === 'user' && p.role === 'service';
}

/** A signed-in principal that is not the service role: RLS decides for it. */
export function isSignedIn(p: Principal): boolean {
  return p.kind === 'user';
}
