// DeleteObject and DeleteObjects (POST /bucket?delete).
import { deleteObject, deleteObjects, MAX_DELETE_KEYS } from '../../core/delete-objects.ts';
import { validateKey } from '../../core/objects.ts';
import { requireChangeOf } from '../../core/policy-checks.ts';
import { requireBucket } from '../../core/buckets.ts';
import { bucketOf, keyOf, xmlReply, type S3Operation } from '../context.ts';
import { asS3Error, S3Error } from '../errors.ts';
import { readVerifiedBody } from '../request-body.ts';
import { decodeXmlText, MAX_REQUEST_XML, parseXml, toXml, xmlText, type XmlNode } from '../xml.ts';

export const deleteObjectOp: S3Operation = async (ctx) => {
  await deleteObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal);
  return { status: 204 };
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
  entries.forEach((e, i) => {
    try {
      if (e.versionId !== undefined && e.versionId !== 'null') throw new S3Error('NoSuchVersion');
      validateKey(e.key);
      keys.push(e.key);
    } catch (err) {
      const refusal = asS3Error(err);
      if (!refusal) throw err;
      refused.set(i, refusal);
    }
  });
  const outcome = await deleteObjects(ctx.storage, bucketOf(ctx), keys, ctx.principal);
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  entries.forEach((e, i) => {
    const err = refused.get(i) ?? (outcome.refused.has(e.key) ? new S3Error('AccessDenied') : undefined);
    if (err) errors.push({ Key: e.key, VersionId: e.versionId, Code: err.code, Message: err.message });
    else if (!quiet) deleted.push({ Key: e.key, VersionId: e.versionId });
  });
  return xmlReply(toXml('DeleteResult', { Deleted: deleted, Error: errors }));
};
