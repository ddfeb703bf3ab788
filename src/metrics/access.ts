// Who may read /metrics (README "Metrics"). The metrics say how busy the
// server is, which operations fail and how full its disk is — not data, but
// not for everyone either.
//
// With AEROSTORE_METRICS_TOKEN set: `Authorization: Bearer <token>`, from
// anywhere (Prometheus's `authorization` scrape setting), else 401.
// Unset: only a client on this machine (the loopback addresses), as a
// Prometheus or an agent beside the server scrapes; anyone else gets 403 and
// the setting to use. A request that arrives through a proxy on this machine
// comes from loopback too, so a request carrying a forwarding header
// (Forwarded, X-Forwarded-For, X-Real-IP) counts as from outside: the
// server trusts no proxy (http/client-address.ts), and a reverse proxy in
// front of it must not make its metrics public.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList } from 'node:net';

export type MetricsAccess =
  | { allowed: true }
  | { allowed: false; status: 401; code: string; message: string }
  | { allowed: false; status: 403; code: string; message: string };

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Whether `address` (as http/client-address.ts normalises it: IPv4-mapped IPv6 written as IPv4) is this machine's loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return loopback.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

/** Constant-time comparison of a presented token with the configured one (hashed first: lengths may differ). */
function sameToken(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/**
 * Decides a /metrics request. `token`: AEROSTORE_METRICS_TOKEN;
 * `address`: the TCP peer (http/client-address.ts clientAddress).
 */
export function metricsAccess(token: string | undefined, headers: IncomingHttpHeaders, address: string | undefined): MetricsAccess {
  if (token !== undefined) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.authorization ?? '');
    if (m && sameToken(m[1], token)) return { allowed: true };
    return { allowed: false, status: 401, code: 'Unauthorized', message: 'The metrics need `Authorization: Bearer <AEROSTORE_METRICS_TOKEN>`.' };
  }
  const forwarded = FORWARDING_HEADERS.some((h) => headers[h] !== undefined);
  if (isLoopback(address) && !forwarded) return { allowed: true };
  return {
    allowed: false,
    status: 403,
    code: 'AccessDenied',
    message:
      'The metrics are served to this machine only (loopback, not through a proxy). Set AEROSTORE_METRICS_TOKEN (--metrics-token) to scrape from elsewhere with `Authorization: Bearer <token>`.',
  };
}
