import type { IncomingMessage } from 'node:http';
import type { Busboy } from 'busboy';

/**
 * Feeds a request to its form parser. `req.pipe()` alone ends the parser
 * only on 'end': when the client goes away mid-body, the part being read
 * would neither end nor fail, and the upload reading it would hold its temp
 * file (and its descriptor) open for good. Destroying the parser fails that
 * part's stream instead.
 */
export function pipeToForm(req: IncomingMessage, form: Busboy): void {
  req.on('close', () => {
    if (!req.complete) form.destroy(new Error('The request was cut off before its end.'));
  });
  req.pipe(form);
}
