// The server: readiness (/health/ready), what /admin/v1/server says (version,
// uptime, disk, what is stored) and charts of requests, errors, bandwidth and
// latency from /admin/v1/metrics (Prometheus text), scraped every few
// seconds. Each part says so when the server does not offer it (404) or the
// principal may not call it.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, serviceFetch, serviceJson } from '../api.ts';
import { LineChart } from '../chart.tsx';
import { bytes, duration } from '../format.ts';
import { parseMetrics, rates, totals, type Point, type Totals } from '../metrics.ts';
import type { Session } from '../session.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

const POLL_MS = 5_000;
const KEEP = 60;

/** GET /admin/v1/server (src/metrics/server-facts.ts ServerReport). */
interface ServerInfo {
  version: string;
  node: string;
  uptimeSeconds: number;
  dataDir: { totalBytes: number; freeBytes: number; usedBytes: number };
  /** Null until Postgres has answered once; `estimated` for a large store. */
  stored: { objects: number; blobs: number; bytes: number; logicalBytes: number; dedupSavedBytes: number; estimated: boolean } | null;
}

function unavailable(err: unknown): string | undefined {
  if (err instanceof ApiError && err.status === 404) return 'not offered by this server';
  if (err instanceof ApiError && (err.status === 403 || err.status === 401)) return 'the service role only';
  return undefined;
}

function useMetrics(session: Session): { points: Point[]; error?: unknown } {
  const [points, setPoints] = useState<Point[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let before: Totals | undefined;
    let stop = false;
    const scrape = async () => {
      try {
        const text = await (await serviceFetch(session, 'GET', '/admin/v1/metrics')).text();
        const now = totals(parseMetrics(text), Date.now());
        if (before) {
          const p = rates(before, now);
          setPoints((list) => [...list, p].slice(-KEEP));
        }
        before = now;
        setError(undefined);
      } catch (err) {
        setError(err);
        if (unavailable(err)) stop = true;
      }
    };
    // Three scrapes a second apart draw the first line at once; then every POLL_MS.
    void scrape();
    const first = [1, 2].map((n) => setTimeout(() => !stop && void scrape(), n * 1000));
    const timer = setInterval(() => {
      if (!stop) void scrape();
    }, POLL_MS);
    return () => {
      first.forEach(clearTimeout);
      clearInterval(timer);
    };
  }, [session]);
  return { points, error };
}

export function Server({ session }: { session: Session }) {
  const ready = useLoad(async () => {
    const res = await fetch('/health/ready', { cache: 'no-store' });
    return (await res.json()) as Record<string, string>;
  }, []);
  const info = useLoad(() => serviceJson<ServerInfo>(session, 'GET', '/admin/v1/server'), [session]);
  const { points, error } = useMetrics(session);
  const i = info.value;
  const about = i?.stored?.estimated ? '≈ ' : '';
  const perSecond = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)}/s`;
  return (
    <section aria-labelledby="server-title">
      <h1 id="server-title">Server</h1>
      <dl class="cards">
        {Object.entries(ready.value ?? {}).map(([k, v]) => (
          <div key={k} class={v === 'ok' ? 'good' : v === 'off' || v === 'disabled' ? '' : 'bad'}>
            <dt>{k === 'status' ? 'ready' : k.replace('_', ' ')}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        {i && (
          <>
            <div>
              <dt>version</dt>
              <dd>
                {i.version} (Node {i.node})
              </dd>
            </div>
            <div>
              <dt>uptime</dt>
              <dd>{duration(i.uptimeSeconds)}</dd>
            </div>
            <div>
              <dt>disk free</dt>
              <dd>
                {bytes(i.dataDir.freeBytes)} of {bytes(i.dataDir.totalBytes)}
              </dd>
            </div>
            <div>
              <dt>stored</dt>
              <dd>
                {i.stored ? `${about}${i.stored.objects} objects, ${about}${i.stored.blobs} blobs, ${about}${bytes(i.stored.bytes)}` : '—'}
              </dd>
            </div>
            <div>
              <dt>dedup savings</dt>
              <dd>{i.stored ? about + bytes(i.stored.dedupSavedBytes) : '—'}</dd>
            </div>
          </>
        )}
      </dl>
      <ErrorNote error={ready.error} />
      {info.error !== undefined && (unavailable(info.error) ? <p class="hint">Server details: {unavailable(info.error)}.</p> : <ErrorNote error={info.error} />)}
      <h2>Traffic</h2>
      {error !== undefined && unavailable(error) ? (
        <p class="hint">Metrics unavailable ({unavailable(error)}).</p>
      ) : (
        <>
          <ErrorNote error={error} />
          {points.length < 2 && <p class="hint">Collecting: the charts fill in every {POLL_MS / 1000} s.</p>}
          <div class="charts">
            <LineChart title="Requests" format={perSecond} series={[{ label: 'all', values: points.map((p) => p.requestsPerSecond), tone: 'a' }]} />
            <LineChart title="Errors (4xx and 5xx)" format={perSecond} series={[{ label: 'errors', values: points.map((p) => p.errorsPerSecond), tone: 'b' }]} />
            <LineChart
              title="Bandwidth"
              format={(n) => `${bytes(n)}/s`}
              series={[
                { label: 'in', values: points.map((p) => p.bytesInPerSecond), tone: 'a' },
                { label: 'out', values: points.map((p) => p.bytesOutPerSecond), tone: 'b' },
              ]}
            />
            <LineChart title="Mean latency" format={(n) => `${n.toFixed(1)} ms`} series={[{ label: 'mean', values: points.map((p) => p.latencyMs), tone: 'a' }]} />
          </div>
        </>
      )}
    </section>
  );
}
