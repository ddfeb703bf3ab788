// The HTTP application: the service's own endpoints (health, admin API,
// /storage/v1, the web console's files) as Hono applications, STS at the
// service root, and the S3 protocol for everything else (S3 owns the root of
// the URL space; a browser's navigation to it goes to the console). Which one
// answers is decided on the raw request target (http/dispatch.ts), never on
// Hono's parsed path: S3 requests do not go through Hono at all, and the
// service APIs route on the raw path too.
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import { adminApp } from '../admin/app.ts';
import type { Services } from '../core/services.ts';
import type { StoredKeyResolver } from '../principals/access-keys.ts';
import type { Authenticator } from '../principals/authenticate.ts';
import type { SecretBox } from '../principals/secret-box.ts';
import type { StsCredentials } from '../principals/sts.ts';
import { refuseS3, type S3Handler } from '../s3/handler.ts';
import type { EventFeed } from '../events/feed.ts';
import type { SignedUrlSettings } from '../storage-api/signed-urls.ts';
import { storageApi } from '../storage-api/app.ts';
import { bucketFromHost } from '../s3/router.ts';
import { handleSts, isStsRequest } from '../sts/handler.ts';
import { scannerHealth, type Clamd } from '../scanning/clamd.ts';
import { metricsApp } from '../metrics/app.ts';
import type { ServerFacts } from '../metrics/server-facts.ts';
import { destination, routingPath, type ServiceApi } from './dispatch.ts';
import { jsonError, type JsonErrorBody } from './json-error.ts';
import { closeAfterResponse } from './lingering-close.ts';
import type { HttpEnv } from './env.ts';
import { continueOnFirstRead } from './continue.ts';
import { consoleApp, isConsoleNavigation } from './console.ts';
import type { RateLimits } from './rate-limit.ts';
import { logWhenAnswered, noteRequest, type AccessLogLevel } from './request-log.ts';

/** Answers one request, whichever protocol it speaks. Rejects only when it could not answer at all. */
export type AppHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface AppDeps {
  storage: Services;
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
  /** The region requests are signed for (the console signs its own, http/console.ts). */
  region?: string;
  /** The virtual-host base domain: `<bucket>.<domain>/` is a bucket, never the STS endpoint nor a service API. */
  domain?: string;
  /** The rate limits: the address limit is taken here, the others by S3 and /storage/v1 once they know the URL and principal. */
  limits: RateLimits;
  /** The level of the request log's lines (AEROSTORE_ACCESS_LOG_LEVEL); 'off' writes none. */
  accessLogLevel?: AccessLogLevel;
  /** AEROSTORE_METRICS_TOKEN: /metrics wants it as a bearer token; unset, /metrics answers loopback clients only (metrics/access.ts). */
  metricsToken?: string;
  /** What /admin/v1/server reports: version, start, data directory, stored totals. */
  server: ServerFacts;
}

/** Each service API's code for "bad request", "no such route" and "rate-limited", in its own JSON error shape. */
const API_CODES: Record<ServiceApi, { invalid: string; notFound: string; slowDown: string }> = {
  health: { invalid: 'InvalidRequest', notFound: 'NotFound', slowDown: 'SlowDown' },
  admin: { invalid: 'InvalidRequest', notFound: 'NotFound', slowDown: 'SlowDown' },
  storage: { invalid: 'INVALID_REQUEST', notFound: 'NOT_FOUND', slowDown: 'TOO_MANY_REQUESTS' },
  metrics: { invalid: 'InvalidRequest', notFound: 'NotFound', slowDown: 'SlowDown' },
  console: { invalid: 'InvalidRequest', notFound: 'NotFound', slowDown: 'SlowDown' },
};

export function createApp({ storage, auth, box, sts, storedKeys, s3, domain, region = 'us-east-1', maxFileSize, signedUrls, feed, clamd, limits, accessLogLevel, metricsToken, server }: AppDeps): AppHandler {
  // Each service API routes on the raw path (http/dispatch.ts), not on the URL the adapter parsed.
  const hono = () => {
    const app = new Hono<HttpEnv>({ getPath: (_req, opts) => routingPath(opts?.env?.incoming.url) });
    // The request log's operation: the method and the route the request took (http/request-log.ts).
    app.use(async (c, next) => {
      try {
        await next();
      } finally {
        noteRequest(c.env.incoming, { op: `${c.req.method} ${routePath(c, -1)}` });
      }
    });
    return app;
  };
  const health = hono();
  health.get('/health/live', (c) => c.json({ status: 'ok' }));
  health.get('/health/ready', async (c) => {
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
  const apps: Record<ServiceApi, Hono<HttpEnv>> = {
    health,
    admin: hono().route('/admin/v1', adminApp({ storage, auth, box, storedKeys, server })),
    storage: hono().route('/storage/v1', storageApi({ storage, auth, maxFileSize, signedUrls, feed, limits })),
    metrics: hono().route('/', metricsApp(metricsToken)),
    console: hono().route('/', consoleApp({ region })),
  };
  const listeners = {} as Record<ServiceApi, AppHandler>;
  for (const api of Object.keys(apps) as ServiceApi[]) {
    // A path under the prefix that no route takes: a JSON 404 (Hono's default is text).
    apps[api].notFound((c: Context) => jsonError(c, 404, API_CODES[api].notFound, `No route for ${c.req.method} ${c.req.path}`));
    listeners[api] = getRequestListener(apps[api].fetch, { overrideGlobalObjects: false });
  }

  return async (req, res) => {
    logWhenAnswered(req, res, storage.log, accessLogLevel);
    const target = req.url ?? '/';
    const hostBucket = bucketFromHost(req.headers.host, domain);
    const to = destination(target, hostBucket, req.method);
    noteRequest(req, { api: to.api });
    // The address limit, before anything else (credentials included) costs
    // anything. Health probes are exempt: a refused probe would take the server out of rotation.
    const refused = to.api === 'health' ? undefined : limits.checkAddress(req);
    if (refused) {
      if (to.api === 's3') refuseS3(storage, req, res, refused);
      else refuse(req, res, 429, { statusCode: '429', error: API_CODES[to.api].slowDown, message: refused.message }, { 'retry-after': String(refused.retryAfterSeconds) });
    } else if (to.api === 's3' && hostBucket === undefined && isConsoleNavigation(req.method, target, req.headers)) {
      // A browser opening the service root: the console (an S3 client's GET / is signed, and stays ListBuckets).
      noteRequest(req, { api: 'console', op: 'GET /' });
      res.writeHead(302, { location: '/console/', 'content-length': 0, 'cache-control': 'no-store' });
      res.end();
    } else if (to.api === 's3') {
      if (hostBucket === undefined && isStsRequest(req.method ?? 'GET', target, req.headers)) {
        await handleSts(req, res, { jwt: auth.jwt, sts, log: storage.log });
      } else {
        await s3(req, res);
      }
    } else if (to.refuse) {
      refuse(req, res, 400, { statusCode: '400', error: API_CODES[to.api].invalid, message: to.refuse });
    } else {
      await listeners[to.api](req, res);
    }
  };
}

/** A JSON error written without Hono (the request never reaches it); the unread body is not drained. */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: JsonErrorBody, headers: http.OutgoingHttpHeaders = {}): void {
  noteRequest(req, { code: body.error });
  const payload = req.method === 'HEAD' ? '' : JSON.stringify(body);
  if (!req.complete) closeAfterResponse(req, res);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
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

export function createHttpServer(app: AppHandler, log: Logger, limits: ServerLimits = DEFAULT_LIMITS): http.Server {
  // The handler's promise can still reject (the Hono adapter writing out a
  // cached response, or its own error handling failing); http.Server ignores
  // it, and an unhandled rejection would end the process. One request fails instead.
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    app(req, res).catch((err: unknown) => {
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
  // Answer `Expect: 100-continue` ourselves, when the body is first read
  // (http/continue.ts), instead of Node's automatic 100.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    continueOnFirstRead(req, res);
    listener(req, res);
  });
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
