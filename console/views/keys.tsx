// Access keys (service role, /admin/v1/keys): the active keys, a new key
// (its secret shown this once), revocation.
import { useState } from 'preact/hooks';
import { serviceJson } from '../api.ts';
import { when } from '../format.ts';
import type { Session } from '../session.ts';
import { Confirm, Dialog, ErrorNote, Table, useLoad } from '../ui.tsx';

interface AccessKey {
  id: string;
  access_key_id: string;
  user_id: string;
  role: 'authenticated' | 'service';
  name: string;
  created_at: string;
}

export function Keys({ session }: { session: Session }) {
  const keys = useLoad(() => serviceJson<AccessKey[]>(session, 'GET', '/admin/v1/keys'), [session]);
  const [userId, setUserId] = useState<string>(() => crypto.randomUUID());
  const [role, setRole] = useState<AccessKey['role']>('authenticated');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<AccessKey & { secret_access_key: string }>();
  const [revoking, setRevoking] = useState<AccessKey>();

  async function create(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      setCreated(await serviceJson(session, 'POST', '/admin/v1/keys', { user_id: userId.trim(), role, ...(name.trim() ? { name: name.trim() } : {}) }));
      setName('');
      setUserId(crypto.randomUUID());
      keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Access keys</h1>
      <form class="grid-form" onSubmit={create}>
        <label>
          User id (uuid)
          <input value={userId} onInput={(e) => setUserId(e.currentTarget.value)} required spellcheck={false} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as AccessKey['role'])}>
            <option value="authenticated">authenticated</option>
            <option value="service">service (bypasses row-level security)</option>
          </select>
        </label>
        <label>
          Name (optional)
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      <ErrorNote error={error ?? keys.error} />
      <Table columns={['Access key ID', 'Name', 'Role', 'User id', 'Created']}>
        {(keys.value ?? []).map((k) => (
          <tr key={k.id}>
            <td data-label="Access key ID">
              <code>{k.access_key_id}</code>
            </td>
            <td data-label="Name">{k.name || '—'}</td>
            <td data-label="Role">{k.role}</td>
            <td data-label="User id">
              <code>{k.user_id}</code>
            </td>
            <td data-label="Created">{when(k.created_at)}</td>
            <td class="row-actions">
              <button type="button" class="danger" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.access_key_id}`}>
                Revoke
              </button>
            </td>
          </tr>
        ))}
        {keys.value?.length === 0 && (
          <tr>
            <td colSpan={6}>No access keys besides the root key.</td>
          </tr>
        )}
      </Table>
      <p class="hint">The root key (from the server's configuration) is not listed and cannot be revoked here.</p>
      {created && (
        <Dialog title="New access key" onClose={() => setCreated(undefined)}>
          <p>
            <strong>Copy the secret now: it is shown this once.</strong>
          </p>
          <label>
            Access key ID
            <input readOnly value={created.access_key_id} class="share-url" id="new-key-id" />
          </label>
          <label>
            Secret access key
            <input readOnly value={created.secret_access_key} class="share-url" id="new-key-secret" />
          </label>
          <div class="actions">
            <button type="button" class="primary" onClick={() => setCreated(undefined)}>
              I have stored the secret
            </button>
          </div>
        </Dialog>
      )}
      {revoking && (
        <Confirm
          title="Revoke access key"
          message={`Revoke ${revoking.access_key_id}? Every request signed with it is refused from now on.`}
          action="Revoke"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            await serviceJson(session, 'DELETE', `/admin/v1/keys/${encodeURIComponent(revoking.id)}`);
            keys.reload();
          }}
        />
      )}
    </section>
  );
}
