// The console's calls, each one the signed-in principal's own signed request
// (so each view shows exactly what the access model lets that principal see):
// S3 at the root, the admin API, /storage/v1. Failures become ApiError with
// the server's code and message.
import type { Session } from './session.ts';
import { base64, EMPTY_SHA256, encodePath, canonicalQuery, sha256, sha256Hex, signHeaders, UNSIGNED } from './sigv4.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface S3Request {
  method: string;
  bucket?: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A string body is hashed and signed; a Blob goes as UNSIGNED-PAYLOAD. */
  body?: string | Blob;
  /** Send x-amz-checksum-sha256 of a string body (S3 wants a checksum with configuration documents and DeleteObjects). */
  checksum?: boolean;
  signal?: AbortSignal;
}

export function xml(text: string): Document {
  return new DOMParser().parseFromString(text, 'application/xml');
}

/** The text of each `tag` under `node` (namespaced S3 XML: tags match by their qualified name). */
export function texts(node: Document | Element, tag: string): string[] {
  return Array.from(node.getElementsByTagName(tag), (e) => e.textContent ?? '');
}

export function text(node: Document | Element, tag: string): string {
  return texts(node, tag)[0] ?? '';
}

/** The headers and URL of a signed S3 request (for fetch, or XMLHttpRequest when progress matters). */
export async function signS3(session: Session, r: S3Request): Promise<{ url: string; headers: Record<string, string> }> {
  const path = encodePath(r.bucket, r.key);
  const headers = { ...r.headers };
  let payloadHash = r.body === undefined ? EMPTY_SHA256 : UNSIGNED;
  if (typeof r.body === 'string') {
    const digest = await sha256(r.body);
    payloadHash = await sha256Hex(r.body);
    if (r.checksum) headers['x-amz-checksum-sha256'] = base64(digest);
  }
  const amz = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase().startsWith('x-amz-')));
  const signed = await signHeaders(session.creds, { method: r.method, path, query: r.query, headers: amz, payloadHash }, location.host);
  const q = canonicalQuery(r.query);
  return { url: path + (q ? '?' + q : ''), headers: { ...headers, ...signed } };
}

async function failure(res: Response): Promise<ApiError> {
  const body = await res.text().catch(() => '');
  if (body.startsWith('{')) {
    try {
      const j = JSON.parse(body) as { error?: string; code?: string; message?: string };
      return new ApiError(res.status, j.error ?? j.code ?? String(res.status), j.message ?? body);
    } catch {
      /* not JSON after all */
    }
  }
  if (body.startsWith('<')) {
    const doc = xml(body);
    return new ApiError(res.status, text(doc, 'Code') || String(res.status), text(doc, 'Message') || res.statusText);
  }
  return new ApiError(res.status, String(res.status), body || res.statusText);
}

export async function s3(session: Session, r: S3Request): Promise<Response> {
  const { url, headers } = await signS3(session, r);
  const res = await fetch(url, { method: r.method, headers, body: r.body, signal: r.signal, cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw await failure(res);
  return res;
}

export async function s3Xml(session: Session, r: S3Request): Promise<Document> {
  return xml(await (await s3(session, r)).text());
}

/** A JSON call to a service API (/admin/v1/..., /storage/v1/...), signed with the payload hash the admin API requires. */
export async function serviceJson<T>(session: Session, method: string, path: string, body?: unknown, query: Record<string, string> = {}): Promise<T> {
  const res = await serviceFetch(session, method, path, body, query);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function serviceFetch(session: Session, method: string, path: string, body?: unknown, query: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const contentHeaders: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const signed = await signHeaders(session.creds, { method, path, query, payloadHash: await sha256Hex(payload) }, location.host);
  const q = canonicalQuery(query);
  const res = await fetch(path + (q ? '?' + q : ''), {
    method,
    headers: { ...contentHeaders, ...signed },
    body: body === undefined ? undefined : payload,
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  if (!res.ok) throw await failure(res);
  return res;
}

// ---- S3 operations the views use ----

export interface BucketEntry {
  name: string;
  created: string;
}

export async function listBuckets(session: Session): Promise<BucketEntry[]> {
  const doc = await s3Xml(session, { method: 'GET' });
  return Array.from(doc.getElementsByTagName('Bucket'), (b) => ({ name: text(b, 'Name'), created: text(b, 'CreationDate') }));
}

export interface ObjectEntry {
  key: string;
  size: number;
  lastModified: string;
  etag: string;
}

export interface Listing {
  prefixes: string[];
  objects: ObjectEntry[];
  next?: string;
}

export async function listObjects(session: Session, bucket: string, prefix: string, opts: { delimiter?: string; token?: string; max?: number } = {}): Promise<Listing> {
  const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(opts.max ?? 1000) };
  if (opts.delimiter !== undefined) query.delimiter = opts.delimiter;
  if (opts.token) query['continuation-token'] = opts.token;
  const doc = await s3Xml(session, { method: 'GET', bucket, query });
  const objects = Array.from(doc.getElementsByTagName('Contents'), (c) => ({
    key: text(c, 'Key'),
    size: Number(text(c, 'Size')),
    lastModified: text(c, 'LastModified'),
    etag: text(c, 'ETag'),
  }));
  const prefixes = Array.from(doc.getElementsByTagName('CommonPrefixes'), (p) => text(p, 'Prefix'));
  const next = text(doc, 'NextContinuationToken') || undefined;
  return { prefixes, objects, next };
}

/** Every key under `prefix` (no delimiter), page after page. */
export async function allKeys(session: Session, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await listObjects(session, bucket, prefix, { token });
    keys.push(...page.objects.map((o) => o.key));
    token = page.next;
  } while (token);
  return keys;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Deletes keys in batches of 1,000 (DeleteObjects); returns the keys that failed with their code. */
export async function deleteKeys(session: Session, bucket: string, keys: string[]): Promise<string[]> {
  const failed: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const body = `<Delete><Quiet>true</Quiet>${batch.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`;
    const doc = await s3Xml(session, { method: 'POST', bucket, query: { delete: '' }, body, checksum: true, headers: { 'content-type': 'application/xml' } });
    for (const e of Array.from(doc.getElementsByTagName('Error'))) failed.push(`${text(e, 'Key')}: ${text(e, 'Code')}`);
  }
  return failed;
}

export async function copyObject(session: Session, from: { bucket: string; key: string }, to: { bucket: string; key: string }): Promise<void> {
  await s3(session, { method: 'PUT', bucket: to.bucket, key: to.key, headers: { 'x-amz-copy-source': encodePath(from.bucket, from.key) } });
}

export async function getTags(session: Session, bucket: string, key: string): Promise<Array<[string, string]>> {
  const doc = await s3Xml(session, { method: 'GET', bucket, key, query: { tagging: '' } });
  return Array.from(doc.getElementsByTagName('Tag'), (t) => [text(t, 'Key'), text(t, 'Value')]);
}

export async function putTags(session: Session, bucket: string, key: string, tags: Array<[string, string]>): Promise<void> {
  const body = `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`;
  await s3(session, { method: 'PUT', bucket, key, query: { tagging: '' }, body, checksum: true });
}

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  lastModified: string;
}

export async function listVersions(session: Session, bucket: string, key: string): Promise<VersionEntry[]> {
  const doc = await s3Xml(session, { method: 'GET', bucket, query: { versions: '', prefix: key } });
  const entries: VersionEntry[] = [];
  for (const el of Array.from(doc.documentElement.children)) {
    if (el.localName !== 'Version' && el.localName !== 'DeleteMarker') continue;
    if (text(el, 'Key') !== key) continue;
    entries.push({
      key: text(el, 'Key'),
      versionId: text(el, 'VersionId'),
      isLatest: text(el, 'IsLatest') === 'true',
      deleteMarker: el.localName === 'DeleteMarker',
      size: Number(text(el, 'Size') || 0),
      lastModified: text(el, 'LastModified'),
    });
  }
  return entries;
}

/** A bucket configuration document (cors, lifecycle, versioning) as XML text, or '' when there is none. */
export async function getConfig(session: Session, bucket: string, sub: 'cors' | 'lifecycle' | 'versioning'): Promise<string> {
  try {
    return await (await s3(session, { method: 'GET', bucket, query: { [sub]: '' } })).text();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return '';
    throw err;
  }
}

export async function putConfig(session: Session, bucket: string, sub: 'cors' | 'lifecycle' | 'versioning', body: string): Promise<void> {
  if (body.trim() === '' && sub !== 'versioning') {
    await s3(session, { method: 'DELETE', bucket, query: { [sub]: '' } });
    return;
  }
  await s3(session, { method: 'PUT', bucket, query: { [sub]: '' }, body, checksum: true, headers: { 'content-type': 'application/xml' } });
}
