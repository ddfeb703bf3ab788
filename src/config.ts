// Typed configuration: every setting comes from an environment variable and
// the same setting as a CLI flag (`AEROSTORE_DATA_DIR` ⇔ `--data-dir`); flags win.
import path from 'node:path';
import { z } from 'zod';
import { parseUrlSigningKeys } from './principals/url-tokens.ts';
import { parseClamdAddress } from './scanning/address.ts';
import { DEFAULT_SIGNED_URL_LIMIT } from './http/rate-limit.ts';
import { parseRateLimit } from './http/token-bucket.ts';
import { parseBlockPublicAccess } from './core/bucket-policy.ts';
import { parseIsoTime } from './core/lifecycle.ts';

/** A rate limit (http/token-bucket.ts parseRateLimit); null: off. */
function rateLimit() {
  return z.string().transform((v, ctx) => {
    try {
      return parseRateLimit(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** A point in time, ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`). */
export function isoDate() {
  return z.string().transform((v, ctx) => {
    const d = parseIsoTime(v);
    if (d === undefined) {
      ctx.addIssue({ code: 'custom', message: 'an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z' });
      return z.NEVER;
    }
    return d;
  });
}

const settings = {
  host: { env: 'AEROSTORE_HOST', flag: 'host', schema: z.string().min(1).default('127.0.0.1') },
  port: { env: 'AEROSTORE_PORT', flag: 'port', schema: z.coerce.number().int().min(0).max(65535).default(9000) },
  dataDir: { env: 'AEROSTORE_DATA_DIR', flag: 'data-dir', schema: z.string().min(1).default('./data') },
  rootAccessKey: { env: 'AEROSTORE_ROOT_ACCESS_KEY', flag: 'root-access-key', schema: z.string().min(3).max(128).optional() },
  rootSecretKey: { env: 'AEROSTORE_ROOT_SECRET_KEY', flag: 'root-secret-key', secret: true, schema: z.string().min(8).max(256).optional() },
  region: { env: 'AEROSTORE_REGION', flag: 'region', schema: z.string().regex(/^[a-z0-9-]+$/).default('us-east-1') },
  /** Base domain for virtual-hosted-style requests (`<bucket>.<domain>`); path-style always works. */
  domain: {
    env: 'AEROSTORE_DOMAIN',
    flag: 'domain',
    schema: z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i, 'a DNS name such as s3.example.com').optional(),
  },
  /**
   * Legacy AWS Signature Version 2 on the S3 API (`Authorization: AWS …`,
   * AWSAccessKeyId/Expires/Signature URLs, SigV2 POST policies) for older
   * clients; `false` answers it as S3 regions without SigV2 do.
   */
  sigv2: { env: 'AEROSTORE_SIGV2', flag: 'sigv2', schema: z.stringbool().default(true) },
  databaseUrl: { env: 'DATABASE_URL', flag: 'database-url', schema: z.string().url().optional() },
  /**
   * shared_buffers of the embedded Postgres (not of DATABASE_URL's): `auto`
   * sizes it to the machine (db/embedded.ts sharedBuffersFor), or a size
   * Postgres takes, such as 512MB.
   */
  pgSharedBuffers: {
    env: 'AEROSTORE_PG_SHARED_BUFFERS',
    flag: 'pg-shared-buffers',
    schema: z.string().regex(/^(auto|[1-9][0-9]*(kB|MB|GB))$/, "'auto' or a size such as 512MB").default('auto'),
  },
  logLevel: {
    env: 'AEROSTORE_LOG_LEVEL',
    flag: 'log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  /**
   * The level of the request log's one line per request (http/request-log.ts):
   * `info` by default; `debug` keeps them out of an info log; `off` writes none.
   */
  accessLogLevel: {
    env: 'AEROSTORE_ACCESS_LOG_LEVEL',
    flag: 'access-log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'off']).default('info'),
  },
  /** Largest single PUT body S3 accepts is 5 GiB; multipart goes beyond. */
  maxObjectSize: {
    env: 'AEROSTORE_MAX_OBJECT_SIZE',
    flag: 'max-object-size',
    schema: z.coerce.number().int().positive().default(5 * 1024 ** 3),
  },
  /** The /storage/v1 API's size limit for buckets that set none (S3 uploads are bounded by AEROSTORE_MAX_OBJECT_SIZE only). */
  maxFileSize: {
    env: 'AEROSTORE_MAX_FILE_SIZE',
    flag: 'max-file-size',
    schema: z.coerce.number().int().positive().default(100 * 1024 ** 2),
  },
  /** Multipart uploads neither completed nor aborted are removed, with their parts, after this many days. */
  multipartExpiryDays: {
    env: 'AEROSTORE_MULTIPART_EXPIRY_DAYS',
    flag: 'multipart-expiry-days',
    schema: z.coerce.number().positive().default(7),
  },
  /** The orphan sweeper leaves files alone until they have been idle (mtime) this long. */
  sweepGraceMinutes: {
    env: 'AEROSTORE_SWEEP_GRACE_MINUTES',
    flag: 'sweep-grace-minutes',
    schema: z.coerce.number().min(0).default(30),
  },
  /**
   * How often the orphan sweeper runs (one server process at a time), in
   * minutes; 0: never in this process (another one, or a scheduled
   * `aerostore fsck --repair`, must).
   */
  sweepIntervalMinutes: {
    env: 'AEROSTORE_SWEEP_INTERVAL_MINUTES',
    flag: 'sweep-interval-minutes',
    schema: z.coerce.number().min(0).default(15),
  },
  /**
   * How often the lifecycle pass applies the buckets' lifecycle rules (one
   * server process at a time), in minutes; 0: never in this process
   * (another one, or a scheduled `aerostore lifecycle run`, must).
   */
  lifecycleIntervalMinutes: {
    env: 'AEROSTORE_LIFECYCLE_INTERVAL_MINUTES',
    flag: 'lifecycle-interval-minutes',
    schema: z.coerce.number().min(0).default(60),
  },
  /**
   * FOR TESTING ONLY: the time (ISO 8601) the scheduled lifecycle passes
   * take as "now", so that rules of days can be seen to act without
   * waiting days. Unset (always, in production): the clock.
   */
  lifecycleNow: {
    env: 'AEROSTORE_LIFECYCLE_NOW',
    flag: 'lifecycle-now',
    schema: isoDate().optional(),
  },
  /** Request headers must arrive within this many ms (slow-header clients are cut off with 408). */
  headersTimeoutMs: {
    env: 'AEROSTORE_HEADERS_TIMEOUT_MS',
    flag: 'headers-timeout-ms',
    schema: z.coerce.number().int().min(100).default(30_000),
  },
  /** A connection with no bytes either way for this many ms is closed. */
  idleTimeoutMs: {
    env: 'AEROSTORE_IDLE_TIMEOUT_MS',
    flag: 'idle-timeout-ms',
    schema: z.coerce.number().int().min(100).default(120_000),
  },
  /** A request body must average at least this many bytes/s over the window below while it is read; 0: no minimum. */
  minBodyRate: {
    env: 'AEROSTORE_MIN_BODY_RATE',
    flag: 'min-body-rate',
    schema: z.coerce.number().int().min(0).default(1024),
  },
  minBodyRateWindowMs: {
    env: 'AEROSTORE_MIN_BODY_RATE_WINDOW_MS',
    flag: 'min-body-rate-window-ms',
    schema: z.coerce.number().int().min(1000).default(60_000),
  },
  /** Events older than this many days are pruned from the event log. */
  eventRetentionDays: {
    env: 'AEROSTORE_EVENT_RETENTION_DAYS',
    flag: 'event-retention-days',
    schema: z.coerce.number().positive().default(7),
  },
  /** Audit records (uploads, downloads, deletions; README "Audit trail") older than this many days are pruned. */
  auditRetentionDays: {
    env: 'AEROSTORE_AUDIT_RETENTION_DAYS',
    flag: 'audit-retention-days',
    schema: z.coerce.number().positive().default(365),
  },
  /** HS256 secret for JWT bearer tokens (`Authorization: Bearer`); at least 32 bytes. */
  jwtSecret: { env: 'AEROSTORE_JWT_SECRET', flag: 'jwt-secret', secret: true, schema: z.string().min(32, 'at least 32 characters').optional() },
  /** JWKS for JWT bearer tokens signed with asymmetric keys: a file path or an https/http URL. */
  jwks: { env: 'AEROSTORE_JWKS', flag: 'jwks', schema: z.string().min(1).optional() },
  /** Master key encrypting stored access-key secrets (base64 of 32 bytes); generated into the data directory when unset. */
  masterKey: {
    env: 'AEROSTORE_MASTER_KEY',
    flag: 'master-key',
    secret: true,
    schema: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'base64 of exactly 32 bytes')
      .optional(),
  },
  /** Longest lifetime, in seconds, a /storage/v1 signed URL may be given (7 days, as S3's presigned URLs). */
  signedUrlMaxExpiry: {
    env: 'AEROSTORE_SIGNED_URL_MAX_EXPIRY',
    flag: 'signed-url-max-expiry',
    schema: z.coerce.number().int().positive().default(7 * 24 * 3600),
  },
  /**
   * Keys for signed URLs, `kid:base64-of-32-bytes` comma-separated: the first
   * signs, all verify (rotation). Unset: one key derived from the master key,
   * kid 1, which the list names `derived` (`new:…,derived` rotates away from it).
   */
  urlSigningKeys: {
    env: 'AEROSTORE_URL_SIGNING_KEYS',
    flag: 'url-signing-keys',
    secret: true,
    schema: z
      .string()
      .transform((v, ctx) => {
        try {
          return parseUrlSigningKeys(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional(),
  },
  /**
   * Rate limits (README "Rate limits"), each `<requests per second>[:<burst>]`
   * or `0`/`off`: redemptions of one signed URL (S3 presigned or /storage/v1),
   * requests of one signed-in principal (the service role is exempt), requests
   * from one client address. Per server process.
   */
  rateLimitSignedUrl: {
    env: 'AEROSTORE_RATE_LIMIT_SIGNED_URL',
    flag: 'rate-limit-signed-url',
    schema: rateLimit().default(DEFAULT_SIGNED_URL_LIMIT),
  },
  rateLimitPrincipal: { env: 'AEROSTORE_RATE_LIMIT_PRINCIPAL', flag: 'rate-limit-principal', schema: rateLimit().default(null) },
  rateLimitAddress: { env: 'AEROSTORE_RATE_LIMIT_ADDRESS', flag: 'rate-limit-address', schema: rateLimit().default(null) },
  /** Who may create buckets: any signed-in principal (`authenticated`, the default) or only the service role. */
  bucketCreators: {
    env: 'AEROSTORE_BUCKET_CREATORS',
    flag: 'bucket-creators',
    schema: z.enum(['authenticated', 'service']).default('authenticated'),
  },
  /** Attempts per webhook delivery before it is dead (kept for the admin API's dead-letter view, retried by hand). */
  webhookMaxAttempts: {
    env: 'AEROSTORE_WEBHOOK_MAX_ATTEMPTS',
    flag: 'webhook-max-attempts',
    schema: z.coerce.number().int().min(1).max(100).default(8),
  },
  /**
   * Wait before a failed delivery's first retry, in ms; it doubles for each
   * attempt after (up to an hour). The default spreads 8 attempts over ~20
   * minutes, so a receiver that is redeployed or briefly down loses nothing.
   */
  webhookBackoffMs: {
    env: 'AEROSTORE_WEBHOOK_BACKOFF_MS',
    flag: 'webhook-backoff-ms',
    schema: z.coerce.number().int().min(1).default(10_000),
  },
  /** How long a receiver has to answer a delivery, in ms; no answer in time is a failed attempt. */
  webhookTimeoutMs: {
    env: 'AEROSTORE_WEBHOOK_TIMEOUT_MS',
    flag: 'webhook-timeout-ms',
    schema: z.coerce.number().int().min(100).max(300_000).default(10_000),
  },
  /** clamd to scan new content with (README "Virus scanning"): `tcp://host:port` or a unix socket path. Unset: no scanning. */
  clamd: {
    env: 'AEROSTORE_CLAMD',
    flag: 'clamd',
    schema: z
      .string()
      .transform((v, ctx) => {
        try {
          return parseClamdAddress(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional(),
  },
  /** Scans in flight at once, per server process. */
  scanConcurrency: {
    env: 'AEROSTORE_SCAN_CONCURRENCY',
    flag: 'scan-concurrency',
    schema: z.coerce.number().int().min(1).max(64).default(2),
  },
  /** Content larger than this (bytes) is not sent to clamd and stays 'unscanned' ('too large'); clamd's default limits are 100 MiB. */
  scanMaxSize: {
    env: 'AEROSTORE_SCAN_MAX_SIZE',
    flag: 'scan-max-size',
    schema: z.coerce.number().int().positive().default(100 * 1024 ** 2),
  },
  /**
   * An object uploaded without a checksum gets the CRC64NVME of its bytes,
   * as S3 adds by default; false stores none (saves ~0.75 ms of CPU per MiB
   * uploaded without one: docs/benchmarks.md).
   */
  defaultChecksum: {
    env: 'AEROSTORE_DEFAULT_CHECKSUM',
    flag: 'default-checksum',
    schema: z.stringbool().default(true),
  },
  /**
   * Block Public Access for buckets that set none (PutPublicAccessBlock):
   * `true` all four flags, `false` none (the default), or a comma-separated
   * list of BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
   * RestrictPublicBuckets (README "Block Public Access").
   */
  blockPublicAccess: {
    env: 'AEROSTORE_BLOCK_PUBLIC_ACCESS',
    flag: 'block-public-access',
    schema: z
      .string()
      .default('false')
      .transform((v, ctx) => {
        try {
          return parseBlockPublicAccess(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  },
  /**
   * A bearer token for GET /metrics (README "Metrics"): Prometheus sends
   * `Authorization: Bearer <token>`. Unset: /metrics answers clients on
   * this machine only (loopback, not through a proxy).
   */
  metricsToken: { env: 'AEROSTORE_METRICS_TOKEN', flag: 'metrics-token', secret: true, schema: z.string().min(16, 'at least 16 characters').optional() },
  /**
   * Encryption at rest (SSE-S3, issue 20; README "Encryption at rest"): `on` seals every new blob,
   * part and temp file under its bucket's key, wrapped under the master key. Off by default until
   * the crash harness and the benchmarks say so; sealed blobs are read either way.
   */
  encryption: {
    env: 'AEROSTORE_ENCRYPTION',
    flag: 'encryption',
    schema: z.enum(['off', 'on']).default('off'),
  },
  /** With a scanner: objects not scanned yet are refused (403) like quarantined ones, until their verdict. */
  blockUntilScanned: {
    env: 'AEROSTORE_BLOCK_UNTIL_SCANNED',
    flag: 'block-until-scanned',
    schema: z.stringbool().default(false),
  },
} as const;

type Settings = typeof settings;
export type Config = { -readonly [K in keyof Settings]: z.output<Settings[K]['schema']> };

export class ConfigError extends Error {}

/** Reads `--name value` and `--name=value` pairs; anything else is an error. */
function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Set<string>(Object.values(settings).map((s) => s.flag));
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m || !known.has(m[1])) throw new ConfigError(`unknown argument: ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`--${m[1]} needs a value`);
    flags.set(m[1], value);
  }
  return flags;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Config {
  const flags = parseFlags(argv);
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings)) {
    const raw = flags.get(s.flag) ?? (env[s.env] === '' ? undefined : env[s.env]);
    const parsed = s.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      // A secret's value stays out of the message (it ends up in logs).
      const shown = 'secret' in s ? '(value withheld)' : JSON.stringify(raw);
      throw new ConfigError(`invalid ${s.env} (--${s.flag}) ${shown}: ${why}`);
    }
    out[name] = parsed.data;
  }
  const config = out as Config;
  if ((config.rootAccessKey === undefined) !== (config.rootSecretKey === undefined)) {
    throw new ConfigError('set both AEROSTORE_ROOT_ACCESS_KEY and AEROSTORE_ROOT_SECRET_KEY, or neither');
  }
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

/** The configuration table for the README and `--help`. */
export function describeSettings(): string[] {
  return Object.values(settings).map((s) => `  --${s.flag.padEnd(18)} ${s.env}`);
}
