// The console's entry point: sign-in, the navigation, the session's expiry,
// and the view the URL fragment names.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './route.ts';
import { expired, idleFor, IDLE_MS, restoreSession, touch, wipeSession, type Session } from './session.ts';
import { SignIn } from './views/sign-in.tsx';
import { Buckets } from './views/buckets.tsx';
import { BucketSettings } from './views/bucket-settings.tsx';
import { Objects } from './views/objects.tsx';
import { Keys } from './views/keys.tsx';
import { Events } from './views/events.tsx';
import { Quarantine } from './views/quarantine.tsx';
import { Server } from './views/server.tsx';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV: Array<{ view: Route['view']; label: string; service?: boolean }> = [
  { view: 'buckets', label: 'Buckets' },
  { view: 'keys', label: 'Access keys', service: true },
  { view: 'events', label: 'Events' },
  { view: 'quarantine', label: 'Quarantine', service: true },
  { view: 'server', label: 'Server' },
];

function App() {
  const [session, setSession] = useState<Session | undefined>();
  const [restoring, setRestoring] = useState(true);
  const [notice, setNotice] = useState('');
  const route = useRoute();

  useEffect(() => {
    void restoreSession().then((s) => {
      setSession(s);
      setRestoring(false);
    });
  }, []);

  // Activity keeps the session; idleness and expired credentials end it.
  useEffect(() => {
    if (!session) return;
    let last = 0;
    const active = () => {
      if (Date.now() - last > 5_000) {
        last = Date.now();
        touch();
      }
    };
    addEventListener('pointerdown', active);
    addEventListener('keydown', active);
    const timer = setInterval(() => {
      if (idleFor() > IDLE_MS) void signOut('Signed out after 30 minutes without activity.');
      else if (expired(session)) void signOut('The temporary credentials expired: sign in again.');
    }, 10_000);
    return () => {
      removeEventListener('pointerdown', active);
      removeEventListener('keydown', active);
      clearInterval(timer);
    };
  }, [session]);

  async function signOut(message = '') {
    await wipeSession();
    setSession(undefined);
    setNotice(message);
  }

  if (restoring) return <p class="loading">Loading…</p>;
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice('');
          setSession(s);
        }}
      />
    );
  }
  const current = route.view === 'objects' || route.view === 'settings' ? 'buckets' : route.view;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/buckets">
          aerostore
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.service || session.service).map((n) => (
              <li key={n.view}>
                <a href={`#/${n.view}`} aria-current={current === n.view ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={session.via === 'jwt' ? 'signed in with a JWT (temporary credentials)' : 'signed in with an access key'}>
            {session.creds.accessKeyId.slice(0, 12)}
            {session.creds.accessKeyId.length > 12 ? '…' : ''}
            {session.service ? ' · service role' : ''}
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <View route={route} session={session} />
      </main>
    </div>
  );
}

function View({ route, session }: { route: Route; session: Session }) {
  switch (route.view) {
    case 'objects':
      return <Objects session={session} bucket={route.bucket} prefix={route.prefix} />;
    case 'settings':
      return <BucketSettings session={session} bucket={route.bucket} />;
    case 'keys':
      return <Keys session={session} />;
    case 'events':
      return <Events session={session} />;
    case 'quarantine':
      return <Quarantine session={session} />;
    case 'server':
      return <Server session={session} />;
    default:
      return <Buckets session={session} />;
  }
}

render(<App />, document.getElementById('app')!);
