// Buckets: the principal's own ListBuckets, with each bucket's figures from
// the admin API when the principal may call it (the service role); create and
// delete.
import { useState } from 'preact/hooks';
import { listBuckets, s3, serviceJson } from '../api.ts';
import { bytes, when } from '../format.ts';
import { href } from '../route.ts';
import type { Session } from '../session.ts';
import { Confirm, ErrorNote, Table, useLoad } from '../ui.tsx';

interface Stats {
  name: string;
  objects: number;
  bytes: number;
  noncurrent_versions: number;
  stored_bytes: number;
  dedup_savings: number;
}

export function Buckets({ session }: { session: Session }) {
  const buckets = useLoad(() => listBuckets(session), [session]);
  const stats = useLoad(
    async () => (session.service ? new Map((await serviceJson<Stats[]>(session, 'GET', '/admin/v1/buckets/stats')).map((s) => [s.name, s])) : new Map<string, Stats>()),
    [session],
  );
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const [deleting, setDeleting] = useState<string>();

  async function create(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      await s3(session, { method: 'PUT', bucket: name.trim() });
      setName('');
      buckets.reload();
      stats.reload();
    } catch (err) {
      setError(err);
    }
  }

  const figures = stats.value;
  return (
    <section aria-labelledby="buckets-title">
      <h1 id="buckets-title">Buckets</h1>
      <form class="inline" onSubmit={create}>
        <label>
          New bucket name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} required pattern="[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]" autocapitalize="off" spellcheck={false} />
        </label>
        <button type="submit" class="primary">
          Create bucket
        </button>
      </form>
      <ErrorNote error={error} />
      <ErrorNote error={buckets.error} />
      {buckets.value && buckets.value.length === 0 && <p>No buckets yet.</p>}
      {buckets.value && buckets.value.length > 0 && (
        <Table columns={['Name', 'Created', { label: 'Objects', num: true }, { label: 'Size', num: true }, { label: 'Dedup savings', num: true }]}>
          {buckets.value.map((b) => {
            const s = figures?.get(b.name);
            return (
              <tr key={b.name}>
                <td data-label="Name">
                  <a href={href({ view: 'objects', bucket: b.name, prefix: '' })}>{b.name}</a>
                </td>
                <td data-label="Created">{when(b.created)}</td>
                <td data-label="Objects" class="num">
                  {s ? s.objects.toLocaleString() : '—'}
                </td>
                <td data-label="Size" class="num">
                  {s ? bytes(s.bytes) : '—'}
                </td>
                <td data-label="Dedup savings" class="num">
                  {s ? bytes(s.dedup_savings) : '—'}
                </td>
                <td class="row-actions">
                  <a class="button" href={href({ view: 'settings', bucket: b.name })}>
                    Settings
                  </a>
                  <button type="button" class="danger" onClick={() => setDeleting(b.name)}>
                    Delete
                  </button>
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      {!session.service && <p class="hint">Sizes and dedup savings are shown to the service role only.</p>}
      {deleting && (
        <Confirm
          title="Delete bucket"
          message={`Delete the bucket "${deleting}"? It must be empty.`}
          action="Delete bucket"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await s3(session, { method: 'DELETE', bucket: deleting });
            buckets.reload();
            stats.reload();
          }}
        />
      )}
    </section>
  );
}
