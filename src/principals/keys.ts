// Resolving an S3 access key id to its secret and its principal. Only the
// root key exists for now; stored keys (issue: principals and RLS) slot in
// behind the same interface.
import { timingSafeEqual } from 'node:crypto';
import type { Principal } from './principal.ts';
import type { RootCredentials } from './root-key.ts';

export interface ResolvedKey {
  secretAccessKey: string;
  principal: Principal;
}

export interface KeyResolver {
  resolve(accessKeyId: string): Promise<ResolvedKey | undefined>;
}

export class RootKeyResolver implements KeyResolver {
  private readonly id: Buffer;

  constructor(private readonly root: RootCredentials) {
    this.id = Buffer.from(root.accessKeyId);
  }

  async resolve(accessKeyId: string): Promise<ResolvedKey | undefined> {
    const candidate = Buffer.from(accessKeyId);
    if (candidate.length !== this.id.length || !timingSafeEqual(candidate, this.id)) return undefined;
    return {
      secretAccessKey: this.root.secretAccessKey,
      principal: { kind: 'access-key', accessKeyId, userId: null, role: 'service' },
    };
  }
}
