// What the admin API's /admin/v1/server reports (the console's server page):
// the version and uptime of this process, its data directory's disk space
// and Postgres's stored totals — the same readings the metrics give
// (metrics/scrape.ts), so the page and a scrape agree.
import { readFileSync } from 'node:fs';
import { diskSpace, type DiskSpace, type StoredTotalsCache } from './scrape.ts';

export interface ServerFacts {
  version: string;
  dataDir: string;
  totals: StoredTotalsCache;
}

export interface ServerReport {
  version: string;
  node: string;
  uptimeSeconds: number;
  startedAt: string;
  dataDir: DiskSpace;
  /** `estimated`: a large store's figures are estimates (metrics/scrape.ts EXACT_TOTALS_LIMIT). */
  stored: { objects: number; blobs: number; bytes: number; logicalBytes: number; dedupSavedBytes: number; estimated: boolean } | null;
}

/** package.json's version, read once; found beside src/ (or one level up from a compiled dist/src/). */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aerostore' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not there: the next candidate.
    }
  }
  return 'unknown';
}

/** The report; `stored` is null when Postgres has not answered yet. */
export async function serverReport(facts: ServerFacts): Promise<ServerReport> {
  const [disk, totals] = await Promise.all([diskSpace(facts.dataDir), facts.totals.get()]);
  const uptime = process.uptime();
  return {
    version: facts.version,
    node: process.version,
    uptimeSeconds: Math.floor(uptime),
    startedAt: new Date(Date.now() - uptime * 1000).toISOString(),
    dataDir: disk,
    stored: totals
      ? {
          objects: totals.objects,
          blobs: totals.blobs,
          bytes: totals.bytes,
          logicalBytes: totals.logicalBytes,
          dedupSavedBytes: totals.dedupSavedBytes,
          estimated: totals.estimated,
        }
      : null,
  };
}
