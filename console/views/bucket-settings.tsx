// A bucket's settings: who may read it and its upload rules (/storage/v1
// bucket update: policy, size limit, allowed MIME types), versioning
// (PutBucketVersioning), and the CORS and lifecycle documents as S3 XML.
import { useEffect, useState } from 'preact/hooks';
import { getConfig, putConfig, serviceJson, text, xml } from '../api.ts';
import { href } from '../route.ts';
import type { Session } from '../session.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

interface StorageBucket {
  policy: 'private' | 'authenticated' | 'public';
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
}

function Saved({ at }: { at?: number }) {
  return at ? (
    <span class="ok" role="status">
      Saved.
    </span>
  ) : null;
}

function RulesForm({ session, bucket }: { session: Session; bucket: string }) {
  const path = `/storage/v1/bucket/${encodeURIComponent(bucket)}`;
  const current = useLoad(() => serviceJson<StorageBucket>(session, 'GET', path), [bucket]);
  if (current.error) return <ErrorNote error={current.error} />;
  if (!current.value) return <p class="loading">Loading…</p>;
  return <RulesFields session={session} path={path} initial={current.value} />;
}

function RulesFields({ session, path, initial }: { session: Session; path: string; initial: StorageBucket }) {
  const [policy, setPolicy] = useState(initial.policy);
  const [limit, setLimit] = useState(initial.file_size_limit === null ? '' : String(initial.file_size_limit));
  const [mimes, setMimes] = useState((initial.allowed_mime_types ?? []).join(', '));
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<number>();
  async function save(e: Event) {
    e.preventDefault();
    const types = mimes.split(/[\s,]+/).filter(Boolean);
    setError(undefined);
    setSaved(undefined);
    try {
      const b = await serviceJson<StorageBucket>(session, 'PUT', path, {
        policy,
        file_size_limit: limit.trim() === '' ? null : limit.trim(),
        allowed_mime_types: types.length ? types : null,
      });
      if (b?.file_size_limit !== undefined) setLimit(b.file_size_limit === null ? '' : String(b.file_size_limit));
      setSaved(Date.now());
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form onSubmit={save} class="stack">
      <label>
        Access
        <select value={policy} onChange={(e) => setPolicy(e.currentTarget.value as StorageBucket['policy'])}>
          <option value="private">private: owners only</option>
          <option value="authenticated">authenticated: any signed-in principal reads</option>
          <option value="public">public: anyone reads</option>
        </select>
      </label>
      <label>
        File size limit (bytes or e.g. 10MB; empty for the server's)
        <input value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
      </label>
      <label>
        Allowed MIME types (comma-separated, e.g. image/*; empty for any)
        <input value={mimes} onInput={(e) => setMimes(e.currentTarget.value)} />
      </label>
      <ErrorNote error={error} />
      <div class="actions">
        <button type="submit" class="primary">
          Save access and limits
        </button>
        <Saved at={saved} />
      </div>
    </form>
  );
}

function XmlDocumentForm({ session, bucket, sub, label, example }: { session: Session; bucket: string; sub: 'cors' | 'lifecycle'; label: string; example: string }) {
  const current = useLoad(() => getConfig(session, bucket, sub), [bucket, sub]);
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<number>();
  useEffect(() => setValue(current.value ?? ''), [current.value]);
  return (
    <form
      class="stack"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          await putConfig(session, bucket, sub, value);
          setSaved(Date.now());
        } catch (err) {
          setError(err);
        }
      }}
    >
      <label>
        {label} (S3 XML; empty removes it)
        <textarea rows={8} spellcheck={false} value={value} placeholder={example} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <ErrorNote error={error ?? current.error} />
      <div class="actions">
        <button type="submit" class="primary">
          Save {label}
        </button>
        <Saved at={saved} />
      </div>
    </form>
  );
}

function VersioningForm({ session, bucket }: { session: Session; bucket: string }) {
  const current = useLoad(async () => text(xml(await getConfig(session, bucket, 'versioning')), 'Status'), [bucket]);
  const [error, setError] = useState<unknown>();
  const status = current.value || 'never enabled';
  async function set(to: 'Enabled' | 'Suspended') {
    setError(undefined);
    try {
      await putConfig(session, bucket, 'versioning', `<VersioningConfiguration><Status>${to}</Status></VersioningConfiguration>`);
      current.reload();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <div class="stack">
      <p>
        Versioning: <strong>{status}</strong>
      </p>
      <ErrorNote error={error ?? current.error} />
      <div class="actions">
        <button type="button" disabled={current.value === 'Enabled'} onClick={() => void set('Enabled')}>
          Enable versioning
        </button>
        <button type="button" disabled={current.value !== 'Enabled'} onClick={() => void set('Suspended')}>
          Suspend versioning
        </button>
      </div>
    </div>
  );
}

export function BucketSettings({ session, bucket }: { session: Session; bucket: string }) {
  return (
    <section aria-labelledby="settings-title">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="#/buckets">Buckets</a> / <a href={href({ view: 'objects', bucket, prefix: '' })}>{bucket}</a> / settings
      </nav>
      <h1 id="settings-title">Settings of {bucket}</h1>
      <h2>Access and upload rules</h2>
      <RulesForm session={session} bucket={bucket} />
      <h2>Versioning</h2>
      <VersioningForm session={session} bucket={bucket} />
      <h2>CORS</h2>
      <XmlDocumentForm
        session={session}
        bucket={bucket}
        sub="cors"
        label="CORS configuration"
        example="<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
      />
      <h2>Lifecycle</h2>
      <XmlDocumentForm
        session={session}
        bucket={bucket}
        sub="lifecycle"
        label="Lifecycle configuration"
        example="<LifecycleConfiguration><Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule></LifecycleConfiguration>"
      />
    </section>
  );
}
