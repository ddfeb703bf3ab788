// Uploads from the browser with progress: one PUT for a small file, a
// multipart upload in 8 MiB parts for a large one (XMLHttpRequest, whose
// upload events report progress; fetch has none for request bodies). A
// multipart upload is resumable: its uploadId is remembered in sessionStorage
// under the file's name, size and modification time, and a new attempt asks
// ListParts which parts the server already has and sends only the others.
// A part that fails on the network is retried a few times before giving up.
import { ApiError, s3, s3Xml, signS3, text, xml } from './api.ts';
import type { Session } from './session.ts';

export const PART_SIZE = 8 * 1024 * 1024;
const RETRIES = 3;

export type OnProgress = (loaded: number, total: number) => void;

function resumeKey(bucket: string, key: string, file: File): string {
  return `aerostore.upload.${JSON.stringify([bucket, key, file.name, file.size, file.lastModified])}`;
}

/** One signed PUT of `body` through XMLHttpRequest; resolves with the ETag. */
async function putWithProgress(session: Session, r: { bucket: string; key: string; query?: Record<string, string>; body: Blob; contentType?: string }, onProgress: (loaded: number) => void, signal: AbortSignal): Promise<string> {
  const { url, headers } = await signS3(session, { method: 'PUT', bucket: r.bucket, key: r.key, query: r.query, body: r.body, headers: r.contentType ? { 'content-type': r.contentType } : {} });
  return new Promise((resolve, reject) => {
    const req = new XMLHttpRequest();
    req.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) req.setRequestHeader(k, v);
    req.upload.onprogress = (e) => onProgress(e.loaded);
    req.onload = () => {
      if (req.status >= 200 && req.status < 300) return resolve(req.getResponseHeader('etag') ?? '');
      const doc = xml(req.responseText);
      reject(new ApiError(req.status, text(doc, 'Code') || String(req.status), text(doc, 'Message') || req.statusText));
    };
    req.onerror = () => reject(new TypeError('network error'));
    req.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    signal.addEventListener('abort', () => req.abort(), { once: true });
    req.send(r.body);
  });
}

async function withRetries<T>(attempt: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      // Only a dropped connection is worth another try; an answer from the server is final.
      if (!(err instanceof TypeError) || i >= RETRIES || signal.aborted) throw err;
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
}

export async function uploadFile(session: Session, bucket: string, key: string, file: File, onProgress: OnProgress, signal: AbortSignal): Promise<void> {
  const contentType = file.type || 'application/octet-stream';
  if (file.size < PART_SIZE) {
    await withRetries(() => putWithProgress(session, { bucket, key, body: file, contentType }, (n) => onProgress(n, file.size), signal), signal);
    onProgress(file.size, file.size);
    return;
  }
  const remember = resumeKey(bucket, key, file);
  const parts = new Map<number, { etag: string; size: number }>();
  let uploadId = sessionStorage.getItem(remember) ?? '';
  if (uploadId) {
    try {
      let marker = '';
      for (;;) {
        const doc = await s3Xml(session, { method: 'GET', bucket, key, query: { uploadId, ...(marker ? { 'part-number-marker': marker } : {}) }, signal });
        for (const p of Array.from(doc.getElementsByTagName('Part'))) parts.set(Number(text(p, 'PartNumber')), { etag: text(p, 'ETag'), size: Number(text(p, 'Size')) });
        if (text(doc, 'IsTruncated') !== 'true') break;
        marker = text(doc, 'NextPartNumberMarker');
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'NoSuchUpload')) throw err;
      uploadId = '';
      parts.clear();
    }
  }
  if (!uploadId) {
    const doc = await s3Xml(session, { method: 'POST', bucket, key, query: { uploads: '' }, headers: { 'content-type': contentType }, signal });
    uploadId = text(doc, 'UploadId');
    sessionStorage.setItem(remember, uploadId);
  }
  const count = Math.ceil(file.size / PART_SIZE);
  const done = new Map<number, number>();
  const report = () => onProgress([...done.values()].reduce((a, b) => a + b, 0), file.size);
  for (let n = 1; n <= count; n++) {
    const slice = file.slice((n - 1) * PART_SIZE, Math.min(n * PART_SIZE, file.size));
    const have = parts.get(n);
    if (have && have.size === slice.size) {
      done.set(n, slice.size);
      report();
      continue;
    }
    const etag = await withRetries(
      () =>
        putWithProgress(session, { bucket, key, query: { partNumber: String(n), uploadId }, body: slice }, (loaded) => {
          done.set(n, loaded);
          report();
        }, signal),
      signal,
    );
    parts.set(n, { etag, size: slice.size });
    done.set(n, slice.size);
    report();
  }
  const body = `<CompleteMultipartUpload>${Array.from({ length: count }, (_, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${parts.get(i + 1)!.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const doc = await s3Xml(session, { method: 'POST', bucket, key, query: { uploadId }, body, headers: { 'content-type': 'application/xml' }, signal });
  // CompleteMultipartUpload can answer 200 with an Error document.
  if (doc.documentElement.localName === 'Error') throw new ApiError(200, text(doc, 'Code'), text(doc, 'Message'));
  sessionStorage.removeItem(remember);
}

/**
 * Gives up an interrupted upload for good: the multipart upload remembered
 * for this file, if any, is aborted (its parts leave the server's disk) and
 * forgotten. Without it they would wait for a lifecycle rule.
 */
export async function discardUpload(session: Session, bucket: string, key: string, file: File): Promise<void> {
  const remember = resumeKey(bucket, key, file);
  const uploadId = sessionStorage.getItem(remember);
  if (!uploadId) return;
  try {
    await s3(session, { method: 'DELETE', bucket, key, query: { uploadId } });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'NoSuchUpload')) throw err;
  }
  sessionStorage.removeItem(remember);
}
