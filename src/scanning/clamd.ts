// The clamd client: scans a stream over clamd's INSTREAM with the npm
// `clamscan` package, and speaks the two one-line commands (PING, VERSION)
// itself, over a socket it can time out and destroy.
//
// clamscan's scanStream writes each chunk to the clamd socket as it is read,
// without waiting for the socket to drain (../shared/FIELD-NOTES.md): a blob
// read from disk faster than clamd consumes it is buffered in memory, so a
// scan may hold up to the blob's size (at most AEROSTORE_SCAN_MAX_SIZE, per
// concurrent scan). Its passthrough() does wait, but may send the end marker
// ahead of data still queued, which would let clamd judge a truncated stream.
import net from 'node:net';
import type { Readable } from 'node:stream';
import NodeClam from 'clamscan';
import type { ClamdAddress } from './address.ts';

/** The verdicts the worker records on the blob (storage.blobs.scan_status). */
export type Verdict =
  | { status: 'clean'; note?: string }
  | { status: 'infected'; signature: string }
  | { status: 'unscanned'; note: string };

/** Content beyond clamd's limits, or ours: never called clean. */
export const TOO_LARGE: Verdict = { status: 'unscanned', note: 'too large' };

/** clamd gave no verdict (unreachable, an error, a stream cut off): the job is retried. */
export class ScanFailure extends Error {}

/**
 * What clamd reports, with `AlertExceedsMax yes`, for content beyond its
 * MaxFileSize / MaxScanSize (or another of its scan limits): the content
 * was not fully scanned, so it is neither infected nor clean.
 */
const LIMITS_EXCEEDED = /^Heuristics\.Limits\.Exceeded/;
/** INSTREAM beyond StreamMaxLength: clamd stops reading and answers this. */
const STREAM_TOO_LONG = /size limit exceeded/i;

/** What scanStream resolves to (its typings say isInfected is a boolean; null is "no verdict"). */
interface ScanResult {
  isInfected: boolean | null;
  viruses: string[];
  /** clamd's raw reply. */
  resultString: string;
}

/** Idle time on a clamd connection before a scan is given up: clamd says nothing until its verdict. */
export const CLAMD_IDLE_TIMEOUT_MS = 60_000;

export class Clamd {
  private constructor(
    readonly address: ClamdAddress,
    private readonly clam: NodeClam,
  ) {}

  static async create(address: ClamdAddress): Promise<Clamd> {
    // Never a local binary (localFallback, path): only this clamd. bypassTest:
    // a clamd that is down at start-up is retried by the worker, not fatal.
    const clam = await new NodeClam().init({
      clamscan: { active: false },
      preference: 'clamdscan',
      clamdscan: {
        ...('socket' in address ? { socket: address.socket } : { host: address.host, port: address.port }),
        localFallback: false,
        active: true,
        bypassTest: true,
        path: undefined,
        timeout: CLAMD_IDLE_TIMEOUT_MS,
      },
    });
    return new Clamd(address, clam);
  }

  /** Streams `body` to clamd; throws ScanFailure when no verdict comes back. */
  async scan(body: Readable): Promise<Verdict> {
    let result: ScanResult;
    try {
      result = (await this.clam.scanStream(body)) as unknown as ScanResult;
    } catch (err) {
      if (STREAM_TOO_LONG.test((err as Error).message)) return TOO_LARGE;
      const code = (err as NodeJS.ErrnoException).code;
      // clamd closes a stream beyond its StreamMaxLength, usually before we
      // see its answer: the same failure as clamd going away mid-scan.
      const hint = code === 'EPIPE' || code === 'ECONNRESET' ? ' (clamd stopped, or the content is beyond its StreamMaxLength: keep AEROSTORE_SCAN_MAX_SIZE at or below it)' : '';
      throw new ScanFailure(`clamd: ${(err as Error).message}${hint}`, { cause: err });
    }
    // null: clamd answered, but neither OK nor FOUND (an error line, or nothing).
    if (result.isInfected === null) throw new ScanFailure(`clamd gave no verdict: ${JSON.stringify(result.resultString)}`);
    if (!result.isInfected) return { status: 'clean' };
    const signatures = result.viruses.filter((v) => !LIMITS_EXCEEDED.test(v));
    if (signatures.length === 0) return TOO_LARGE;
    return { status: 'infected', signature: signatures.join(', ') };
  }

  /** `PONG` within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    return (await this.command('PING', timeoutMs).catch(() => '')) === 'PONG';
  }

  /** The engine and signature database, e.g. `ClamAV 1.4.6/27543/Tue Feb 10 09:25:32 2026`. */
  version(timeoutMs: number): Promise<string> {
    return this.command('VERSION', timeoutMs);
  }

  /** One z-command (NUL-terminated, one reply, then clamd closes). */
  private command(name: 'PING' | 'VERSION', timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const a = this.address;
      const socket = 'socket' in a ? net.connect(a.socket) : net.connect(a.port, a.host);
      const chunks: Buffer[] = [];
      socket.setTimeout(timeoutMs, () => socket.destroy(new ScanFailure(`clamd did not answer ${name} in ${timeoutMs} ms`)));
      socket.on('connect', () => socket.write(`z${name}\0`));
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('error', reject);
      socket.on('end', () => {
        socket.end();
        resolve(Buffer.concat(chunks).toString('utf8').replace(/\0$/, '').trim());
      });
    });
  }
}

export type ScannerHealth = 'off' | 'ok' | 'unreachable';

/**
 * For /health/ready. A clamd that is down does not make the server unready:
 * uploads go on, and their scans wait in the queue.
 */
export async function scannerHealth(clamd: Clamd | undefined): Promise<ScannerHealth> {
  if (!clamd) return 'off';
  return (await clamd.ping(1000)) ? 'ok' : 'unreachable';
}
