// The server's master key: 32 random bytes from AEROSTORE_MASTER_KEY (base64)
// or generated once into <data>/master.key (mode 0600). Purpose-specific keys
// are derived from it with HKDF, so one secret protects stored access-key
// secrets, signs STS session tokens and signed URLs, and wraps the keys that
// encrypt blobs at rest (src/blobs/blob-keys.ts), without any two sharing a key.
import { hkdfSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadOrCreateSecretFile } from './root-key.ts';

export type KeyPurpose = 'access-key-secrets' | 'sts-session-tokens' | 'url-signing' | 'blob-encryption';

export class MasterKey {
  private constructor(private readonly key: Buffer) {}

  static fromBase64(text: string): MasterKey {
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32) throw new Error('the master key must be base64 of exactly 32 bytes');
    return new MasterKey(key);
  }

  /** AEROSTORE_MASTER_KEY when given, else <dataDir>/master.key, created on first use. */
  static async load(dataDir: string, fromEnv?: string): Promise<MasterKey> {
    if (fromEnv) return MasterKey.fromBase64(fromEnv);
    const text = await loadOrCreateSecretFile(path.join(dataDir, 'master.key'), () => randomBytes(32).toString('base64'));
    return MasterKey.fromBase64(text);
  }

  /** A 32-byte key for one purpose. */
  derive(purpose: KeyPurpose): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `aerostore ${purpose}`, 32));
  }
}
