// The HTTP application: Hono routes for the service's own endpoints (health,
// admin API), STS at the service root, and the S3 protocol for everything
// else (S3 owns the root of the URL space).
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { adminApp } from '../admin/app.ts';
import type { Storage } from '../core/storage.ts';
import type { StoredKeyResolver } from '../principals/access-keys.ts';
import type { Authenticator } from '../principals/authenticate.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import type { StsCredentials } from '../principals/sts.ts';
import type { S3Handler } from '../s3/handler.ts';
import type { EventFeed } from '../events/feed.ts';
import type { SignedUrlSettings } from '../storage-api/signed-urls.ts';
import { storageApi } from '../storage-api/app.ts';
import { bucketFromHost } from '../s3/router.ts';
import { handleSts, isStsRequest } from '../sts/handler.ts';
import { scannerHealth, type Clamd } from '../scanning/clamd.ts';

type Env = { Bindings: { incoming: http.IncomingMessage; outgoing: http.ServerResponse } };

export interface AppDeps {
  storage: Storage;
  auth: Authenticator;
  box: SecretBox;
  sts: StsCredentials;
  storedKeys: StoredKeyResolver;
  s3: S3Handler;
  /** The /storage/v1 size limit for buckets without their own. */
  maxFileSize: number;
  /** The /storage/v1 signed URLs' key(s) and longest lifetime. */
  signedUrls: SignedUrlSettings;
  feed: EventFeed;
  /** The virus scanner, when AEROSTORE_CLAMD is set (/health/ready reports it). */
  clamd?: Clamd;
  /** The virtual-host base domain: `<bucket>.<domain>/` is a bucket, never the STS endpoint. */
  domain?: string;
}

export function createApp({ storage, auth, box, sts, storedKeys, s3, domain, maxFileSize, signedUrls, feed, clamd }: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/health/live', (c) => c.json({ status: 'ok' }));
  app.get('/health/ready', async (c) => {
    // Ready: the database answers and the data directory takes a write
    // (write + fsync + unlink where uploads are staged; a disk that hangs
    // counts as not writable after 5 s). The scanner is reported, never
    // decisive: uploads go on while clamd is away.
    const [database, dataDir, scanner] = await Promise.all([
      storage.sql`select 1`.then(() => 'ok' as const, () => 'unreachable' as const),
      withTimeout(storage.blobs.probeWritable(), 5_000).then(() => 'ok' as const, () => 'not writable' as const),
      scannerHealth(clamd),
    ]);
    const ready = database === 'ok' && dataDir === 'ok';
    return c.json({ status: ready ? 'ok' : 'unavailable', database, data_dir: dataDir, scanner }, ready ? 200 : 503);
  });
  app.route('/admin/v1', adminApp({ storage, auth, box, storedKeys }));
  app.route('/storage/v1', storageApi({ storage, auth, maxFileSize, signedUrls, feed }));
  app.all('*', async (c) => {
    const req = c.env.incoming;
    const atServiceRoot = bucketFromHost(req.headers.host, domain) === undefined;
    if (atServiceRoot && isStsRequest(req.method ?? 'GET', req.url ?? '/', req.headers)) {
      await handleSts(req, c.env.outgoing, { jwt: auth.jwt, sts, log: storage.log });
    } else {
      await s3(req, c.env.outgoing);
    }
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface ServerLimits {
  /** Request headers must arrive within this (slow-header attacks). */
  headersTimeoutMs: number;
  /** A socket with no bytes either way for this long is closed. */
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /**
   * A request body must average at least this many bytes a second over any
   * `minBodyRateWindowMs` while it is being read (a body trickled to hold a
   * connection and an upload open); 0 turns the check off.
   */
  minBodyRate: number;
  minBodyRateWindowMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 65_000,
  minBodyRate: 1024,
  minBodyRateWindowMs: 60_000,
};

export function createHttpServer(app: Hono<Env>, log: Logger, limits: ServerLimits = DEFAULT_LIMITS): http.Server {
  const hono = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  // The adapter's promise can still reject (writing out a cached response, or
  // its own error handling failing); http.Server ignores it, and an
  // unhandled rejection would end the process. One request fails instead.
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    hono(req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, url: req.url }, 'request failed outside the handlers');
      res.destroy();
    });
  };
  const server = http.createServer(
    {
      // No whole-request limit: a 5 GiB PUT on a slow link may take hours. The minimum body rate bounds a trickle instead.
      requestTimeout: 0,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the headers timeout this often (default 30 s, which would double it).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      maxHeaderSize: 16 * 1024,
    },
    listener,
  );
  // Answer `Expect: 100-continue` ourselves, after authentication and checks
  // (see acceptBody), instead of Node's automatic 100.
  server.on('checkContinue', listener);
  if (limits.minBodyRate > 0) server.on('request', (req: http.IncomingMessage) => watchBodyRate(req, limits.minBodyRate, limits.minBodyRateWindowMs));
  // Sockets idle (no bytes either way) for this long are closed.
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy());
  return server;
}

/**
 * Closes the connection of a request whose body arrives slower than `rate`
 * bytes a second over the last `windowMs`. Measured on the socket's byte
 * count, so the body stream itself is left alone, and only while the server
 * is reading the body: time spent before it asks (100 Continue, checks) or
 * while it holds the body back (a busy disk) does not count against the client.
 */
function watchBodyRate(req: http.IncomingMessage, rate: number, windowMs: number): void {
  const socket = req.socket;
  let samples: Array<{ at: number; bytes: number }> = [];
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return stop();
    const now = Date.now();
    if (req.readableFlowing !== true) {
      samples = [];
      return;
    }
    samples.push({ at: now, bytes: socket.bytesRead });
    while (samples.length > 1 && now - samples[1].at >= windowMs) samples.shift();
    const first = samples[0];
    if (now - first.at < windowMs) return;
    if ((socket.bytesRead - first.bytes) / ((now - first.at) / 1000) < rate) {
      stop();
      socket.destroy();
    }
  }, Math.max(100, windowMs / 12));
  timer.unref();
  const stop = () => clearInterval(timer);
  req.once('end', stop);
  req.once('close', stop);
}
