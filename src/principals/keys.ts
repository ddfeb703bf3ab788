// Resolving an S3 access key id to its secret and its principal. Resolvers
// are tried in order: the root key, temporary STS credentials (only with a
// session token), then the stored access keys.
import { timingSafeEqual } from 'node:crypto';
import type { Principal } from './principal.ts';
import type { RootCredentials } from './root-key.ts';

export interface ResolvedKey {
  secretAccessKey: string;
  principal: Principal;
}

export interface KeyResolver {
  /**
   * The key's secret and principal, or undefined when the id is unknown,
   * revoked or expired. `sessionToken` is the request's x-amz-security-token.
   */
  resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedKey | undefined>;
}

export class RootKeyResolver implements KeyResolver {
  private readonly id: Buffer;

  constructor(private readonly root: RootCredentials) {
    this.id = Buffer.from(root.accessKeyId);
  }

  async resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedKey | undefined> {
    if (sessionToken !== undefined) return undefined;
    const candidate = Buffer.from(accessKeyId);
    if (candidate.length !== this.id.length || !timingSafeEqual(candidate, this.id)) return undefined;
    return {
      secretAccessKey: this.root.secretAccessKey,
      principal: { kind: 'user', via: 'access-key', accessKeyId, userId: null, role: 'service' },
    };
  }
}

/** The first resolver that knows the key wins. */
export class ChainedKeyResolver implements KeyResolver {
  constructor(private readonly resolvers: readonly KeyResolver[]) {}

  async resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedKey | undefined> {
    for (const r of this.resolvers) {
      const found = await r.resolve(accessKeyId, sessionToken);
      if (found) return found;
    }
    return undefined;
  }
}
