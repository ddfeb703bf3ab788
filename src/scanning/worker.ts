// The scan worker, one per server process when AEROSTORE_CLAMD is set. It
// polls the queue (storage.scan_jobs, one job per blob with objects to settle), keeps up to
// `concurrency` scans in flight, streams each blob file to clamd and records
// the verdict (queue.ts). Scans happen after the upload's 200: nothing here
// is on a request's path.
//
// clamd down or failing: the job is retried with backoff and its blob stays
// pending; the worker then pings clamd before it claims anything else, so an
// outage costs the jobs in flight one attempt each, not the whole queue.
import type { Services } from '../core/services.ts';
import { scans } from '../metrics/registry.ts';
import { describeClamdAddress } from './address.ts';
import { CLAMD_IDLE_TIMEOUT_MS, ScanFailure, TOO_LARGE, type Clamd, type Verdict } from './clamd.ts';
import { claimScanJobs, recordScanFailure, recordVerdict, releaseScanJob, type ScanJob } from './queue.ts';

export interface ScanWorkerOptions {
  /** Scans in flight at once in this process. */
  concurrency: number;
  /** Larger blobs are not sent: 'unscanned', note 'too large'. */
  maxSize: number;
}

/** Idle wait between looks at the queue; a finished scan looks at once. */
const POLL_MS = 1000;
/** The slowest clamd a scan is given time for: a thirtieth of its usual rate on a small machine. */
const MIN_SCAN_BYTES_PER_SECOND = 1024 * 1024;
/** A claim outlives the scan's deadline by a minute, so a live worker never loses its job to another. */
const LEASE = { baseSeconds: CLAMD_IDLE_TIMEOUT_MS / 1000 + 60, bytesPerSecond: MIN_SCAN_BYTES_PER_SECOND };
/** The engine version recorded with verdicts is asked again this often (signature updates change it). */
const VERSION_TTL_MS = 60_000;
const COMMAND_TIMEOUT_MS = 2000;

function scanDeadlineMs(size: number): number {
  return CLAMD_IDLE_TIMEOUT_MS + (size / MIN_SCAN_BYTES_PER_SECOND) * 1000;
}

/** Starts the worker; the function returned stops it (in-flight scans are abandoned and their jobs released). */
export function startScanWorker(storage: Services, clamd: Clamd, opts: ScanWorkerOptions): () => Promise<void> {
  storage.log.info({ clamd: describeClamdAddress(clamd.address), ...opts }, 'virus scanning: worker started');
  const worker = new ScanWorker(storage, clamd, opts);
  const running = worker.run();
  return () => worker.stop(running);
}

/** The worker is stopping: a scan in flight is abandoned. */
class Stopping extends Error {}

class ScanWorker {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  /** Ends the current sleep, or the next one before it starts. */
  private wakeRequested = false;
  private endSleep: () => void = () => {};
  /** Set by a failure: clamd must answer a ping before more jobs are claimed. */
  private clamdSuspect = false;
  private engine?: { version: string; askedAt: number };

  constructor(
    private readonly storage: Services,
    private readonly clamd: Clamd,
    private readonly opts: ScanWorkerOptions,
  ) {}

  async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const free = this.opts.concurrency - this.inFlight.size;
      // A full batch: more may be due right away.
      if (free > 0 && (await this.clamdAnswers()) && (await this.claim(free)) === free) continue;
      await this.sleep();
    }
    await Promise.allSettled(this.inFlight);
  }

  async stop(running: Promise<void>): Promise<void> {
    this.stopping.abort();
    this.wake();
    await running;
  }

  private wake(): void {
    this.wakeRequested = true;
    this.endSleep();
  }

  private sleep(): Promise<void> {
    if (this.wakeRequested) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endSleep = () => {};
        resolve();
      };
      const timer = setTimeout(done, POLL_MS);
      this.endSleep = () => {
        this.wakeRequested = false;
        done();
      };
    });
  }

  private async clamdAnswers(): Promise<boolean> {
    if (!this.clamdSuspect) return true;
    if (!(await this.clamd.ping(COMMAND_TIMEOUT_MS))) return false;
    this.clamdSuspect = false;
    this.storage.log.info('clamd answers again: scanning resumes');
    return true;
  }

  /** Claims up to `limit` jobs and starts them; returns how many. */
  private async claim(limit: number): Promise<number> {
    let jobs: ScanJob[];
    try {
      jobs = await claimScanJobs(this.storage.sql, limit, LEASE);
    } catch (err) {
      this.storage.log.warn({ err }, 'could not claim scan jobs; retrying');
      return 0;
    }
    for (const job of jobs) {
      const done = this.process(job).finally(() => {
        this.inFlight.delete(done);
        this.wake();
      });
      this.inFlight.add(done);
    }
    return jobs.length;
  }

  private async process(job: ScanJob): Promise<void> {
    const log = this.storage.log.child({ bucketId: job.bucketId, sha256: job.sha256, size: job.size });
    try {
      // Content scanned before (a new object on deduplicated bytes): its verdict settles the object, clamd is not asked.
      const { verdict, engine } = job.scan ? await this.verdictOf(job) : { verdict: 'known' as const, engine: null };
      const recorded = await recordVerdict(this.storage.sql, job, verdict, engine);
      if (recorded && verdict !== 'known') scans.inc({ verdict: verdict.status });
      if (!recorded) log.debug('scan verdict dropped: the job was re-queued or claimed again meanwhile');
      else if (verdict !== 'known' && verdict.status === 'infected') log.warn({ signature: verdict.signature }, 'infected content quarantined');
      else log.debug({ verdict }, 'scanned');
    } catch (err) {
      if (err instanceof Stopping) {
        await releaseScanJob(this.storage.sql, job).catch(() => {});
        return;
      }
      this.clamdSuspect = true;
      scans.inc({ verdict: 'error' });
      log.warn({ err, attempts: job.attempts + 1 }, 'scan failed; the blob stays pending and is retried');
      await recordScanFailure(this.storage.sql, job, (err as Error).message ?? String(err)).catch((e: unknown) =>
        log.warn({ err: e }, 'could not record the scan failure; the job is retried when its lease runs out'),
      );
    }
  }

  private async verdictOf(job: ScanJob): Promise<{ verdict: Verdict; engine: string | null }> {
    // Beyond AEROSTORE_SCAN_MAX_SIZE: not sent at all (README "Virus scanning": clamd's limits).
    if (job.size > this.opts.maxSize) return { verdict: TOO_LARGE, engine: null };
    // Nothing to match (and INSTREAM cannot carry zero bytes).
    if (job.size === 0) return { verdict: { status: 'clean', note: 'empty' }, engine: null };
    const engine = await this.engineVersion();
    // The size tells a sealed blob from a plaintext one (never content that merely looks like a header).
    const body = await this.storage.blobs.openRead(job.bucketId, job.sha256, undefined, { size: Number(job.size) });
    try {
      return { verdict: await this.withDeadline(this.clamd.scan(body), scanDeadlineMs(job.size)), engine };
    } finally {
      body.destroy();
    }
  }

  private async engineVersion(): Promise<string> {
    if (!this.engine || Date.now() - this.engine.askedAt > VERSION_TTL_MS) {
      this.engine = { version: await this.clamd.version(COMMAND_TIMEOUT_MS), askedAt: Date.now() };
    }
    return this.engine.version;
  }

  /** A hung clamd must not hold a slot forever; stopping abandons the scan. */
  private withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
    const signal = this.stopping.signal;
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => {};
    const cut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScanFailure(`clamd gave no verdict in ${Math.round(ms / 1000)} s`)), ms);
      onAbort = () => reject(new Stopping());
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([work, cut]).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  }
}
