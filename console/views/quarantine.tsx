// Quarantine (service role): the scanner's queue and verdicts
// (/admin/v1/scan/status), the quarantined objects with their signature
// (/admin/v1/quarantine), each downloadable through the admin API (the one
// way out for infected content), releasable (a false positive: the content
// is clean by the operator's word, POST /admin/v1/quarantine/release) or
// deletable; a rescan of everything.
import { useState } from 'preact/hooks';
import { s3, serviceFetch, serviceJson } from '../api.ts';
import { bytes, when } from '../format.ts';
import type { Session } from '../session.ts';
import { Confirm, ErrorNote, Table, saveBlob, useLoad } from '../ui.tsx';

interface Overview {
  queue: { jobs: number; scanning: number; retrying: number; oldest_enqueued_at: string | null; last_error: string | null };
  verdicts: Record<string, { blobs: number; bytes: number }>;
  quarantined_objects: number;
}

interface Quarantined {
  bucket: string;
  key: string;
  size: number;
  signature: string | null;
  last_modified: string;
}

export function Quarantine({ session }: { session: Session }) {
  const overview = useLoad(() => serviceJson<Overview>(session, 'GET', '/admin/v1/scan/status'), [session]);
  const list = useLoad(() => serviceJson<Quarantined[]>(session, 'GET', '/admin/v1/quarantine'), [session]);
  const health = useLoad(async () => ((await (await fetch('/health/ready', { cache: 'no-store' })).json()) as { scanner?: string }).scanner ?? 'unknown', []);
  const [error, setError] = useState<unknown>();
  const [deleting, setDeleting] = useState<Quarantined>();
  const [releasing, setReleasing] = useState<Quarantined>();
  const [released, setReleased] = useState<string[]>();
  const [queued, setQueued] = useState<number>();
  const o = overview.value;
  return (
    <section aria-labelledby="quarantine-title">
      <h1 id="quarantine-title">Quarantine</h1>
      <ErrorNote error={error ?? overview.error ?? list.error} />
      <dl class="cards">
        <div>
          <dt>Scanner</dt>
          <dd>{health.value ?? '…'}</dd>
        </div>
        <div>
          <dt>Queue</dt>
          <dd>{o ? `${o.queue.jobs} job(s), ${o.queue.scanning} scanning, ${o.queue.retrying} retrying` : '…'}</dd>
        </div>
        {o &&
          Object.entries(o.verdicts).map(([verdict, v]) => (
            <div key={verdict}>
              <dt>{verdict}</dt>
              <dd>
                {v.blobs} blob(s), {bytes(v.bytes)}
              </dd>
            </div>
          ))}
        <div>
          <dt>Quarantined objects</dt>
          <dd>{o?.quarantined_objects ?? '…'}</dd>
        </div>
      </dl>
      {o?.queue.last_error && <p class="error">Last scan error: {o.queue.last_error}</p>}
      <div class="actions">
        <button
          type="button"
          onClick={async () => {
            try {
              setQueued((await serviceJson<{ queued: number }>(session, 'POST', '/admin/v1/scan/rescan', {})).queued);
              overview.reload();
            } catch (err) {
              setError(err);
            }
          }}
        >
          Rescan everything
        </button>
        {queued !== undefined && <span role="status">{queued} blob(s) queued.</span>}
      </div>
      <Table columns={['Object', 'Signature', { label: 'Size', num: true }, 'Written']}>
        {(list.value ?? []).map((q) => (
          <tr key={q.bucket + '/' + q.key}>
            <td data-label="Object">
              <code>
                {q.bucket}/{q.key}
              </code>
            </td>
            <td data-label="Signature">{q.signature ?? '—'}</td>
            <td data-label="Size" class="num">
              {bytes(q.size)}
            </td>
            <td data-label="Written">{when(q.last_modified)}</td>
            <td class="row-actions">
              <button
                type="button"
                onClick={async () => {
                  try {
                    const res = await serviceFetch(session, 'GET', `/admin/v1/quarantine/${encodeURIComponent(q.bucket)}/${q.key.split('/').map(encodeURIComponent).join('/')}`);
                    saveBlob(await res.blob(), q.key.slice(q.key.lastIndexOf('/') + 1));
                  } catch (err) {
                    setError(err);
                  }
                }}
              >
                Download
              </button>
              <button type="button" onClick={() => setReleasing(q)}>
                Release
              </button>
              <button type="button" class="danger" onClick={() => setDeleting(q)}>
                Delete
              </button>
            </td>
          </tr>
        ))}
        {list.value?.length === 0 && (
          <tr>
            <td colSpan={5}>Nothing is quarantined.</td>
          </tr>
        )}
      </Table>
      {released && <p role="status">Released: {released.join(', ')}.</p>}
      <p class="hint">
        Releasing says the content is clean (a false positive): every object in the bucket with the same bytes is served again, until a rescan asks clamd again. Deleting
        removes the object; its content goes once nothing references it.
      </p>
      {releasing && (
        <Confirm
          title="Release quarantined content"
          message={`Serve ${releasing.bucket}/${releasing.key} again, and every object in ${releasing.bucket} with the same bytes? clamd found ${releasing.signature ?? 'a signature'} in it.`}
          action="Release"
          onClose={() => setReleasing(undefined)}
          onConfirm={async () => {
            const outcome = await serviceJson<{ released: string[] }>(session, 'POST', '/admin/v1/quarantine/release', { bucket: releasing.bucket, key: releasing.key });
            setReleased(outcome.released);
            list.reload();
            overview.reload();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title="Delete quarantined object"
          message={`Delete ${deleting.bucket}/${deleting.key}?`}
          action="Delete"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await s3(session, { method: 'DELETE', bucket: deleting.bucket, key: deleting.key });
            list.reload();
            overview.reload();
          }}
        />
      )}
    </section>
  );
}
