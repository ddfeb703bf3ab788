// Short secrets sealed for storage (the secrets of stored access keys):
// AES-256-GCM under a purpose key derived from the master key
// (MasterKey.derive('access-key-secrets')). A token is one line of text,
//   v1.<base64url(iv 12 bytes | ciphertext | tag 16 bytes)>
// and is bound to a context string (the access key id) as additional
// authenticated data: a token copied onto another row does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1.';
const IV_BYTES = 12; // GCM's native nonce size (NIST SP 800-38D §8.2)
const TAG_BYTES = 16;

/** A token that is malformed, tampered with, bound to another context or sealed under another key. */
export class SecretBoxError extends Error {}

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.key = Buffer.from(key);
  }

  /** Seals `plaintext` for `context`; a fresh random IV each time, so equal secrets give different tokens. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The plaintext of a token sealed for `context` under this key; throws SecretBoxError otherwise. */
  open(token: string, context: string): string {
    if (!token.startsWith(VERSION)) throw new SecretBoxError('not a v1 secret token');
    const raw = Buffer.from(token.slice(VERSION.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('secret token too short');
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('secret token does not authenticate (wrong key, wrong context or tampered)');
    }
  }
}
