// Where clamd listens, as AEROSTORE_CLAMD names it: `tcp://host:port`, or the
// path of its local (unix) socket. Kept apart from the client so that
// reading the configuration does not load the clamd client.

export type ClamdAddress = { host: string; port: number } | { socket: string };

export function parseClamdAddress(value: string): ClamdAddress {
  if (value.startsWith('/')) return { socket: value };
  const m = /^tcp:\/\/(\[[0-9a-f:.]+\]|[^\s:/[\]]+):(\d{1,5})\/?$/i.exec(value);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new Error('tcp://host:port, or the absolute path of a unix socket');
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export function describeClamdAddress(a: ClamdAddress): string {
  return 'socket' in a ? a.socket : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
