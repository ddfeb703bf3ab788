// MD5 of large bodies on a worker thread. One core hashes MD5 at ~620 MB/s
// and SHA-256 at ~1,450 MB/s; doing both on the main thread caps an upload
// near 435 MB/s and starves every other request meanwhile. Bodies above
// OFFLOAD_THRESHOLD send their MD5 work to a small pool of workers; small
// bodies hash inline, where a message round trip would cost more than it saves.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export const OFFLOAD_THRESHOLD = 4 * 1024 * 1024;
/** Bytes posted but not yet hashed, per upload, before the upload waits. */
const MAX_IN_FLIGHT = 8 * 1024 * 1024;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

interface Session {
  inFlight: number;
  drained?: Waiter<void>;
  digest?: Waiter<Buffer>;
}

class Md5Worker {
  private readonly worker: Worker;
  private readonly sessions = new Map<number, Session>();
  /** Why the worker is gone: its uploads fail with this, and no new one is given to it. */
  failed?: Error;

  constructor() {
    this.worker = new Worker(new URL('./md5-worker.mjs', import.meta.url));
    // A worker that dies (out of memory, say) fails the uploads it was
    // hashing, not the process; the next upload gets a fresh worker. Without
    // a listener its 'error' would be uncaught, and its uploads would wait for ever.
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the MD5 worker exited (code ${code})`)));
    this.worker.on('message', (m: { type: string; id: number; bytes?: number; digest?: Uint8Array }) => {
      const s = this.sessions.get(m.id);
      if (!s) return;
      if (m.type === 'ack') {
        s.inFlight -= m.bytes!;
        if (s.inFlight <= MAX_IN_FLIGHT && s.drained) {
          const go = s.drained;
          s.drained = undefined;
          go.resolve();
        }
      } else if (m.type === 'digest') {
        this.close(m.id);
        s.digest?.resolve(Buffer.from(m.digest!));
      }
    });
    // Idle workers never keep the process alive (after the listener: adding
    // one re-refs the worker); a worker with uploads in flight does.
    this.worker.unref();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    const at = pool.indexOf(this);
    if (at >= 0) pool.splice(at, 1);
    for (const s of this.sessions.values()) {
      s.drained?.reject(err);
      s.digest?.reject(err);
    }
    this.sessions.clear();
  }

  /** Ends the worker (its uploads fail); the next upload starts another. */
  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  private close(id: number): void {
    this.sessions.delete(id);
    if (this.sessions.size === 0) this.worker.unref();
  }

  get load(): number {
    return this.sessions.size;
  }

  open(id: number): Session {
    const s: Session = { inFlight: 0 };
    if (this.sessions.size === 0) this.worker.ref();
    this.sessions.set(id, s);
    return s;
  }

  post(id: number, s: Session, chunk: Buffer): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.failed);
    // A copy we own outright can be transferred instead of cloned.
    const copy = new Uint8Array(chunk);
    s.inFlight += copy.byteLength;
    this.worker.postMessage({ type: 'data', id, chunk: copy }, [copy.buffer]);
    if (s.inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise((resolve, reject) => (s.drained = { resolve, reject }));
  }

  finish(id: number, s: Session): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      s.digest = { resolve, reject };
      this.worker.postMessage({ type: 'end', id });
    });
  }

  abort(id: number): void {
    this.close(id);
    if (!this.failed) this.worker.postMessage({ type: 'abort', id });
  }
}

const pool: Md5Worker[] = [];
let nextId = 1;

function pickWorker(): Md5Worker {
  const size = Math.max(1, Math.min(2, availableParallelism() - 1));
  if (pool.length < size) pool.push(new Md5Worker());
  return pool.reduce((a, b) => (b.load < a.load ? b : a));
}

/** Ends every MD5 worker (uploads being hashed fail); later uploads start new ones. */
export async function terminateMd5Workers(): Promise<void> {
  await Promise.all([...pool].map((w) => w.terminate()));
}

/** An MD5 computed off the main thread; same shape as a Hash for update/digest. */
export class OffloadedMd5 {
  private readonly worker = pickWorker();
  private readonly id = nextId++;
  private readonly session = this.worker.open(this.id);

  /** Resolves when the upload may continue (the worker has caught up enough); rejects if the worker died. */
  update(chunk: Buffer): Promise<void> | undefined {
    return this.worker.post(this.id, this.session, chunk);
  }

  digest(): Promise<Buffer> {
    return this.worker.finish(this.id, this.session);
  }

  abort(): void {
    this.worker.abort(this.id);
  }
}
