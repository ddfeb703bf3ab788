// DeleteObject and DeleteObjects (POST /bucket?delete).
import { deleteObject, deleteObjects, MAX_DELETE_KEYS } from '../../core/delete-objects.ts';
import { validateKey } from '../../core/objects.ts';
import { requireChangeOf } from '../../core/policy-checks.ts';
import { requireBucket } from '../../core/buckets.ts';
import { bucketOf, keyOf, xmlReply, type S3Operation } from '../context.ts';
import { bypassGovernance } from './versioning.ts';
import { DomainError } from '../../core/errors.ts';
import { deleteVersions, type VersionRef } from '../../core/versions.ts';
import { asS3Error, S3Error } from '../errors.ts';
import { readVerifiedBody } from '../request-body.ts';
import { decodeXmlText, MAX_REQUEST_XML, parseXml, toXml, xmlText, type XmlNode } from '../xml.ts';


/**
 * DeleteObject: without a version id, the key's object (in a versioned
 * bucket: a delete marker hides it, x-amz-delete-marker and the marker's
 * version id say so); with one, that version for good (x-amz-delete-marker
 * when it was a marker).
 */
export const deleteObjectOp: S3Operation = async (ctx) => {
  const versionId = ctx.route.query.get('versionId');
  if (versionId === null) {
    const { marker } = await deleteObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal);
    return { status: 204, headers: marker ? { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker } : {} };
  }
  const ref = { key: keyOf(ctx), versionId };
  const { deleted, errors } = await deleteVersions(ctx.storage, bucketOf(ctx), [ref], ctx.principal, { bypassGovernance: bypassGovernance(ctx) });
  const [failure] = errors;
  if (failure) {
    if (failure.code === 'InvalidArgument') throw new S3Error('InvalidArgument', failure.message, { ArgumentName: 'versionId', ArgumentValue: versionId });
    throw new DomainError(failure.code, failure.code === 'ObjectLocked' ? failure.message : undefined);
  }
  return { status: 204, headers: { 'x-amz-version-id': versionId, ...(deleted[0]?.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) } };
};

// Not the shared parseXml: keys must keep their leading and trailing
// whitespace (trimValues off). Entities stay unprocessed (no expansion
// attacks) and are decoded below, for keys only.
interface DeleteEntry {
  key: string;
  versionId?: string;
}

/** `<Delete><Quiet/>?<Object><Key/><VersionId/>?</Object>{1,1000}</Delete>`, else MalformedXML. */
export function parseDeleteRequest(text: string): { quiet: boolean; entries: DeleteEntry[] } {
  const root = parseXml(text, { keepWhitespace: true }).Delete;
  if (root === null || typeof root !== 'object') throw new S3Error('MalformedXML');
  const { Quiet, Object: objects } = root as { Quiet?: unknown; Object?: unknown };
  const quiet = typeof Quiet === 'string' && Quiet.trim().toLowerCase() === 'true';
  if (!Array.isArray(objects) || objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML');
  const entries = objects.map((o: unknown): DeleteEntry => {
    if (o === null || typeof o !== 'object') throw new S3Error('MalformedXML');
    const { Key, VersionId } = o as { Key?: unknown; VersionId?: unknown };
    if (typeof Key !== 'string') throw new S3Error('MalformedXML');
    if (VersionId !== undefined && typeof VersionId !== 'string') throw new S3Error('MalformedXML');
    return { key: decodeXmlText(Key), versionId: VersionId === undefined ? undefined : VersionId.trim() };
  });
  return { quiet, entries };
}

/**
 * DeleteObjects. The body's integrity is mandatory (Content-MD5 or an
 * x-amz-checksum-* header or trailer) and verified, as are a signed
 * x-amz-content-sha256 and aws-chunked framing, through the same checks as
 * an object payload. Missing keys count as deleted, as in S3.
 */
export const deleteObjectsOp: S3Operation = async (ctx) => {
  const body = await readVerifiedBody(ctx, {
    maxBytes: MAX_REQUEST_XML,
    requireDigest: true,
    beforeBody: async () => requireChangeOf(ctx.storage, await requireBucket(ctx.storage, bucketOf(ctx)), ctx.principal, 'DELETE'),
  });

  const { quiet, entries } = parseDeleteRequest(xmlText(body));
  const refused = new Map<number, S3Error>();
  const keys: string[] = [];
  const versions: VersionRef[] = [];
  entries.forEach((e, i) => {
    try {
      validateKey(e.key);
      if (e.versionId === undefined) keys.push(e.key);
      else versions.push({ key: e.key, versionId: e.versionId });
    } catch (err) {
      const refusal = asS3Error(err);
      if (!refusal) throw err;
      refused.set(i, refusal);
    }
  });
  const outcome = await deleteObjects(ctx.storage, bucketOf(ctx), keys, ctx.principal);
  const byVersion =
    versions.length > 0
      ? await deleteVersions(ctx.storage, bucketOf(ctx), versions, ctx.principal, { bypassGovernance: bypassGovernance(ctx) })
      : { deleted: [], errors: [] };
  const versionId = (key: string, v: string) => `${key}\0${v}`;
  const versionErrors = new Map(byVersion.errors.map((e) => [versionId(e.key, e.versionId), e]));
  const markersDeleted = new Set(byVersion.deleted.filter((d) => d.deleteMarker).map((d) => versionId(d.key, d.versionId)));
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  entries.forEach((e, i) => {
    let err = refused.get(i);
    if (!err && e.versionId === undefined && outcome.refused.has(e.key)) err = new S3Error('AccessDenied');
    const versionError = e.versionId !== undefined ? versionErrors.get(versionId(e.key, e.versionId)) : undefined;
    // S3 reports a malformed version id in DeleteObjects as NoSuchVersion.
    if (!err && versionError) err = versionError.code === 'InvalidArgument' ? new S3Error('NoSuchVersion') : new S3Error('AccessDenied', versionError.message);
    if (err) errors.push({ Key: e.key, VersionId: e.versionId, Code: err.code, Message: err.message });
    else if (!quiet) {
      const marker = e.versionId === undefined ? outcome.markers.get(e.key) : undefined;
      const deletedMarker = e.versionId !== undefined && markersDeleted.has(versionId(e.key, e.versionId));
      deleted.push({
        Key: e.key,
        VersionId: e.versionId,
        ...(marker ? { DeleteMarker: 'true', DeleteMarkerVersionId: marker } : {}),
        ...(deletedMarker ? { DeleteMarker: 'true', DeleteMarkerVersionId: e.versionId } : {}),
      });
    }
  });
  return xmlReply(toXml('DeleteResult', { Deleted: deleted, Error: errors }));
};
