// Sign-in: an access key and its secret, or a JWT (exchanged with STS for
// temporary credentials). Checked with a ListBuckets before it is kept; the
// admin API says whether the principal is the service role.
import { useState } from 'preact/hooks';
import { ApiError, listBuckets, serviceJson } from '../api.ts';
import { assumeRoleWithWebIdentity, saveSession, serverRegion, type Session } from '../session.ts';
import { ErrorNote } from '../ui.tsx';

async function isService(session: Session): Promise<boolean> {
  try {
    await serviceJson(session, 'GET', '/admin/v1/buckets/stats');
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 401)) return false;
    throw err;
  }
}

export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice: string }) {
  const [mode, setMode] = useState<'key' | 'jwt'>('key');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const region = await serverRegion();
      let session: Session;
      if (mode === 'key') {
        const accessKeyId = String(form.get('accessKeyId')).trim();
        const secretAccessKey = String(form.get('secretAccessKey'));
        session = { via: 'access-key', creds: { accessKeyId, secretAccessKey, region }, service: false };
      } else {
        const jwt = String(form.get('jwt')).trim();
        const { creds, expiresAt } = await assumeRoleWithWebIdentity(jwt, region);
        session = { via: 'jwt', jwt, creds, expiresAt, service: false };
      }
      await listBuckets(session);
      session.service = await isService(session);
      await saveSession(session);
      onSignedIn(session);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <h1>aerostore console</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <div class="tabs" role="group" aria-label="Sign in with">
        <button type="button" aria-pressed={mode === 'key'} onClick={() => setMode('key')}>
          Access key
        </button>
        <button type="button" aria-pressed={mode === 'jwt'} onClick={() => setMode('jwt')}>
          JWT
        </button>
      </div>
      <form onSubmit={submit} autocomplete="off">
        {mode === 'key' ? (
          <>
            <label>
              Access key ID
              <input name="accessKeyId" required autocapitalize="off" spellcheck={false} />
            </label>
            <label>
              Secret access key
              <input name="secretAccessKey" type="password" required />
            </label>
          </>
        ) : (
          <label>
            JSON Web Token
            <textarea name="jwt" required rows={4} spellcheck={false} />
          </label>
        )}
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="hint">
        The secret stays in this tab: it signs each request here and is kept, encrypted, only until the tab closes, you sign out, or 30 minutes pass without
        activity. No cookie is set.
      </p>
    </main>
  );
}
