// What a thrown value means for the response, decided once for every
// protocol (S3 in s3/handler.ts, /storage/v1 and /admin/v1 in their onError):
// an answer the protocol words itself (a DomainError or its own error), a
// client that went away, a full disk, or a failure of ours. Each presenter
// then only formats; what cannot be answered is logged here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isDiskFull } from '../blobs/store.ts';
import { closeAfterResponse } from './lingering-close.ts';

export type Failure =
  /** A refusal the protocol words itself. */
  | 'answer'
  /** The client closed the connection: nobody is left to answer. */
  | 'client-gone'
  /** The response was under way when it failed: cut the connection, so that a truncated body never passes for a whole one. */
  | 'cut-off'
  /** The data directory's disk is full: the write left nothing behind, the operator must free space. */
  | 'disk-full'
  /** Anything else: a failure of ours. */
  | 'internal';

export interface FailureContext {
  req: IncomingMessage;
  /** Whether the status line has gone out. */
  headersSent: boolean;
  /** Whether the protocol answers this value as it is (a DomainError, or its own error type). */
  isAnswer: boolean;
  log: Logger;
  /** Added to every log line, e.g. the request id. */
  logFields?: Record<string, unknown>;
}

export function classifyFailure(err: unknown, { req, headersSent, isAnswer, log, logFields = {} }: FailureContext): Failure {
  // Not req.destroyed: on Node 20 that is already true once a body has been read whole.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const clientGone = code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || !req.socket || req.socket.destroyed;
  if (headersSent) {
    if (clientGone) {
      log.debug(logFields, 'client disconnected during the response');
      return 'client-gone';
    }
    log.warn({ ...logFields, err }, 'response failed after headers were sent');
    return 'cut-off';
  }
  if (isAnswer) return 'answer';
  if (clientGone) {
    log.debug(logFields, 'client disconnected');
    return 'client-gone';
  }
  if (isDiskFull(err)) {
    log.error({ ...logFields, err, method: req.method, url: req.url }, 'no space left in the data directory');
    return 'disk-full';
  }
  log.error({ ...logFields, err, method: req.method, url: req.url }, 'internal error');
  return 'internal';
}

/**
 * Call before sending an error answer. A body never read (a refused upload)
 * would otherwise be drained, possibly gigabytes, to keep the connection
 * alive: close it instead, lingering so that the answer arrives.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: { setHeader(name: string, value: string): unknown }): void {
  if (!req.complete) closeAfterResponse(req, res);
}

/** What a Hono app's onError needs of its context: the Node request and response, and a response header. */
interface NodeContext {
  env: { incoming: IncomingMessage; outgoing: ServerResponse };
  header(name: string, value: string): void;
}

/**
 * A Hono app's onError (/storage/v1, /admin/v1): settles what is not an
 * answer and lets `word` format the rest in the API's own JSON.
 */
export function answerFailure(
  c: NodeContext,
  err: unknown,
  { isAnswer, log }: { isAnswer: boolean; log: Logger },
  word: (failure: 'answer' | 'disk-full' | 'internal') => Response,
): Response {
  const { incoming: req, outgoing: res } = c.env;
  const failure = classifyFailure(err, { req, headersSent: res.headersSent, isAnswer, log });
  if (failure === 'cut-off') res.destroy();
  // Nobody to answer, and not a server failure (an upload cut off).
  if (failure === 'client-gone' || failure === 'cut-off') return new Response(null, { status: 499 });
  closeIfBodyUnread(req, { setHeader: (name, value) => c.header(name, value) });
  return word(failure);
}
