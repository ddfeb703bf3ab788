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

interface Session {
  inFlight: number;
  drained?: () => void;
  digest?: (d: Buffer) => void;
}

class Md5Worker {
  private readonly worker: Worker;
  private readonly sessions = new Map<number, Session>();

  constructor() {
    this.worker = new Worker(new URL('./md5-worker.mjs', import.meta.url));
    this.worker.on('message', (m: { type: string; id: number; bytes?: number; digest?: Uint8Array }) => {
      const s = this.sessions.get(m.id);
      if (!s) return;
      if (m.type === 'ack') {
        s.inFlight -= m.bytes!;
        if (s.inFlight <= MAX_IN_FLIGHT && s.drained) {
          const go = s.drained;
          s.drained = undefined;
          go();
        }
      } else if (m.type === 'digest') {
        this.close(m.id);
        s.digest?.(Buffer.from(m.digest!));
      }
    });
    // Idle workers never keep the process alive (after the listener: adding
    // one re-refs the worker); a worker with uploads in flight does.
    this.worker.unref();
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
    // A copy we own outright can be transferred instead of cloned.
    const copy = new Uint8Array(chunk);
    s.inFlight += copy.byteLength;
    this.worker.postMessage({ type: 'data', id, chunk: copy }, [copy.buffer]);
    if (s.inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise((resolve) => (s.drained = resolve));
  }

  finish(id: number, s: Session): Promise<Buffer> {
    return new Promise((resolve) => {
      s.digest = resolve;
      this.worker.postMessage({ type: 'end', id });
    });
  }

  abort(id: number): void {
    this.close(id);
    this.worker.postMessage({ type: 'abort', id });
  }
}

const pool: Md5Worker[] = [];
let nextId = 1;

function pickWorker(): Md5Worker {
  const size = Math.max(1, Math.min(2, availableParallelism() - 1));
  if (pool.length < size) pool.push(new Md5Worker());
  return pool.reduce((a, b) => (b.load < a.load ? b : a));
}

/** An MD5 computed off the main thread; same shape as a Hash for update/digest. */
export class OffloadedMd5 {
  private readonly worker = pickWorker();
  private readonly id = nextId++;
  private readonly session = this.worker.open(this.id);

  /** Resolves when the upload may continue (the worker has caught up enough). */
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
