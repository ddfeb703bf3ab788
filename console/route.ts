// The console's places, kept in the URL fragment (the server serves one page;
// a fragment never reaches it). Bucket names and prefixes are percent-encoded.
export type Route =
  | { view: 'buckets' }
  | { view: 'objects'; bucket: string; prefix: string }
  | { view: 'settings'; bucket: string }
  | { view: 'keys' }
  | { view: 'events' }
  | { view: 'quarantine' }
  | { view: 'server' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  const arg = (i: number) => {
    try {
      return decodeURIComponent(parts[i] ?? '');
    } catch {
      return '';
    }
  };
  switch (parts[0]) {
    case 'b':
      return arg(1) ? { view: 'objects', bucket: arg(1), prefix: arg(2) } : { view: 'buckets' };
    case 'settings':
      return arg(1) ? { view: 'settings', bucket: arg(1) } : { view: 'buckets' };
    case 'keys':
    case 'events':
    case 'quarantine':
    case 'server':
      return { view: parts[0] };
    default:
      return { view: 'buckets' };
  }
}

export function href(r: Route): string {
  switch (r.view) {
    case 'objects':
      return `#/b/${encodeURIComponent(r.bucket)}/${encodeURIComponent(r.prefix)}`;
    case 'settings':
      return `#/settings/${encodeURIComponent(r.bucket)}`;
    default:
      return `#/${r.view}`;
  }
}
