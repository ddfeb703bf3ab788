// Answering a request before reading its body (a refused upload: 403, 404,
// 413) means closing the connection, since draining gigabytes to keep it
// alive is worse. But a connection closed with unread bytes in its receive
// buffer is reset (RST), and a client still writing its body, one that reads
// only once it has sent everything (no Expect: 100-continue), loses the
// answer with it: EPIPE instead of the error. The remedy is the lingering
// close of Apache and nginx: send the answer, half-close (FIN), go on
// reading and discarding what the client sends for a while, and close once
// the client closes its side, has sent its whole body, or the time is up.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** The longest a refused request's connection stays open after the answer (nginx's lingering_time is 30 s). */
export const LINGER_MS = 10_000;

/**
 * Marks the response as the connection's last and, when the request's body
 * has not been read whole, makes the close a lingering one. Call before the
 * response is sent.
 */
export function closeAfterResponse(req: IncomingMessage, res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader('connection', 'close');
  if (!req.complete) lingerOnClose(req);
}

/** Node closes a `Connection: close` response's socket with destroySoon(); on this socket it lingers first. */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  if (!socket || socket.destroyed || !socket.destroySoon) return;
  socket.destroySoon = () => {
    // FIN after the answer: the client may read it while its writes still arrive.
    socket.end();
    // As Node's own destroySoon(): only once the answer has left Node's buffers.
    const close = () => {
      clearTimeout(timer);
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    };
    // Time is up: close regardless (a client that reads nothing may never let the answer out).
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    // Node's parser discards the body (the request was dumped); resume in
    // case a handler paused it halfway, so the client's writes never stall.
    req.resume();
    if (req.complete) return close();
    req.once('end', close);
    socket.once('end', close);
    socket.once('close', () => clearTimeout(timer));
  };
}
