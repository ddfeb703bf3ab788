// `Expect: 100-continue` (RFC 9110 §10.1.1), answered by us: the server
// listens for 'checkContinue' (http/app.ts) instead of letting Node answer
// 100 at once, so a refused upload costs no transfer.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Tells a client that sent `Expect: 100-continue` to go ahead. Called once
 * the request has been authenticated and checked, right before the body is
 * read.
 */
export function acceptBody(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  if (typeof expect === 'string' && expect.toLowerCase() === '100-continue' && !res.headersSent) {
    res.writeContinue();
  }
}
