// Versioning: PutBucketVersioning, GetBucketVersioning, ListObjectVersions
// (core/versions.ts), and the x-amz-version-id header every object
// operation answers with in a bucket that has had versioning.
import { requireAdminister, requireSee } from '../../core/access.ts';
import type { BucketRow } from '../../core/bucket.ts';
import { requireBucket } from '../../core/buckets.ts';
import { isoMillis } from '../../core/list.ts';
import { listVersions, setVersioning, type VersioningStatus } from '../../core/versions.ts';
import { bucketOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { RawXml, toXml, xmlElement } from '../xml.ts';
import { ownerXml } from './bucket.ts';
import { encodingOf, parseMaxKeys } from './list.ts';

/**
 * S3 names an object's version in x-amz-version-id once its bucket has had
 * versioning (a Suspended bucket's writes are version 'null'); a bucket that
 * never had it sends none.
 */
export function versionHeader(bucket: BucketRow, version: string): Record<string, string> {
  return bucket.versioning ? { 'x-amz-version-id': version } : {};
}

/** ?versionId=: the version an object operation acts on; none: the current one. */
export const versionIdOf = (ctx: S3Context): string | undefined => ctx.route.query.get('versionId') ?? undefined;

/** x-amz-bypass-governance-retention: true (core/object-lock.ts decides whether the principal may). */
export const bypassGovernance = (ctx: S3Context): boolean => String(ctx.req.headers['x-amz-bypass-governance-retention'] ?? '').toLowerCase() === 'true';

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() : undefined);

export const putBucketVersioningOp: S3Operation = async (ctx) => {
  const doc = await readXmlBody(ctx, {
    optional: false,
    beforeBody: async () => requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal),
  });
  const config = doc?.VersioningConfiguration;
  if (config === undefined || config === null || typeof config !== 'object') throw new S3Error('MalformedXML');
  const { Status, MfaDelete } = config as { Status?: unknown; MfaDelete?: unknown };
  const mfa = text(MfaDelete);
  if (mfa !== undefined && mfa !== 'Disabled') {
    // S3 refuses it without the x-amz-mfa header (over HTTPS, from the root user); this server has no MFA devices.
    if (mfa === 'Enabled') throw new S3Error('InvalidRequest', 'MFA delete is not supported by this server: it needs an MFA device (x-amz-mfa).');
    throw new S3Error('MalformedXML');
  }
  const status = text(Status);
  if (status === undefined) {
    // S3 accepts a configuration without a Status as "no change".
    await requireAdminister(await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal);
    return { status: 200 };
  }
  if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('MalformedXML');
  await setVersioning(ctx.storage, bucketOf(ctx), ctx.principal, status as VersioningStatus);
  return { status: 200 };
};

export const getBucketVersioningOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireSee(bucket, ctx.principal);
  // Never enabled: S3 answers an empty configuration.
  return xmlReply(toXml('VersioningConfiguration', bucket.versioning ? { Status: bucket.versioning } : {}));
};

/**
 * ListObjectVersions: <Version> and <DeleteMarker> entries in one sequence
 * (S3's order: keys ascending, each key's newest first), written straight
 * to a string as ListObjects does.
 */
export const listObjectVersionsOp: S3Operation = async (ctx) => {
  const q = ctx.route.query;
  const enc = encodingOf(ctx);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const versionIdMarker = q.get('version-id-marker') ?? undefined;
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const result = await listVersions(ctx.storage, {
    bucket: bucketOf(ctx),
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker: versionIdMarker === '' ? undefined : versionIdMarker,
    maxKeys,
    principal: ctx.principal,
  });
  let entries = '';
  // A page has few owners: each one's <Owner> is written once.
  const owners = new Map<string | null, string>();
  const ownerOf = (id: string | null) => {
    let xml = owners.get(id);
    if (xml === undefined) {
      const owner = ownerXml(id);
      xml = '<Owner>' + xmlElement('ID', owner.ID) + xmlElement('DisplayName', owner.DisplayName) + '</Owner>';
      owners.set(id, xml);
    }
    return xml;
  };
  for (const v of result.entries) {
    const element = v.delete_marker ? 'DeleteMarker' : 'Version';
    entries += `<${element}>` + xmlElement('Key', enc(v.key)) + xmlElement('VersionId', v.version) + (v.isLatest ? '<IsLatest>true</IsLatest>' : '<IsLatest>false</IsLatest>');
    entries += '<LastModified>' + isoMillis(Number(v.modified_ms)) + '</LastModified>';
    if (!v.delete_marker) entries += xmlElement('ETag', v.etag) + '<Size>' + v.size + '</Size><StorageClass>STANDARD</StorageClass>';
    entries += ownerOf(v.owner_id) + `</${element}>`;
  }
  let prefixes = '';
  for (const p of result.commonPrefixes) prefixes += '<CommonPrefixes>' + xmlElement('Prefix', enc(p)) + '</CommonPrefixes>';
  const next = result.next;
  return xmlReply(
    toXml('ListVersionsResult', {
      Name: result.bucket.name,
      Prefix: enc(prefix),
      KeyMarker: enc(keyMarker),
      VersionIdMarker: versionIdMarker ?? '',
      ...(next ? { NextKeyMarker: enc(next.key), ...(next.versionId !== undefined ? { NextVersionIdMarker: next.versionId } : {}) } : {}),
      MaxKeys: maxKeys,
      ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
      ...(q.has('encoding-type') ? { EncodingType: 'url' } : {}),
      IsTruncated: result.isTruncated,
      Entries: new RawXml(entries),
      CommonPrefixes: new RawXml(prefixes),
    }),
  );
};
