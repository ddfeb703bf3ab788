// The clamd client: INSTREAM, PING and VERSION over clamd's socket
// protocol, on sockets it can time out and destroy.
//
// INSTREAM is written here rather than with npm `clamscan`: its scanStream
// writes each chunk to the socket as it is read, without waiting for the
// socket to drain (../shared/FIELD-NOTES.md), so a blob read from disk
// faster than clamd consumes it (≈ 1 GB/s against 30–60 MB/s) sat in memory
// whole, up to AEROSTORE_SCAN_MAX_SIZE per concurrent scan. Here a chunk is
// read only once the socket has taken the previous one.
import net from 'node:net';
import type { Readable } from 'node:stream';
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

/** Idle time on a clamd connection before a scan is given up: clamd says nothing until its verdict. */
export const CLAMD_IDLE_TIMEOUT_MS = 60_000;

/** INSTREAM frames at most this much: a frame's length is a 4-byte prefix. */
const FRAME_MAX = 256 * 1024;

export class Clamd {
  /** Connects per command: a clamd that is down at start-up is retried by the worker, not fatal. */
  constructor(readonly address: ClamdAddress) {}

  /** Streams `body` to clamd (INSTREAM); throws ScanFailure when no verdict comes back. */
  async scan(body: Readable): Promise<Verdict> {
    const socket = this.connect();
    const replies: Buffer[] = [];
    socket.on('data', (d: Buffer) => replies.push(d));
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('end', resolve);
      socket.on('close', () => reject(new Error('clamd closed the connection before its verdict')));
      socket.on('error', reject);
    });
    ended.catch(() => {}); // read below, once the stream is sent or has failed
    socket.setTimeout(CLAMD_IDLE_TIMEOUT_MS, () => socket.destroy(new Error(`clamd was idle for ${CLAMD_IDLE_TIMEOUT_MS / 1000} s`)));
    const reply = () => Buffer.concat(replies).toString('utf8');
    try {
      await writeOrFail(socket, Buffer.from('zINSTREAM\0'), ended);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; at += FRAME_MAX) {
          const frame = chunk.subarray(at, at + FRAME_MAX);
          const length = Buffer.alloc(4);
          length.writeUInt32BE(frame.length);
          await writeOrFail(socket, Buffer.concat([length, frame]), ended);
        }
      }
      await writeOrFail(socket, Buffer.alloc(4), ended); // the zero-length frame ends the stream
      await ended;
    } catch (err) {
      // clamd answers a stream beyond its StreamMaxLength and closes, usually
      // while we are still writing: its answer, if it came, is the verdict.
      if (STREAM_TOO_LONG.test(reply())) return TOO_LARGE;
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'EPIPE' || code === 'ECONNRESET' ? ' (clamd stopped, or the content is beyond its StreamMaxLength: keep AEROSTORE_SCAN_MAX_SIZE at or below it)' : '';
      throw new ScanFailure(`clamd: ${(err as Error).message}${hint}`, { cause: err });
    } finally {
      socket.destroy();
    }
    return verdictOf(reply());
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
      const socket = this.connect();
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

  private connect(): net.Socket {
    const a = this.address;
    return 'socket' in a ? net.connect(a.socket) : net.connect(a.port, a.host);
  }
}

/**
 * clamd's INSTREAM answer: `stream: OK`, `stream: <signature> FOUND` (one
 * line per signature with AllMatchScan), or `<reason> ERROR`; each line ends
 * in NUL (z-commands).
 */
export function verdictOf(reply: string): Verdict {
  const lines = reply.split(/[\0\n]/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 1 && lines[0] === 'stream: OK') return { status: 'clean' };
  const found = lines.map((l) => /^stream: (.+) FOUND$/.exec(l)?.[1]);
  if (lines.length === 0 || found.some((f) => f === undefined)) {
    if (lines.some((l) => STREAM_TOO_LONG.test(l))) return TOO_LARGE;
    throw new ScanFailure(`clamd gave no verdict: ${JSON.stringify(reply.slice(0, 500))}`);
  }
  const signatures = (found as string[]).filter((v) => !LIMITS_EXCEEDED.test(v));
  if (signatures.length === 0) return TOO_LARGE;
  return { status: 'infected', signature: signatures.join(', ') };
}

/**
 * Writes `bytes` and resolves once the socket can take more (its buffer
 * drained), or rejects if the connection fails or ends first.
 */
function writeOrFail(socket: net.Socket, bytes: Buffer, ended: Promise<void>): Promise<void> {
  if (socket.write(bytes)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    socket.once('drain', resolve);
    ended.then(() => reject(new Error('clamd answered before the stream was sent')), reject);
  });
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
