// Events: a live tail of /storage/v1/events (Server-Sent Events read with
// fetch and a stream reader, because EventSource cannot sign its request),
// filtered by bucket, type and key prefix; what arrives is what the principal
// may read. The stream resumes from the last event id after a drop, and is
// re-signed then. Below, for the service role: webhooks and their deliveries.
import { useEffect, useState } from 'preact/hooks';
import { serviceFetch, serviceJson } from '../api.ts';
import { when } from '../format.ts';
import type { Session } from '../session.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

const TYPES = [
  'storage.object.created',
  'storage.object.deleted',
  'storage.object.downloaded',
  'storage.object.scanned',
  'storage.object.quarantined',
  'storage.bucket.created',
  'storage.bucket.deleted',
];
const KEEP = 200;

interface LiveEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Reads SSE frames from a response body until it ends (or its fetch is aborted); calls `onEvent` for each. */
async function readStream(body: ReadableStream<Uint8Array>, onEvent: (e: LiveEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let id = '';
      let type = 'message';
      const data: string[] = [];
      for (const line of frame.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const v = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = v;
        else if (field === 'event') type = v;
        else if (field === 'data') data.push(v);
      }
      if (data.length) {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(data.join('\n')) as Record<string, unknown>;
        } catch {
          parsed = { raw: data.join('\n') };
        }
        onEvent({ id, type, data: parsed });
      }
    }
  }
}

function LiveTail({ session }: { session: Session }) {
  const [bucket, setBucket] = useState('');
  const [prefix, setPrefix] = useState('');
  const [types, setTypes] = useState<string[]>([]);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [status, setStatus] = useState('connecting');
  const [paused, setPaused] = useState(false);

  useEffect(() => {
    if (paused) {
      setStatus('paused');
      return;
    }
    const abort = new AbortController();
    let last = '';
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          const query: Record<string, string> = {};
          if (bucket) query.bucket = bucket;
          if (prefix) query.prefix = prefix;
          if (types.length) query.type = types.join(',');
          if (last) query.last_event_id = last;
          const res = await serviceFetch(session, 'GET', '/storage/v1/events', undefined, query, abort.signal);
          setStatus('live');
          await readStream(res.body!, (e) => {
            last = e.id || last;
            setEvents((list) => [e, ...list].slice(0, KEEP));
          });
          setStatus('reconnecting');
        } catch (err) {
          if (abort.signal.aborted) return;
          setStatus(`reconnecting (${err instanceof Error ? err.message : String(err)})`);
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    return () => abort.abort();
  }, [session, bucket, prefix, types.join(','), paused]);

  return (
    <>
      <form class="grid-form" onSubmit={(e) => e.preventDefault()}>
        <label>
          Bucket
          <input value={bucket} onChange={(e) => setBucket(e.currentTarget.value.trim())} placeholder="all buckets" />
        </label>
        <label>
          Key prefix
          <input value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} placeholder="any key" />
        </label>
        <fieldset class="types">
          <legend>Types (none checked: all)</legend>
          {TYPES.map((t) => (
            <label key={t} class="check">
              <input type="checkbox" checked={types.includes(t)} onChange={(e) => setTypes(e.currentTarget.checked ? [...types, t] : types.filter((x) => x !== t))} />
              {t.replace('storage.', '')}
            </label>
          ))}
        </fieldset>
      </form>
      <div class="actions">
        <p role="status" class="stream-status">
          Stream: <strong>{status}</strong>
        </p>
        <button type="button" onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" onClick={() => setEvents([])}>
          Clear
        </button>
      </div>
      <ol class="events" aria-label="Events, newest first" aria-live="polite">
        {events.map((e) => (
          <li key={e.id + e.type}>
            <span class="event-type">{e.type}</span> <code>
              {String(e.data.bucket ?? '')}
              {e.data.path ? `/${String(e.data.path)}` : ''}
            </code>{' '}
            <span class="hint">
              #{e.id} · {when(String(e.data.timestamp ?? ''))}
            </span>
          </li>
        ))}
        {events.length === 0 && <li class="hint">Waiting for events…</li>}
      </ol>
    </>
  );
}

interface Webhook {
  id: string;
  bucket: string;
  url: string;
  event_types: string[];
  prefix: string;
  enabled: boolean;
}

interface Delivery {
  id: number;
  event_id: number;
  event_type: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
}

function Deliveries({ session, webhook }: { session: Session; webhook: Webhook }) {
  const list = useLoad(() => serviceJson<Delivery[]>(session, 'GET', `/admin/v1/webhooks/${webhook.id}/deliveries`, undefined, { limit: '20' }), [webhook.id]);
  const [error, setError] = useState<unknown>();
  // While open, the list follows the deliveries' progress.
  useEffect(() => {
    const timer = setInterval(list.reload, 3_000);
    return () => clearInterval(timer);
  }, [list.reload]);
  return (
    <div class="deliveries">
      <ErrorNote error={error ?? list.error} />
      <ul>
        {(list.value ?? []).map((d) => (
          <li key={d.id}>
            <span class={`state state-${d.state}`}>{d.state}</span> {d.event_type} #{d.event_id} · {d.attempts} attempt(s)
            {d.last_status !== null ? ` · HTTP ${d.last_status}` : ''}
            {d.last_error ? ` · ${d.last_error}` : ''} · {when(d.delivered_at ?? d.created_at)}
            {d.state === 'dead' && (
              <button
                type="button"
                onClick={async () => {
                  try {
                    await serviceJson(session, 'POST', `/admin/v1/webhooks/${webhook.id}/deliveries/${d.id}/retry`);
                    list.reload();
                  } catch (err) {
                    setError(err);
                  }
                }}
              >
                Retry
              </button>
            )}
          </li>
        ))}
        {list.value?.length === 0 && <li class="hint">No deliveries yet.</li>}
      </ul>
    </div>
  );
}

function Webhooks({ session }: { session: Session }) {
  const hooks = useLoad(() => serviceJson<Webhook[]>(session, 'GET', '/admin/v1/webhooks'), [session]);
  const [open, setOpen] = useState<string>();
  return (
    <>
      <ErrorNote error={hooks.error} />
      {hooks.value?.length === 0 && <p>No webhooks. Create them with POST /admin/v1/webhooks (README "Webhooks").</p>}
      <ul class="webhooks">
        {(hooks.value ?? []).map((w) => (
          <li key={w.id}>
            <div>
              <strong>{w.bucket}</strong> → <code>{w.url}</code> {w.enabled ? '' : '(disabled)'}
              <span class="hint"> {w.event_types.length ? w.event_types.join(', ') : 'all types'}{w.prefix ? ` · prefix ${w.prefix}` : ''}</span>
            </div>
            <button type="button" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? undefined : w.id)}>
              {open === w.id ? 'Hide deliveries' : 'Deliveries'}
            </button>
            {open === w.id && <Deliveries session={session} webhook={w} />}
          </li>
        ))}
      </ul>
    </>
  );
}

export function Events({ session }: { session: Session }) {
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <LiveTail session={session} />
      {session.service && (
        <>
          <h2>Webhooks</h2>
          <Webhooks session={session} />
        </>
      )}
    </section>
  );
}
