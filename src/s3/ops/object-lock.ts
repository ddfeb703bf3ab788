// Object lock over S3: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
// Put/GetObjectLegalHold, the x-amz-object-lock-* headers a write sends and a
// read answers (core/object-lock.ts holds the settings; Postgres the rule).
import type { IncomingHttpHeaders } from 'node:http';
import { requireAdminister, requireSee } from '../../core/access.ts';
import type { DefaultRetention, LockMode, ObjectLock } from '../../core/bucket.ts';
import { requireBucket } from '../../core/buckets.ts';
import type { ObjectRow } from '../../core/objects.ts';
import { getVersionLock, LOCK_MODES, setObjectLockConfiguration, setVersionLock } from '../../core/object-lock.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { isoTime, toXml } from '../xml.ts';
import { bypassGovernance, versionHeader, versionIdOf } from './versioning.ts';

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

function lockMode(raw: string): LockMode {
  if (!(LOCK_MODES as readonly string[]).includes(raw)) throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', { ArgumentName: 'x-amz-object-lock-mode', ArgumentValue: raw });
  return raw as LockMode;
}

function isoDate(raw: string, argument: string): Date {
  const d = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(d.getTime())) {
    throw new S3Error('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', { ArgumentName: argument, ArgumentValue: raw });
  }
  return d;
}

function legalHold(raw: string, argument: string): boolean {
  if (raw !== 'ON' && raw !== 'OFF') throw new S3Error('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", { ArgumentName: argument, ArgumentValue: raw });
  return raw === 'ON';
}

/** The x-amz-object-lock-* headers of PutObject, CopyObject and CreateMultipartUpload; none: undefined. */
export function lockFromHeaders(h: IncomingHttpHeaders): ObjectLock | undefined {
  const mode = header(h, 'x-amz-object-lock-mode');
  const until = header(h, 'x-amz-object-lock-retain-until-date');
  const hold = header(h, 'x-amz-object-lock-legal-hold');
  if ((mode === undefined) !== (until === undefined)) {
    throw new S3Error('InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied');
  }
  if (mode === undefined && hold === undefined) return undefined;
  return {
    ...(mode !== undefined && until !== undefined
      ? { retention: { mode: lockMode(mode), retainUntil: isoDate(until, 'x-amz-object-lock-retain-until-date') } }
      : {}),
    ...(hold !== undefined ? { legalHold: legalHold(hold, 'x-amz-object-lock-legal-hold') } : {}),
  };
}

/** The lock headers GET and HEAD answer with (S3 sends them to whoever may read the object). */
export function lockHeaders(o: ObjectRow): Record<string, string> {
  return {
    ...(o.lock_mode && o.retain_until ? { 'x-amz-object-lock-mode': o.lock_mode, 'x-amz-object-lock-retain-until-date': isoTime(o.retain_until) } : {}),
    ...(o.legal_hold ? { 'x-amz-object-lock-legal-hold': 'ON' } : {}),
  };
}


/** `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>…` */
export const putObjectLockConfigurationOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, {
    optional: false,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  const config = doc?.ObjectLockConfiguration;
  if (config === null || typeof config !== 'object') throw new S3Error('MalformedXML');
  const { ObjectLockEnabled, Rule } = config as { ObjectLockEnabled?: unknown; Rule?: unknown };
  if (text(ObjectLockEnabled) !== 'Enabled') throw new S3Error('MalformedXML');
  let retention: DefaultRetention | null = null;
  if (Rule !== undefined && Rule !== '') {
    const d = (Rule as { DefaultRetention?: unknown } | null)?.DefaultRetention;
    if (d === null || typeof d !== 'object') throw new S3Error('MalformedXML');
    const { Mode, Days, Years } = d as { Mode?: unknown; Days?: unknown; Years?: unknown };
    const mode = text(Mode);
    if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw new S3Error('MalformedXML');
    const days = text(Days);
    const years = text(Years);
    if ((days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
    const n = Number(days ?? years);
    if (!Number.isInteger(n) || n <= 0) throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value.');
    retention = days !== undefined ? { mode, days: n } : { mode, years: n };
  }
  await setObjectLockConfiguration(ctx.storage, bucketOf(ctx), ctx.principal, retention);
  return { status: 200 };
};

export const getObjectLockConfigurationOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireSee(bucket, ctx.principal);
  if (!bucket.object_lock_enabled) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: bucket.name });
  const d = bucket.object_lock_default;
  return xmlReply(
    toXml('ObjectLockConfiguration', {
      ObjectLockEnabled: 'Enabled',
      ...(d ? { Rule: { DefaultRetention: { Mode: d.mode, ...('days' in d ? { Days: d.days } : { Years: d.years }) } } } : {}),
    }),
  );
};

export const putObjectRetentionOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, { optional: false });
  // <Retention/> parses as '': no mode, no date.
  const r = doc?.Retention === '' ? {} : doc?.Retention;
  if (r === null || typeof r !== 'object') throw new S3Error('MalformedXML');
  const { Mode, RetainUntilDate } = r as { Mode?: unknown; RetainUntilDate?: unknown };
  const mode = text(Mode);
  const until = text(RetainUntilDate);
  // An empty <Retention/> removes it (GOVERNANCE with the bypass only).
  const retention = mode === undefined && until === undefined ? null : undefined;
  if (retention === undefined && (mode === undefined || until === undefined)) throw new S3Error('MalformedXML');
  const version = await setVersionLock(
    ctx.storage,
    bucketOf(ctx),
    keyOf(ctx),
    ctx.principal,
    { retention: retention === null ? null : { mode: lockMode(mode as string), retainUntil: isoDate(until as string, 'RetainUntilDate') } },
    { versionId: versionIdOf(ctx), bypassGovernance: bypassGovernance(ctx) },
  );
  return { status: 200, headers: versionIdOf(ctx) !== undefined ? { 'x-amz-version-id': version } : {} };
};

export const getObjectRetentionOp: S3Operation = async (ctx) => {
  const lock = await getVersionLock(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, versionIdOf(ctx));
  if (!lock.retention) throw new S3Error('NoSuchObjectLockConfiguration');
  const reply = xmlReply(toXml('Retention', { Mode: lock.retention.mode, RetainUntilDate: isoTime(lock.retention.retainUntil) }));
  return { ...reply, headers: { ...reply.headers, ...versionHeader(lock.bucket, lock.version) } };
};

export const putObjectLegalHoldOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, { optional: false });
  const status = text((doc?.LegalHold as { Status?: unknown } | null | undefined)?.Status);
  if (status === undefined) throw new S3Error('MalformedXML');
  const version = await setVersionLock(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, { legalHold: legalHold(status, 'Status') }, { versionId: versionIdOf(ctx) });
  return { status: 200, headers: versionIdOf(ctx) !== undefined ? { 'x-amz-version-id': version } : {} };
};

export const getObjectLegalHoldOp: S3Operation = async (ctx) => {
  const lock = await getVersionLock(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, versionIdOf(ctx));
  const reply = xmlReply(toXml('LegalHold', { Status: lock.legalHold ? 'ON' : 'OFF' }));
  return { ...reply, headers: { ...reply.headers, ...versionHeader(lock.bucket, lock.version) } };
};
