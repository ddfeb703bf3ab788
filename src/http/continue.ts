// `Expect: 100-continue` (RFC 9110 §10.1.1), answered by us: the server
// listens for 'checkContinue' (http/app.ts) instead of letting Node answer
// 100 at once, so a refused upload costs no transfer.
//
// The answer is a property of the body, not a step of any handler: the
// first read of the request's body sends 100 Continue. Nothing reads a body
// before the request has been authenticated and checked (core refuses
// before it ingests), so no protocol or core function has to remember to
// call anything — and a handler that does read early (a form whose fields
// decide) cannot wait on a client that waits on it.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Makes the first read of `req`'s body tell the client to go ahead. */
export function continueOnFirstRead(req: IncomingMessage, res: ServerResponse): void {
  const read = req._read.bind(req);
  req._read = (size: number) => {
    req._read = read;
    if (!res.headersSent && !res.writableEnded) res.writeContinue();
    read(size);
  };
}
