// The HTTP application: Hono routes for the service's own endpoints (health,
// admin API), STS at the service root, and the S3 protocol for everything
// else (S3 owns the root of the URL space).
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
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
    const scanner = scannerHealth(clamd);
    try {
      await storage.sql`select 1`;
      return c.json({ status: 'ok', database: 'ok', scanner: await scanner });
    } catch {
      return c.json({ status: 'unavailable', database: 'unreachable', scanner: await scanner }, 503);
    }
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

export interface ServerLimits {
  /** Whole request, body included: large uploads must fit. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  requestTimeoutMs: 0, // a 5 GiB PUT on a slow link may take hours; idle sockets are reaped below
  headersTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
};

export function createHttpServer(app: Hono<Env>, limits: ServerLimits = DEFAULT_LIMITS): http.Server {
  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: 16 * 1024,
    },
    listener,
  );
  // Answer `Expect: 100-continue` ourselves, after authentication and checks
  // (see acceptBody), instead of Node's automatic 100.
  server.on('checkContinue', listener);
  // Sockets idle (no bytes either way) for this long are closed: slow-loris
  // bodies cannot hold a connection forever.
  server.setTimeout(120_000, (socket) => socket.destroy());
  return server;
}
