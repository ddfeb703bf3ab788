// Assembles a running aerostore: data directory, database (embedded or
// DATABASE_URL), migrations, blob store, principals, HTTP server.
import { mkdir } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { BucketKeyRing } from './blobs/bucket-key-ring.ts';
import { LocalDiskBlobStore } from './blobs/store.ts';
import type { Config } from './config.ts';
import { listenForBucketChanges, warnOfReservedBucketNames } from './core/buckets.ts';
import { scheduleUploadExpiry } from './maintenance/upload-expiry.ts';
import { checkOnStartup } from './maintenance/startup-check.ts';
import { scheduleSweeps } from './maintenance/sweeper.ts';
import { scheduleLifecycle } from './maintenance/lifecycle.ts';
import { createServices, type Services } from './core/services.ts';
import { storePublicAccessDefault } from './core/bucket-policies.ts';
import { connect } from './db/connect.ts';
import { generateDatabasePassword, startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { connectPools } from './db/session.ts';
import { createApp, createHttpServer } from './http/app.ts';
import { RateLimits } from './http/rate-limit.ts';
import { describeRateLimit } from './http/token-bucket.ts';
import { StoredKeyResolver } from './principals/access-keys.ts';
import type { Authenticator } from './principals/authenticate.ts';
import { loadJwtVerifier } from './principals/jwt.ts';
import { ChainedKeyResolver, RootKeyResolver } from './principals/keys.ts';
import { MasterKey } from './principals/master-key.ts';
import { loadOrCreateSecretFile, loadRootCredentials, type RootCredentials } from './principals/root-key.ts';
import { SecretBox } from './principals/secret-box.ts';
import { StsCredentials } from './principals/sts.ts';
import { DERIVED, DERIVED_URL_SIGNING_KID, UrlSigner } from './principals/url-tokens.ts';
import { EventFeed } from './events/feed.ts';
import { schedulePruning } from './events/retention.ts';
import { startSequencer } from './events/sequencer.ts';
import { startWebhookWorker } from './events/webhook-worker.ts';
import { createS3Handler } from './s3/handler.ts';
import { Clamd } from './scanning/clamd.ts';
import { startScanWorker } from './scanning/worker.ts';
import { collectProcessMetrics } from './metrics/registry.ts';
import { readAtScrape, StoredTotalsCache } from './metrics/scrape.ts';
import { packageVersion } from './metrics/server-facts.ts';

export interface RunningServer {
  url: string;
  root: RootCredentials;
  rootGenerated: boolean;
  storage: Services;
  /** Stop accepting, finish in-flight requests (up to graceMs), then close the database. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
  const { credentials: root, generated: rootGenerated } = await loadRootCredentials(config.dataDir, {
    accessKeyId: config.rootAccessKey,
    secretAccessKey: config.rootSecretKey,
  });

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const password = await loadOrCreateSecretFile(path.join(config.dataDir, 'pg-password'), generateDatabasePassword);
    embedded = await startEmbeddedPostgres(config.dataDir, password, log.child({ component: 'postgres' }), { sharedBuffers: config.pgSharedBuffers });
    databaseUrl = embedded.url;
  }
  // Migrations run as the connecting role (they create tables and roles);
  // requests run on a pool whose sessions start as aerostore_anon and switch
  // to their principal's role per transaction, service-role work on a pool of
  // its own (db/session.ts).
  const migrator = connect(databaseUrl, { max: 1 });
  try {
    const applied = await migrate(migrator);
    if (applied.length) log.info({ applied }, 'database migrations applied');
  } catch (err) {
    await migrator.end({ timeout: 1 }).catch(() => {});
    await embedded?.stop();
    throw err;
  }
  await migrator.end({ timeout: 5 });
  const pools = connectPools(databaseUrl);
  const { sql } = pools;
  const stops: Array<() => Promise<void>> = [];
  try {
    // Encryption at rest: sealed blobs open whatever the setting (a data
    // directory may hold both kinds); new ones are sealed only when it is on.
    const masterKey = await MasterKey.load(config.dataDir, config.masterKey);
    const bucketKeys = new BucketKeyRing(sql, masterKey);
    const blobs = new LocalDiskBlobStore(config.dataDir, bucketKeys);
    await blobs.init();
    const storage = createServices({
      sql,
      blobs,
      log,
      region: config.region,
      maxObjectSize: config.maxObjectSize,
      bucketCreators: config.bucketCreators,
      signedUrlMaxExpiry: config.signedUrlMaxExpiry,
      scanning: config.clamd !== undefined,
      blockUntilScanned: config.blockUntilScanned && config.clamd !== undefined,
      defaultChecksum: config.defaultChecksum,
      sealing: config.encryption === 'on' ? bucketKeys : undefined,
    });
    stops.push(await listenForBucketChanges(storage));
    await storePublicAccessDefault(storage, config.blockPublicAccess);

    const box = new SecretBox(masterKey.derive('access-key-secrets'));
    const storedKeys = new StoredKeyResolver(sql, box);
    await storedKeys.start();
    stops.push(() => storedKeys.stop());
    const sts = new StsCredentials(masterKey.derive('sts-session-tokens'));
    const auth: Authenticator = {
      keys: new ChainedKeyResolver([new RootKeyResolver(root), sts, storedKeys]),
      jwt: await loadJwtVerifier({ secret: config.jwtSecret, jwks: config.jwks }),
      region: config.region,
      sigv2: config.sigv2,
    };

    // Signed URLs: the configured keys (rotation), else the one derived from the master key.
    const derived = { kid: DERIVED_URL_SIGNING_KID, key: masterKey.derive('url-signing') };
    const urlSigner = new UrlSigner((config.urlSigningKeys ?? [DERIVED]).map((k) => (k === DERIVED ? derived : k)));
    const signedUrls = { signer: urlSigner, maxExpiry: config.signedUrlMaxExpiry };

    // Events: numbered in commit order by the sequencer of any process, fanned out to local subscribers.
    stops.push(await startSequencer(sql, log));
    const feed = new EventFeed(sql);
    await feed.start();
    stops.push(() => feed.stop());
    stops.push(async () => storage.downloads.flush());
    const stopPruning = schedulePruning(sql, { eventDays: config.eventRetentionDays, auditDays: config.auditRetentionDays }, log);
    stops.push(async () => stopPruning());

    // Per process (README "Rate limits"): with N processes behind one address, each enforces its own.
    const rateLimits = { signedUrl: config.rateLimitSignedUrl, principal: config.rateLimitPrincipal, address: config.rateLimitAddress };
    const limits = new RateLimits(rateLimits, log);
    log.info(
      { signedUrl: describeRateLimit(rateLimits.signedUrl), principal: describeRateLimit(rateLimits.principal), address: describeRateLimit(rateLimits.address) },
      'rate limits (per process)',
    );
    const s3 = createS3Handler(storage, auth, { domain: config.domain, limits });
    const clamd = config.clamd && new Clamd(config.clamd);
    // Metrics (README "Metrics"): the process's, and Postgres's totals and the disk read at scrape time.
    collectProcessMetrics();
    const totals = new StoredTotalsCache(sql, log);
    readAtScrape(totals, config.dataDir);
    const facts = { version: packageVersion(), dataDir: config.dataDir, totals };
    const server = createHttpServer(
      createApp({
        storage, auth, box, sts, storedKeys, s3, domain: config.domain, region: config.region, maxFileSize: config.maxFileSize, signedUrls, feed, clamd, limits,
        accessLogLevel: config.accessLogLevel, metricsToken: config.metricsToken, server: facts,
      }),
      storage.log,
      { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, keepAliveTimeoutMs: 65_000, minBodyRate: config.minBodyRate, minBodyRateWindowMs: config.minBodyRateWindowMs },
    );
    await listen(server, config.host, config.port);
    const stopExpiry = scheduleUploadExpiry(storage, config.multipartExpiryDays);
    // Orphans (crash leftovers) and zero-reference blobs; one process at a time (src/maintenance/).
    const sweepGraceMs = config.sweepGraceMinutes * 60_000;
    const stopSweeps =
      config.sweepIntervalMinutes > 0
        ? scheduleSweeps(
            storage,
            { graceMs: sweepGraceMs, everyMs: config.sweepIntervalMinutes * 60_000, expiryDays: config.multipartExpiryDays },
            log,
          )
        : () => {};
    // Lifecycle rules (issue 18 §4); one process at a time (src/maintenance/lifecycle.ts).
    const stopLifecycle =
      config.lifecycleIntervalMinutes > 0
        ? scheduleLifecycle(storage, { everyMs: config.lifecycleIntervalMinutes * 60_000, now: config.lifecycleNow }, log)
        : () => {};
    if (config.lifecycleNow) log.warn({ now: config.lifecycleNow }, 'AEROSTORE_LIFECYCLE_NOW is set: lifecycle passes act as of that time (for testing only)');
    const stopStartupCheck = checkOnStartup(storage, sweepGraceMs, log);
    void warnOfReservedBucketNames(storage).catch((err: unknown) => log.warn({ err }, 'could not look for buckets with reserved names'));
    if (clamd) stops.push(startScanWorker(storage, clamd, { concurrency: config.scanConcurrency, maxSize: config.scanMaxSize }));
    const webhookOptions = { maxAttempts: config.webhookMaxAttempts, backoffMs: config.webhookBackoffMs, timeoutMs: config.webhookTimeoutMs };
    stops.push(await startWebhookWorker({ sql, box, log, options: webhookOptions }));
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host}:${port}`,
      root,
      rootGenerated,
      storage,
      close: async (graceMs = 30_000) => {
        stopExpiry();
        stopSweeps();
        stopLifecycle();
        stopStartupCheck();
        // Event streams never finish on their own: end them so the drain does not wait on them.
        feed.emit('closing');
        await drain(server, graceMs);
        await Promise.allSettled([...storage.background]);
        await Promise.allSettled(stops.map((stop) => stop()));
        await pools.end({ timeout: 5 });
        await embedded?.stop();
      },
    };
  } catch (err) {
    await pools.end({ timeout: 1 }).catch(() => {});
    await embedded?.stop();
    throw err;
  }
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting, lets in-flight requests finish, then cuts what is left. */
function drain(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    // Keep-alive connections turn idle as their last response ends: close
    // them as they do, rather than waiting out the keep-alive timeout.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(reaper);
      resolve();
    });
    server.closeIdleConnections();
  });
}
