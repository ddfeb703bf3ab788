// The dialogs of one object: a share link (a presigned GET with a chosen
// expiry), its details (HeadObject's metadata, its tags, its versions when
// the bucket keeps any) and copy/move (CopyObject, then DeleteObject).
import { useState } from 'preact/hooks';
import { ApiError, copyObject, getTags, listBuckets, listVersions, putTags, s3 } from '../api.ts';
import { bytes, when } from '../format.ts';
import type { Session } from '../session.ts';
import { encodePath, presign } from '../sigv4.ts';
import { Dialog, ErrorNote, useLoad } from '../ui.tsx';

interface ObjectProps {
  session: Session;
  bucket: string;
  objectKey: string;
  onClose: () => void;
}

/**
 * Saves an object (or one of its versions) as a file: the browser follows a
 * presigned GET valid for a minute that asks for `Content-Disposition:
 * attachment`, so the bytes stream to disk whatever their size (a signed
 * fetch into a Blob would hold them all in memory first). The URL carries a
 * signature, not the secret, as a share link does.
 */
export async function downloadObject(session: Session, bucket: string, key: string, versionId?: string): Promise<void> {
  const name = key.slice(key.lastIndexOf('/') + 1) || 'download';
  const query: Record<string, string> = { 'response-content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}` };
  if (versionId) query.versionId = versionId;
  const a = document.createElement('a');
  a.href = await presign(session.creds, { method: 'GET', path: encodePath(bucket, key), query }, 60, location.origin);
  a.download = name;
  a.rel = 'noreferrer';
  document.body.append(a);
  a.click();
  a.remove();
}

const EXPIRIES: Array<[number, string]> = [
  [15 * 60, '15 minutes'],
  [3600, '1 hour'],
  [86400, '1 day'],
  [7 * 86400, '7 days (the longest SigV4 allows)'],
];

export function ShareDialog({ session, bucket, objectKey, onClose }: ObjectProps) {
  const [expiry, setExpiry] = useState(3600);
  const [url, setUrl] = useState('');
  const [copied, setCopied] = useState(false);
  const limit = session.expiresAt ? Math.floor((session.expiresAt - Date.now()) / 1000) : Infinity;
  return (
    <Dialog title={`Share ${objectKey}`} onClose={onClose}>
      <form
        class="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          setUrl(await presign(session.creds, { method: 'GET', path: encodePath(bucket, objectKey) }, expiry, location.origin));
          setCopied(false);
        }}
      >
        <label>
          Link expires after
          <select value={String(expiry)} onChange={(e) => setExpiry(Number(e.currentTarget.value))}>
            {EXPIRIES.map(([s, label]) => (
              <option key={s} value={String(s)}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {expiry > limit && <p class="hint">These are temporary credentials: the link stops working when they expire, in {Math.max(0, Math.floor(limit / 60))} min.</p>}
        <button type="submit" class="primary">
          Create link
        </button>
        {url && (
          <>
            <label>
              Share link (anyone with it can download the object until it expires)
              <input readOnly value={url} class="share-url" onFocus={(e) => e.currentTarget.select()} />
            </label>
            <button
              type="button"
              onClick={async () => {
                await navigator.clipboard.writeText(url).catch(() => undefined);
                setCopied(true);
              }}
            >
              {copied ? 'Copied' : 'Copy link'}
            </button>
          </>
        )}
      </form>
    </Dialog>
  );
}

function Tags({ session, bucket, objectKey }: Omit<ObjectProps, 'onClose'>) {
  const tags = useLoad(() => getTags(session, bucket, objectKey), [objectKey]);
  const [draft, setDraft] = useState<Array<[string, string]>>();
  const [error, setError] = useState<unknown>();
  const rows = draft ?? tags.value ?? [];
  const edit = (i: number, j: 0 | 1, v: string) => setDraft(rows.map((r, k) => (k === i ? ((j === 0 ? [v, r[1]] : [r[0], v]) as [string, string]) : r)));
  return (
    <form
      class="stack"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          await putTags(session, bucket, objectKey, rows.filter(([k]) => k.trim() !== ''));
          setDraft(undefined);
          tags.reload();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <ErrorNote error={tags.error} />
      {rows.map(([k, v], i) => (
        <div class="tag-row" key={i}>
          <label>
            Tag key
            <input value={k} onInput={(e) => edit(i, 0, e.currentTarget.value)} />
          </label>
          <label>
            Value
            <input value={v} onInput={(e) => edit(i, 1, e.currentTarget.value)} />
          </label>
          <button type="button" aria-label={`Remove tag ${k}`} onClick={() => setDraft(rows.filter((_, k2) => k2 !== i))}>
            Remove
          </button>
        </div>
      ))}
      <ErrorNote error={error} />
      <div class="actions">
        <button type="button" onClick={() => setDraft([...rows, ['', '']])}>
          Add tag
        </button>
        <button type="submit" class="primary">
          Save tags
        </button>
      </div>
    </form>
  );
}

function Versions({ session, bucket, objectKey }: Omit<ObjectProps, 'onClose'>) {
  const versions = useLoad(() => listVersions(session, bucket, objectKey), [objectKey]);
  const [error, setError] = useState<unknown>();
  if (versions.error) return <ErrorNote error={versions.error} />;
  const list = versions.value ?? [];
  if (list.length <= 1 && (list[0]?.versionId ?? 'null') === 'null') return <p>This bucket keeps no versions of this object.</p>;
  return (
    <>
      <ErrorNote error={error} />
      <ul class="versions">
        {list.map((v) => (
          <li key={v.versionId}>
            <code>{v.versionId}</code> {v.deleteMarker ? 'delete marker' : bytes(v.size)} · {when(v.lastModified)}
            {v.isLatest ? ' · latest' : ''}
            {!v.deleteMarker && (
              <button
                type="button"
                onClick={() => downloadObject(session, bucket, objectKey, v.versionId).catch(setError)}
              >
                Download this version
              </button>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

export function DetailsDialog({ session, bucket, objectKey, onClose }: ObjectProps) {
  const head = useLoad(async () => {
    const res = await s3(session, { method: 'HEAD', bucket, key: objectKey });
    return Array.from(res.headers.entries()).filter(([k]) => /^(content-|etag|last-modified|x-amz-(meta-|version-id|checksum|storage-class)|x-aerostore-)/.test(k));
  }, [objectKey]);
  return (
    <Dialog title={objectKey} onClose={onClose} wide>
      <h3>Metadata</h3>
      <ErrorNote error={head.error instanceof ApiError && head.error.status === 403 ? new Error('Access denied (quarantined, or not readable by you).') : head.error} />
      <dl class="meta">
        {(head.value ?? []).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{k === 'content-length' ? `${bytes(Number(v))} (${v} bytes)` : v}</dd>
          </div>
        ))}
      </dl>
      <h3>Tags</h3>
      <Tags session={session} bucket={bucket} objectKey={objectKey} />
      <h3>Versions</h3>
      <Versions session={session} bucket={bucket} objectKey={objectKey} />
    </Dialog>
  );
}

export function CopyMoveDialog({ session, bucket, objectKey, onClose, onDone }: ObjectProps & { onDone: () => void }) {
  const buckets = useLoad(() => listBuckets(session), [session]);
  const [to, setTo] = useState({ bucket, key: objectKey });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  async function run(move: boolean) {
    setBusy(true);
    setError(undefined);
    try {
      if (to.bucket === bucket && to.key === objectKey) throw new Error('Choose another name or bucket.');
      await copyObject(session, { bucket, key: objectKey }, to);
      if (move) await s3(session, { method: 'DELETE', bucket, key: objectKey });
      onDone();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <Dialog title={`Copy or move ${objectKey}`} onClose={onClose}>
      <form class="stack" onSubmit={(e) => e.preventDefault()}>
        <label>
          To bucket
          <select value={to.bucket} onChange={(e) => setTo({ ...to, bucket: e.currentTarget.value })}>
            {(buckets.value ?? [{ name: bucket }]).map((b) => (
              <option key={b.name} value={b.name}>
                {b.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          To key
          <input value={to.key} onInput={(e) => setTo({ ...to, key: e.currentTarget.value })} required />
        </label>
        <ErrorNote error={error} />
        <div class="actions">
          <button type="button" disabled={busy} onClick={() => void run(false)}>
            Copy
          </button>
          <button type="button" class="primary" disabled={busy} onClick={() => void run(true)}>
            Move
          </button>
        </div>
      </form>
    </Dialog>
  );
}
