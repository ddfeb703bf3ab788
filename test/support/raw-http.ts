// HTTP/1.1 over a bare TCP socket, for requests no well-behaved client would
// send: bodies shorter or longer than Content-Length, connections cut in the
// middle, headers trickled a byte at a time, request lines past every limit.
// Reads back the first response (or notes that the server closed without one).
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawOutcome {
  /** The first response, if the server sent one. */
  response?: RawResponse;
  /** Everything received after the first response (a second response on the same connection, say). */
  rest: Buffer;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** Milliseconds from connecting until the connection closed, or until the wait ended. */
  elapsedMs: number;
}

/** Parses one response at the start of `buf`; undefined while incomplete. `untilClose`: a body without length ends at close. */
function parseResponse(buf: Buffer, closed: boolean): { response: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const start = end + 4;
  if (status === 100) return { response: { status, headers, body: Buffer.alloc(0) }, used: start };
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (buf.length < start + length) return undefined;
    return { response: { status, headers, body: buf.subarray(start, start + length) }, used: start + length };
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const body: Buffer[] = [];
    let i = start;
    for (;;) {
      const nl = buf.indexOf('\r\n', i);
      if (nl === -1) return undefined;
      const size = parseInt(buf.subarray(i, nl).toString('latin1'), 16);
      if (buf.length < nl + 2 + size + 2) return undefined;
      if (size === 0) {
        const close = buf.indexOf('\r\n\r\n', nl);
        return close === -1 ? undefined : { response: { status, headers, body: Buffer.concat(body) }, used: close + 4 };
      }
      body.push(buf.subarray(nl + 2, nl + 2 + size));
      i = nl + 2 + size + 2;
    }
  }
  // No length: the body runs to the end of the connection (or is empty for a bare error).
  if (!closed) return undefined;
  return { response: { status, headers, body: buf.subarray(start) }, used: buf.length };
}

export class RawConnection {
  readonly socket: net.Socket;
  private received: Buffer = Buffer.alloc(0);
  private closedAt?: number;
  private readonly openedAt = Date.now();
  private waiters: Array<() => void> = [];
  readonly connected: Promise<void>;

  constructor(base: URL) {
    this.socket = net.connect({ host: base.hostname, port: Number(base.port) });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    // ECONNRESET and EPIPE are answers too: the server cut the connection.
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Writes unless the server has already closed (a write after close is not an error here). */
  write(data: string | Buffer): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Half-close: no more bytes from us. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until `cond` holds or `timeoutMs` passes. */
  private async waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first final (non-100) response, or none if the server closed or `timeoutMs` passed first. */
  async outcome(timeoutMs = 10_000): Promise<RawOutcome> {
    let parsed: { response: RawResponse; used: number } | undefined;
    const scan = () => {
      let buf = this.received;
      for (;;) {
        const p = parseResponse(buf, this.isClosed);
        if (!p) return false;
        if (p.response.status !== 100) {
          parsed = { response: p.response, used: p.used + (this.received.length - buf.length) };
          return true;
        }
        buf = buf.subarray(p.used);
      }
    };
    await this.waitFor(() => scan() || this.isClosed, timeoutMs);
    scan();
    return {
      response: parsed?.response,
      rest: parsed ? this.received.subarray(parsed.used) : Buffer.alloc(0),
      closed: this.isClosed,
      elapsedMs: (this.closedAt ?? Date.now()) - this.openedAt,
    };
  }

  /** Waits for the server to close the connection; the outcome says whether it did within `timeoutMs`. */
  async closed(timeoutMs: number): Promise<RawOutcome> {
    await this.waitFor(() => this.isClosed, timeoutMs);
    return this.outcome(0);
  }

  /** Everything received so far. */
  get bytes(): Buffer {
    return this.received;
  }
}

/** The request head: request line, headers (in order), blank line. */
export function requestHead(method: string, target: string, headers: Record<string, string | number>): string {
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

/** Sends head + body on a fresh connection and reads the outcome. */
export async function rawRequest(base: URL, bytes: string | Buffer, opts: { timeoutMs?: number; halfClose?: boolean } = {}): Promise<RawOutcome> {
  const conn = new RawConnection(base);
  await conn.connected;
  await conn.write(bytes);
  if (opts.halfClose) conn.end();
  const outcome = await conn.outcome(opts.timeoutMs ?? 10_000);
  conn.destroy();
  return outcome;
}
