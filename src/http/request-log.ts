// The request log (issue 16.6): one line per request, whatever answered it
// and however it ended — a refusal before routing (the address limit, a bad
// target), an authentication failure, an error of the operation, a 501 for
// what is not implemented, a success, a client gone mid-response. Written
// when the response closes, at info, as `request`, with what the protocol
// learnt on the way: its operation, its error code, its request id and its
// principal (noted by s3/handler.ts, sts/handler.ts and the service APIs'
// middleware, http/app.ts), the bucket and key it named (the key cut at
// KEY_LIMIT characters), the bytes that crossed the connection each way and
// the client's User-Agent (cut at AGENT_LIMIT). The query string is left out:
// a presigned URL carries its signature there. Written at
// AEROSTORE_ACCESS_LOG_LEVEL (info, or off). The same facts feed the request
// metrics (metrics/registry.ts requestAnswered), with the line or without it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { requestAnswered, requestStarted } from '../metrics/registry.ts';
import type { Principal } from '../principals/principal.ts';
import { clientAddress } from './client-address.ts';

/** What a protocol learns about a request on its way through it. */
export interface RequestFacts {
  /** Which API answered: s3, sts, storage, admin, health. */
  api?: string;
  /** The operation: an S3 endpoint (PutObject), STS's Action, a service API's method and route. */
  op?: string;
  /** The error code of the answer, in the protocol's words (NoSuchKey, SlowDown, BUCKET_NOT_FOUND). */
  code?: string;
  requestId?: string;
  principal?: Principal;
  bucket?: string;
  key?: string;
}

/** Each connection's byte counts where its last answer ended. */
const counted = new WeakMap<Socket, { read: number; written: number }>();

/** Longest key and User-Agent a line carries (a key may be 1,024 bytes; the log is not the place). */
const KEY_LIMIT = 256;
const AGENT_LIMIT = 200;

function bounded(text: string | undefined, limit: number): string | undefined {
  return text === undefined || text.length <= limit ? text : text.slice(0, limit) + '…';
}

/** The level request lines are written at; 'off' writes none. */
export type AccessLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off';

const known = new WeakMap<IncomingMessage, RequestFacts>();

/** Adds to what the request's log line will say (no-op for a request nobody logs, as in a unit test). */
export function noteRequest(req: IncomingMessage | undefined, facts: RequestFacts): void {
  const entry = req && known.get(req);
  if (entry) Object.assign(entry, facts);
}

/** Who asked, as the log line names it: anonymous, or how the principal signed in and as whom. */
function principalOf(p: Principal | undefined): Record<string, string | null> | string | undefined {
  if (!p) return undefined;
  if (p.kind === 'anonymous') return 'anonymous';
  return { via: p.via, role: p.role, user: p.userId, ...(p.accessKeyId ? { key: p.accessKeyId } : {}) };
}

/**
 * Logs `req` once its response has closed (finished, or cut off: `aborted`),
 * and counts it in the request metrics. Bytes in and out are what the
 * connection carried since its previous answer ended, headers included (one
 * request at a time on a connection: HTTP/1.1 as clients use it).
 */
export function logWhenAnswered(req: IncomingMessage, res: ServerResponse, log: Logger, level: AccessLogLevel = 'info'): void {
  const started = performance.now();
  requestStarted();
  const socket = req.socket;
  // Counted from where the connection's previous answer ended: by the time a
  // request is seen, its headers (and often part of its body) have been read.
  const from = counted.get(socket) ?? { read: 0, written: 0 };
  const facts: RequestFacts = {};
  known.set(req, facts);
  res.once('close', () => {
    const upTo = { read: socket.bytesRead, written: socket.bytesWritten };
    counted.set(socket, upTo);
    const bytesIn = upTo.read - from.read;
    const bytesOut = upTo.written - from.written;
    const ms = performance.now() - started;
    const aborted = !res.writableFinished;
    requestAnswered({ api: facts.api, operation: facts.op, status: res.statusCode, code: facts.code, bytesIn, bytesOut, seconds: ms / 1000, aborted });
    if (level === 'off') return;
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    log[level](
      {
        api: facts.api,
        op: facts.op,
        method: req.method,
        path: q === -1 ? target : target.slice(0, q),
        status: res.statusCode,
        code: facts.code,
        requestId: facts.requestId,
        principal: principalOf(facts.principal),
        bucket: facts.bucket,
        key: bounded(facts.key, KEY_LIMIT),
        bytesIn,
        bytesOut,
        client: clientAddress(req),
        userAgent: bounded(req.headers['user-agent'], AGENT_LIMIT),
        ms: Math.round(ms * 10) / 10,
        ...(aborted ? { aborted: true } : {}),
      },
      'request',
    );
  });
}
