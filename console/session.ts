// Who is signed in, and where their secret lives (docs/console.md "Security").
//
// In memory while the page is open. To survive a reload the session is kept
// in sessionStorage (this tab only, gone when it closes) encrypted with
// AES-GCM under a key that WebCrypto created non-extractable and that is kept
// in IndexedDB: script can use the key but never read it, and the stored
// text alone is useless. Never in a URL, never in localStorage, never in a
// cookie (there are none: no cookie, no CSRF). A session ends on sign-out
// (both wiped), after IDLE_MS without a click or a key, and when temporary
// credentials (STS) expire.
import type { Credentials } from './sigv4.ts';

export interface Session {
  creds: Credentials;
  /** How the person signed in: an access key, or a JWT exchanged for temporary credentials. */
  via: 'access-key' | 'jwt';
  /** The JWT, when via is jwt: /storage/v1 also takes it as a Bearer token. */
  jwt?: string;
  /** Epoch ms when the credentials stop working (STS), if they do. */
  expiresAt?: number;
  /** Whether the admin API lets this principal in (service role). */
  service: boolean;
}

export const IDLE_MS = 30 * 60_000;
const STORE_KEY = 'aerostore.console.session';
const ACTIVE_KEY = 'aerostore.console.active';
const DB = 'aerostore-console';

function idb<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('keys', mode);
      const req = run(tx.objectStore('keys'));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      tx.oncomplete = () => open.result.close();
    };
  });
}

async function wrappingKey(create: boolean): Promise<CryptoKey | undefined> {
  const existing = await idb<CryptoKey | undefined>('readonly', (s) => s.get('session'));
  if (existing || !create) return existing;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  await idb('readwrite', (s) => s.put(key, 'session'));
  return key;
}

export async function saveSession(session: Session): Promise<void> {
  const key = await wrappingKey(true);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key!, new TextEncoder().encode(JSON.stringify(session))));
  const packed = new Uint8Array(iv.length + sealed.length);
  packed.set(iv);
  packed.set(sealed, iv.length);
  sessionStorage.setItem(STORE_KEY, btoa(String.fromCharCode(...packed)));
  touch();
}

/** The session kept for this tab, unless it is idle or expired (then it is wiped). */
export async function restoreSession(): Promise<Session | undefined> {
  const packed = sessionStorage.getItem(STORE_KEY);
  if (!packed) return undefined;
  const last = Number(sessionStorage.getItem(ACTIVE_KEY) ?? 0);
  if (Date.now() - last > IDLE_MS) {
    await wipeSession();
    return undefined;
  }
  try {
    const key = await wrappingKey(false);
    if (!key) throw new Error('no key');
    const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12) }, key, bytes.slice(12));
    const session = JSON.parse(new TextDecoder().decode(plain)) as Session;
    if (expired(session)) throw new Error('expired');
    touch();
    return session;
  } catch {
    await wipeSession();
    return undefined;
  }
}

export async function wipeSession(): Promise<void> {
  sessionStorage.removeItem(STORE_KEY);
  sessionStorage.removeItem(ACTIVE_KEY);
  for (const k of Object.keys(sessionStorage)) if (k.startsWith('aerostore.')) sessionStorage.removeItem(k);
  await idb('readwrite', (s) => s.delete('session')).catch(() => undefined);
}

/** Records activity (the idle clock starts again). */
export function touch(): void {
  sessionStorage.setItem(ACTIVE_KEY, String(Date.now()));
}

export function idleFor(): number {
  return Date.now() - Number(sessionStorage.getItem(ACTIVE_KEY) ?? 0);
}

export function expired(session: Session): boolean {
  return session.expiresAt !== undefined && Date.now() >= session.expiresAt;
}

/** The region to sign for, as the server says (/console/config.json). */
export async function serverRegion(): Promise<string> {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) return 'us-east-1';
  return ((await res.json()) as { region?: string }).region ?? 'us-east-1';
}

/**
 * A JWT exchanged for temporary S3 credentials (STS AssumeRoleWithWebIdentity,
 * an unsigned call: the token is the credential). They last an hour.
 */
export async function assumeRoleWithWebIdentity(jwt: string, region: string): Promise<{ creds: Credentials; expiresAt: number }> {
  const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', WebIdentityToken: jwt, DurationSeconds: '3600', RoleSessionName: 'console' });
  const res = await fetch('/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
  const text = (tag: string) => doc.getElementsByTagName(tag)[0]?.textContent ?? '';
  if (!res.ok) throw new Error(`${text('Code') || res.status}: ${text('Message') || 'the token was refused'}`);
  return {
    creds: { accessKeyId: text('AccessKeyId'), secretAccessKey: text('SecretAccessKey'), sessionToken: text('SessionToken'), region },
    expiresAt: Date.parse(text('Expiration')),
  };
}
