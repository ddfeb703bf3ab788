// The crash harness (issue 7, docs/reliability.md): a real server as a child
// process, several S3 clients writing, overwriting, deleting, copying and
// completing multipart uploads, and SIGKILL at a random moment — of the
// server, or of the server and its embedded Postgres. After each restart:
//   - every write acknowledged before the kill is there with its exact bytes
//     and metadata, and every acknowledged delete is still a delete;
//   - a write in flight at the kill is either wholly there or wholly absent;
//   - the bucket lists exactly the keys the model says exist;
//   - every object row has its blob row and file, of the right size;
//   - reference counts equal the objects that reference each blob;
//   - after a sweep, no temp file, no blob file without a row and no
//     zero-reference blob is left.
//
// Each client owns its keys and sends one request at a time, so the model is
// exact: per key, the state after its last acknowledged change, plus at most
// one alternative (the change in flight when the server died).
//
// With `versioned` (issue 18) the bucket keeps versions: every acknowledged
// write and delete marker is a version id the model remembers, clients also
// delete past versions by id, and after each restart every acknowledged
// version must still be listed (unless its own deletion was acknowledged or
// in flight), with its exact bytes.
//
// With `lifecycle` (issue 18 §4; implies `versioned`) the bucket also has
// object lock and a lifecycle rule for the prefix expire/ (expire current
// versions after a day, noncurrent ones a day after), and the server runs a
// lifecycle pass every ~0.3 s as of a month ahead, so the kills land in its
// passes too. Each round first writes keys under expire/ — two versions each,
// some under a GOVERNANCE retention or a legal hold — and after each restart
// every locked version is still there with its bytes, nothing under expire/
// lists a version nobody wrote, and what is listed reads its bytes. At the
// end, once the passes have run undisturbed, nothing unlocked is left
// under expire/ but delete markers.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from './database.ts';
import { startTestServer, type TestServer } from './server.ts';
import { sealedSize } from '../../src/blobs/sealed.ts';
import { S3RawClient, type RawResponse } from './signer.ts';

/** What a key holds: nothing, or content with its metadata. */
type KeyState = { present: false } | { present: true; sha256: string; size: number; contentType: string; meta: string };

interface ModelKey {
  state: KeyState;
  /** The change in flight when the server died, unresolved until the next check. */
  inflight?: KeyState;
  /** Versioned: each version the server acknowledged (or listed after a restart) → its SHA-256, 'marker', or '?' (landed in flight). */
  versions: Map<string, string>;
  /** Versioned: the version id of the key's latest acknowledged change. */
  latest?: string;
  /** Versioned: a past version whose deletion was in flight at the kill. */
  deletingVersion?: string;
}

export interface CrashOptions {
  rounds: number;
  /** Also SIGKILL the embedded Postgres, with the server. */
  killPostgres?: boolean;
  clients?: number;
  keysPerClient?: number;
  /** Longest time the workload runs before the kill. */
  maxRunMs?: number;
  /** The bucket has versioning Enabled, and clients also delete past versions by id. */
  versioned?: boolean;
  /** Versioned, with object lock, and lifecycle passes running under expire/ (see above). */
  lifecycle?: boolean;
  log?: (line: string) => void;
}

export interface CrashSummary {
  rounds: number;
  acknowledged: number;
  inflightAtKill: number;
  inflightLanded: number;
  lost: number;
  problems: string[];
  orphansAfterSweep: number;
}

const BUCKET = 'crash';
const TYPES = ['application/octet-stream', 'text/plain', 'image/png', 'application/json'];
const absent: KeyState = { present: false };

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sameState = (a: KeyState, b: KeyState) =>
  a.present === b.present && (!a.present || (b.present && a.sha256 === b.sha256 && a.contentType === b.contentType && a.meta === b.meta));
const describe = (s: KeyState) => (s.present ? `${s.sha256.slice(0, 12)}… (${s.size} B, ${s.contentType}, meta ${s.meta})` : 'absent');

/** Sizes from 0 to 2 MiB, mostly small. */
function randomBody(): Buffer {
  const r = Math.random();
  const size = r < 0.05 ? 0 : r < 0.7 ? Math.floor(Math.random() * 16_384) : r < 0.95 ? Math.floor(Math.random() * 262_144) : 2 * 1024 * 1024;
  return randomBytes(size);
}

class Client {
  acknowledged = 0;

  constructor(
    private readonly s3: () => S3RawClient,
    readonly keys: Map<string, ModelKey>,
    private readonly alive: () => boolean,
    private readonly versioned = false,
  ) {}

  /** Runs random operations until the server dies (a request fails at the connection level). */
  async run(): Promise<void> {
    const names = [...this.keys.keys()];
    while (this.alive()) {
      const key = names[Math.floor(Math.random() * names.length)];
      const r = Math.random();
      try {
        if (this.versioned && r < 0.1) await this.removeVersion(key);
        else if (r < 0.45) await this.put(key);
        else if (r < 0.6) await this.remove(key);
        else if (r < 0.8) await this.copy(names[Math.floor(Math.random() * names.length)], key);
        else await this.multipart(key);
      } catch {
        return; // the connection died with the server: what was in flight stays in flight
      }
    }
  }

  /** Sends a change whose success makes `next` the key's state; an error response leaves it unchanged. */
  private async change(key: string, next: KeyState, send: () => Promise<RawResponse>): Promise<RawResponse> {
    const k = this.keys.get(key) as ModelKey;
    k.inflight = next;
    const res = await send(); // throws when the server dies: inflight stays
    k.inflight = undefined;
    if (res.status >= 200 && res.status < 300) {
      k.state = next;
      this.acknowledged++;
      const version = res.headers['x-amz-version-id'];
      if (this.versioned && typeof version === 'string') {
        k.versions.set(version, next.present ? next.sha256 : 'marker');
        k.latest = version;
      }
    } else if (res.status >= 500) {
      throw new Error(`${res.status} for ${key}: ${res.body.toString().slice(0, 200)}`);
    }
    return res;
  }

  private async put(key: string): Promise<void> {
    const body = randomBody();
    const contentType = TYPES[Math.floor(Math.random() * TYPES.length)];
    const meta = randomBytes(4).toString('hex');
    const next: KeyState = { present: true, sha256: sha(body), size: body.length, contentType, meta };
    await this.change(key, next, () =>
      this.s3().send({ method: 'PUT', path: `/${BUCKET}/${key}`, body, headers: { 'content-type': contentType, 'x-amz-meta-round': meta } }),
    );
  }

  private async remove(key: string): Promise<void> {
    await this.change(key, absent, () => this.s3().send({ method: 'DELETE', path: `/${BUCKET}/${key}` }));
  }

  /** Versioned: deletes one past version (never the latest, so the key's state stays the model's). */
  private async removeVersion(key: string): Promise<void> {
    const k = this.keys.get(key) as ModelKey;
    const past = [...k.versions.keys()].filter((v) => v !== k.latest);
    if (past.length === 0) return this.put(key);
    const version = past[Math.floor(Math.random() * past.length)];
    k.deletingVersion = version;
    const res = await this.s3().send({ method: 'DELETE', path: `/${BUCKET}/${key}`, query: { versionId: version } });
    k.deletingVersion = undefined;
    if (res.status === 204) {
      k.versions.delete(version);
      this.acknowledged++;
    } else if (res.status >= 500) {
      throw new Error(`${res.status} deleting ${key} version ${version}: ${res.body.toString().slice(0, 200)}`);
    }
  }

  private async copy(from: string, to: string): Promise<void> {
    const source = (this.keys.get(from) as ModelKey).state;
    if (!source.present || from === to) return this.put(to);
    await this.change(to, source, () => this.s3().send({ method: 'PUT', path: `/${BUCKET}/${to}`, headers: { 'x-amz-copy-source': `/${BUCKET}/${from}` } }));
  }

  /** Create, two parts (the first at the 5 MiB minimum, rarely; usually one small part), complete. */
  private async multipart(key: string): Promise<void> {
    const contentType = TYPES[Math.floor(Math.random() * TYPES.length)];
    const meta = randomBytes(4).toString('hex');
    const created = await this.s3().send({ method: 'POST', path: `/${BUCKET}/${key}`, query: { uploads: '' }, headers: { 'content-type': contentType, 'x-amz-meta-round': meta } });
    if (created.status !== 200) throw new Error(`CreateMultipartUpload: ${created.status}`);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())![1];
    const parts = Math.random() < 0.1 ? [randomBytes(5 * 1024 * 1024), randomBody()] : [randomBody()];
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const up = await this.s3().send({ method: 'PUT', path: `/${BUCKET}/${key}`, query: { partNumber: String(i + 1), uploadId }, body: part });
      if (up.status !== 200) throw new Error(`UploadPart: ${up.status}`);
      etags.push(up.headers.etag as string);
    }
    const whole = Buffer.concat(parts);
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const next: KeyState = { present: true, sha256: sha(whole), size: whole.length, contentType, meta };
    await this.change(key, next, () => this.s3().send({ method: 'POST', path: `/${BUCKET}/${key}`, query: { uploadId }, body: xml }));
  }
}

/** What a key holds on the server now. */
async function observe(s3: S3RawClient, key: string): Promise<KeyState> {
  const res = await s3.send({ method: 'GET', path: `/${BUCKET}/${key}` });
  if (res.status === 404) return absent;
  if (res.status !== 200) throw new Error(`GET ${key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
  return {
    present: true,
    sha256: sha(res.body),
    size: res.body.length,
    contentType: String(res.headers['content-type']),
    meta: String(res.headers['x-amz-meta-round']),
  };
}

async function listKeys(s3: S3RawClient): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const res = await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', ...(token ? { 'continuation-token': token } : {}) } });
    const text = res.body.toString();
    for (const m of text.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.add(m[1]);
    token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(text)?.[1];
  } while (token);
  return keys;
}

/** Versioned: the key's versions as the server lists them (id → whether a delete marker). */
async function listVersionsOf(s3: S3RawClient, key: string): Promise<Map<string, boolean>> {
  const res = await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { versions: '', prefix: key } });
  if (res.status !== 200) throw new Error(`ListObjectVersions ${key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
  const listed = new Map<string, boolean>();
  for (const m of res.body.toString().matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId>/g)) {
    if (m[2] === key) listed.set(m[3], m[1] === 'DeleteMarker');
  }
  return listed;
}

/**
 * Versioned: every version the model knows is still listed (unless its own
 * deletion was in flight) with its exact bytes; then the model takes the
 * listing (a write in flight may have landed as one more version).
 */
async function checkVersions(s3: S3RawClient, key: string, k: ModelKey, round: number): Promise<string[]> {
  const problems: string[] = [];
  const listed = await listVersionsOf(s3, key);
  for (const [version, sha256] of k.versions) {
    if (!listed.has(version)) {
      if (version !== k.deletingVersion) problems.push(`round ${round}: ${key} lost acknowledged version ${version}`);
      continue;
    }
    if (sha256 === 'marker' || sha256 === '?') continue;
    const res = await s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, query: { versionId: version } });
    if (res.status !== 200 || sha(res.body) !== sha256) problems.push(`round ${round}: ${key} version ${version} reads ${res.status}, not its bytes`);
  }
  const unknown = [...listed.keys()].filter((v) => !k.versions.has(v));
  if (unknown.length > 1) problems.push(`round ${round}: ${key} lists ${unknown.length} versions nobody acknowledged (one write was in flight at most)`);
  for (const v of unknown) k.versions.set(v, listed.get(v) ? 'marker' : '?');
  for (const v of [...k.versions.keys()]) if (!listed.has(v)) k.versions.delete(v);
  k.deletingVersion = undefined;
  // The newest listed entry is the key's latest version now.
  k.latest = [...listed.keys()][0];
  return problems;
}

// ---------------------------------------------------------------------------
// Lifecycle passes (`lifecycle`).

const EXPIRE = 'expire/';
const LIFECYCLE_RULE =
  '<LifecycleConfiguration><Rule><ID>expire</ID><Filter><Prefix>expire/</Prefix></Filter><Status>Enabled</Status>' +
  '<Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>' +
  '</Rule></LifecycleConfiguration>';
/** The server's lifecycle passes: every 0.3 s, as of a month ahead (AEROSTORE_LIFECYCLE_NOW). */
const lifecycleEnv = (): Record<string, string> => ({
  AEROSTORE_LIFECYCLE_INTERVAL_MINUTES: '0.005',
  AEROSTORE_LIFECYCLE_NOW: new Date(Date.now() + 30 * 86_400_000).toISOString(),
});
const EXPIRE_KEYS = 24;

/** What was written under expire/: version id → SHA-256 of its bytes, and which versions are locked. */
interface ExpireModel {
  written: Map<string, { key: string; sha256: string }>;
  locked: Set<string>;
}

async function setUpLifecycle(s3: S3RawClient): Promise<void> {
  const md5 = createHash('md5').update(LIFECYCLE_RULE).digest('base64');
  const res = await s3.send({ method: 'PUT', path: `/${BUCKET}`, query: { lifecycle: '' }, body: LIFECYCLE_RULE, headers: { 'content-md5': md5 } });
  if (res.status !== 200) throw new Error(`PutBucketLifecycleConfiguration: ${res.status} ${res.body}`);
}

/** Round `round`'s keys under expire/: two versions each; every fourth key's first version under retention, every seventh's under a legal hold. */
async function writeExpiring(s3: S3RawClient, round: number, model: ExpireModel): Promise<void> {
  const until = new Date(Date.now() + 365 * 86_400_000).toISOString();
  for (let i = 0; i < EXPIRE_KEYS; i++) {
    const key = `${EXPIRE}r${round}/k${i}`;
    for (let v = 0; v < 2; v++) {
      const body = randomBytes(64 + Math.floor(Math.random() * 4096));
      const headers: Record<string, string> = {};
      const retained = v === 0 && i % 4 === 0;
      const held = v === 0 && i % 7 === 0;
      if (retained) Object.assign(headers, { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': until });
      if (held) headers['x-amz-object-lock-legal-hold'] = 'ON';
      const res = await s3.send({ method: 'PUT', path: `/${BUCKET}/${key}`, body, headers });
      const version = res.headers['x-amz-version-id'];
      if (res.status !== 200 || typeof version !== 'string') throw new Error(`PUT ${key}: ${res.status} ${res.body}`);
      model.written.set(version, { key, sha256: sha(body) });
      if (retained || held) model.locked.add(version);
    }
  }
}

/** Every version listed under expire/ (id → key and whether a delete marker), across pages. */
async function listExpiring(s3: S3RawClient): Promise<Map<string, { key: string; marker: boolean }>> {
  const listed = new Map<string, { key: string; marker: boolean }>();
  let markers: Record<string, string> = {};
  for (;;) {
    const res = await s3.send({ method: 'GET', path: `/${BUCKET}`, query: { versions: '', prefix: EXPIRE, ...markers } });
    if (res.status !== 200) throw new Error(`ListObjectVersions ${EXPIRE}: ${res.status} ${res.body.toString().slice(0, 200)}`);
    const text = res.body.toString();
    for (const m of text.matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId>/g)) {
      listed.set(m[3], { key: m[2], marker: m[1] === 'DeleteMarker' });
    }
    const key = /<NextKeyMarker>([^<]*)<\/NextKeyMarker>/.exec(text)?.[1];
    const version = /<NextVersionIdMarker>([^<]*)<\/NextVersionIdMarker>/.exec(text)?.[1];
    if (!/<IsTruncated>true<\/IsTruncated>/.test(text) || key === undefined) return listed;
    markers = { 'key-marker': key, ...(version !== undefined ? { 'version-id-marker': version } : {}) };
  }
}

/**
 * Under expire/: every locked version is listed and reads its bytes; every
 * other version listed is one that was written, and reads its bytes; the
 * rest are delete markers (the passes' own). With `settled`, the passes
 * have had time to finish: nothing unlocked is left but markers.
 */
async function checkExpiring(s3: S3RawClient, model: ExpireModel, round: number | 'end', settled = false): Promise<string[]> {
  const problems: string[] = [];
  const gone: string[] = [];
  const listed = await listExpiring(s3);
  for (const version of model.locked) {
    if (!listed.has(version)) problems.push(`round ${round}: locked version ${version} of ${model.written.get(version)?.key} is gone`);
  }
  for (const [version, { key, marker }] of listed) {
    if (marker) continue;
    const wrote = model.written.get(version);
    if (!wrote || wrote.key !== key) {
      problems.push(`round ${round}: ${key} lists version ${version}, which nobody wrote`);
      continue;
    }
    if (settled && !model.locked.has(version)) problems.push(`round ${round}: ${key} version ${version} outlived the lifecycle passes`);
    const res = await s3.send({ method: 'GET', path: `/${BUCKET}/${key}`, query: { versionId: version } });
    // A pass running meanwhile may have expired it since the listing: then it must be gone from the listing too.
    if (res.status === 404 && !model.locked.has(version)) gone.push(version);
    else if (res.status !== 200 || sha(res.body) !== wrote.sha256) problems.push(`round ${round}: ${key} version ${version} reads ${res.status}, not its bytes`);
  }
  if (gone.length > 0) {
    const now = await listExpiring(s3);
    for (const version of gone) if (now.has(version)) problems.push(`round ${round}: version ${version} is listed but reads 404`);
  }
  return problems;
}

/** Files under `dir`, recursively (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** The metadata and the files agree: every object's blob row and file (right size), ref counts, no stray blob file. */
export async function checkStore(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  const db = postgres(await embeddedDatabaseUrl(dataDir), { max: 1, onnotice: () => {} });
  try {
    // Every row that references a blob: current objects and past versions (storage.blob_references, migration 0025).
    const missingRows = await db`
      select o.key from storage.blob_references o left join storage.blobs b on b.bucket_id = o.bucket_uuid and b.sha256 = o.sha256
      where b.sha256 is null`;
    for (const r of missingRows) problems.push(`object ${r.key} has no blob row`);
    const counts = await db<{ bucket_id: string; sha256: string; size: string; ref_count: number; objects: number; sealed: boolean }[]>`
      select b.bucket_id, b.sha256, b.size, b.ref_count, b.sealed, count(o.key)::int as objects
      from storage.blobs b left join storage.blob_references o on o.bucket_uuid = b.bucket_id and o.sha256 = b.sha256
      group by b.bucket_id, b.sha256, b.size, b.ref_count, b.sealed`;
    const rows = new Set<string>();
    for (const b of counts) {
      rows.add(`${b.bucket_id}/${b.sha256}`);
      if (b.ref_count !== b.objects) problems.push(`blob ${b.sha256.slice(0, 12)}…: ref_count ${b.ref_count}, referenced by ${b.objects}`);
      if (b.objects > 0) {
        const file = path.join(dataDir, 'blobs', b.bucket_id, b.sha256.slice(0, 2), b.sha256.slice(2, 4), b.sha256);
        const st = await stat(file).catch(() => undefined);
        if (!st) problems.push(`blob ${b.sha256.slice(0, 12)}… has no file`);
        // A sealed blob (AEROSTORE_ENCRYPTION=on) is its content's sealed length, and its row must say it is sealed.
        else if (st.size !== (b.sealed ? sealedSize(Number(b.size)) : Number(b.size))) {
          problems.push(`blob ${b.sha256.slice(0, 12)}…: file of ${st.size} B, row says ${b.size}${b.sealed ? ' sealed' : ''}`);
        }
      }
    }
    for (const file of await filesUnder(path.join(dataDir, 'blobs'))) {
      const rel = path.relative(path.join(dataDir, 'blobs'), file).split(path.sep);
      if (!rows.has(`${rel[0]}/${rel[3]}`)) problems.push(`blob file without a row: ${path.relative(dataDir, file)}`);
    }
  } finally {
    await db.end({ timeout: 1 });
  }
  return problems;
}

/** Leftovers a sweep must have removed: temp files, blob files without rows, zero-reference blobs, stray part files. */
export async function countOrphans(dataDir: string): Promise<{ count: number; detail: string[] }> {
  const detail: string[] = [];
  for (const f of await filesUnder(path.join(dataDir, 'tmp'))) detail.push(`temp file ${path.basename(f)}`);
  const db = postgres(await embeddedDatabaseUrl(dataDir), { max: 1, onnotice: () => {} });
  try {
    const zero = await db`select sha256 from storage.blobs where ref_count = 0`;
    for (const z of zero) detail.push(`zero-reference blob ${String(z.sha256).slice(0, 12)}…`);
    const parts = new Set((await db<{ path: string }[]>`select path from storage.multipart_parts`).map((p) => p.path));
    for (const f of await filesUnder(path.join(dataDir, 'parts'))) {
      if (!parts.has(path.relative(path.join(dataDir, 'parts'), f))) detail.push(`part file without a row: ${path.relative(dataDir, f)}`);
    }
  } finally {
    await db.end({ timeout: 1 });
  }
  for (const p of await checkStore(dataDir)) if (p.startsWith('blob file without a row')) detail.push(p);
  return { count: detail.length, detail };
}

/** The embedded Postgres's postmaster pid, from its pid file. */
async function postgresPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text ? Number(text.split('\n')[0]) : undefined;
}

/** Runs one sweep with no grace period against the (idle, running) server's database and data directory. */
export type Sweeper = (srv: TestServer) => Promise<unknown>;

export async function runCrashRounds(opts: CrashOptions, sweepNow: Sweeper): Promise<CrashSummary> {
  const log = opts.log ?? (() => {});
  const clients = opts.clients ?? 6;
  const keysPerClient = opts.keysPerClient ?? 6;
  const maxRunMs = opts.maxRunMs ?? 1500;
  const summary: CrashSummary = { rounds: 0, acknowledged: 0, inflightAtKill: 0, inflightLanded: 0, lost: 0, problems: [], orphansAfterSweep: 0 };
  const versioned = opts.versioned === true || opts.lifecycle === true;
  const env = opts.lifecycle ? lifecycleEnv() : {};
  let srv: TestServer = await startTestServer({ env });
  const dataDir = srv.dataDir;
  let s3 = new S3RawClient(srv.url, srv);
  const expiring: ExpireModel = { written: new Map(), locked: new Set() };
  try {
    // Object lock turns versioning on (the lifecycle runs lock retained and held versions).
    const lock: Record<string, string> = opts.lifecycle ? { 'x-amz-bucket-object-lock-enabled': 'true' } : {};
    if ((await s3.send({ method: 'PUT', path: `/${BUCKET}`, headers: lock })).status !== 200) throw new Error('could not create the bucket');
    if (opts.lifecycle) await setUpLifecycle(s3);
    else if (versioned) {
      const config = '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>';
      if ((await s3.send({ method: 'PUT', path: `/${BUCKET}`, query: { versioning: '' }, body: config })).status !== 200) throw new Error('could not enable versioning');
    }
    const models = Array.from(
      { length: clients },
      (_, c) => new Map<string, ModelKey>(Array.from({ length: keysPerClient }, (_, k) => [`c${c}/k${k}`, { state: absent, versions: new Map() }])),
    );
    for (let round = 1; round <= opts.rounds; round++) {
      let alive = true;
      if (opts.lifecycle) await writeExpiring(s3, round, expiring);
      const workers = models.map((keys) => new Client(() => s3, keys, () => alive, versioned));
      const running = workers.map((w) => w.run());
      await new Promise((r) => setTimeout(r, 100 + Math.random() * maxRunMs));
      const pgPid = opts.killPostgres ? await postgresPid(dataDir) : undefined;
      srv.process.kill('SIGKILL');
      if (pgPid) process.kill(pgPid, 'SIGKILL');
      alive = false;
      await Promise.all(running);
      await srv.stop({ keepData: true });
      summary.acknowledged += workers.reduce((n, w) => n + w.acknowledged, 0);

      srv = await startTestServer({ dataDir, env });
      s3 = new S3RawClient(srv.url, srv);
      const problems: string[] = [];
      const present = new Set<string>();
      for (const keys of models) {
        for (const [key, k] of keys) {
          const seen = await observe(s3, key);
          if (k.inflight) summary.inflightAtKill++;
          if (sameState(seen, k.state)) {
            // as acknowledged (an in-flight change that did not land)
          } else if (k.inflight && sameState(seen, k.inflight)) {
            summary.inflightLanded++;
          } else {
            summary.lost++;
            problems.push(`round ${round}: ${key} is ${describe(seen)}, expected ${describe(k.state)}${k.inflight ? ` or ${describe(k.inflight)}` : ''}`);
          }
          k.state = seen;
          k.inflight = undefined;
          if (seen.present) present.add(key);
          if (versioned) problems.push(...(await checkVersions(s3, key, k, round)));
        }
      }
      const listed = await listKeys(s3);
      for (const key of listed) if (!present.has(key) && !key.startsWith(EXPIRE)) problems.push(`round ${round}: ${key} is listed but cannot be read`);
      for (const key of present) if (!listed.has(key)) problems.push(`round ${round}: ${key} can be read but is not listed`);
      if (opts.lifecycle) problems.push(...(await checkExpiring(s3, expiring, round)));
      for (const p of await checkStore(dataDir)) if (!p.startsWith('blob file without a row')) problems.push(`round ${round}: ${p}`);
      summary.problems.push(...problems);
      summary.rounds = round;
      log(`round ${round}: ${summary.acknowledged} acknowledged so far, ${problems.length} problems`);
    }
    if (opts.lifecycle) {
      // Undisturbed passes now: an expired current version becomes noncurrent under a marker, then goes.
      let left: string[] = [];
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 500));
        left = await checkExpiring(s3, expiring, 'end', true);
        if (left.length === 0) break;
      }
      summary.problems.push(...left);
      for (const p of await checkStore(dataDir)) if (!p.startsWith('blob file without a row')) summary.problems.push(`end: ${p}`);
    }
    // Quiet now: one sweep with no grace, then nothing may be left over.
    await sweepNow(srv);
    const orphans = await countOrphans(dataDir);
    summary.orphansAfterSweep = orphans.count;
    summary.problems.push(...orphans.detail.map((d) => `after the sweep: ${d}`));
  } finally {
    await srv.stop({ keepData: true });
    await rm(dataDir, { recursive: true, force: true });
  }
  return summary;
}
