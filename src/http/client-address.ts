// Where a request comes from, as the audit trail records it (principals:
// actingFrom): the peer address of its TCP connection. Headers such as
// X-Forwarded-For are not read — any client can send them, and no proxy is
// configured as trusted — so behind a reverse proxy this is the proxy's
// address (README "Audit trail").
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The client's IP address, IPv4-mapped IPv6 written as IPv4; undefined when the socket has none (closed). */
export function clientAddress(req: IncomingMessage): string | undefined {
  return normalAddress(req.socket.remoteAddress);
}

/** An IP address as Postgres's inet reads it: no IPv6 zone (`%eth0`), `::ffff:a.b.c.d` as `a.b.c.d`; undefined if not an address. */
export function normalAddress(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const address = raw.replace(/%.*$/s, '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return isIP(address) === 0 ? undefined : address;
}
