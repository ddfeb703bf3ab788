// The origin a client reached the server at, for the absolute URLs an
// answer hands out (a POST Object's Location, a file record's presigned
// URLs): its Host, and the scheme a TLS-terminating proxy says it used.
import type { IncomingMessage } from 'node:http';

export function requestOrigin(req: IncomingMessage): string {
  const proto = String(req.headers['x-forwarded-proto'] ?? 'http').split(',')[0].trim();
  const host = req.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}
