// The root access key: a service-role key generated on first start and kept
// in the data directory (like MinIO's root user), unless the environment
// supplies one.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const FILE = 'root-credentials.json';
/** AWS-style alphabet for access key ids: upper-case letters and digits. */
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function generateAccessKeyId(): string {
  const bytes = randomBytes(16);
  return 'AS' + Array.from(bytes, (b) => KEY_ALPHABET[b & 31]).join('');
}

/** Returns the root credentials and whether they were generated just now. */
export async function loadRootCredentials(
  dataDir: string,
  fromEnv: Partial<RootCredentials>,
): Promise<{ credentials: RootCredentials; generated: boolean }> {
  if (fromEnv.accessKeyId && fromEnv.secretAccessKey) {
    return { credentials: { accessKeyId: fromEnv.accessKeyId, secretAccessKey: fromEnv.secretAccessKey }, generated: false };
  }
  const file = path.join(dataDir, FILE);
  const saved = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as RootCredentials,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    },
  );
  if (saved?.accessKeyId && saved.secretAccessKey) return { credentials: saved, generated: false };
  const credentials = { accessKeyId: generateAccessKeyId(), secretAccessKey: randomBytes(30).toString('base64url') };
  await writeFile(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { credentials, generated: true };
}

/** A secret kept in a 0600 file in the data directory, created on first use. */
export async function loadOrCreateSecretFile(file: string, create: () => string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const value = create();
    await writeFile(file, value + '\n', { mode: 0o600, flag: 'wx' });
    return value;
  }
}
