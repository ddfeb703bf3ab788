// GetObjectAttributes: what HeadObject and ListParts say, as XML, for the
// attributes the client names in x-amz-object-attributes.
import { checksumTypeOf, type ChecksumAlgorithm } from '../../core/checksums.ts';
import type { ObjectRow } from '../../core/objects.ts';
import { findVersion } from '../../core/versions.ts';
import { versionHeader } from './versioning.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { toXml, type XmlNode } from '../xml.ts';

const ATTRIBUTES = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);
/** S3 lists at most 1,000 parts per GetObjectAttributes, as ListParts does. */
const MAX_PARTS = 1000;

/** x-amz-max-parts, x-amz-part-number-marker: non-negative integers (S3 sends them as headers, not in the query). */
function intHeader(ctx: S3Context, name: string, fallback: number): number {
  const raw = ctx.req.headers[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!/^\d{1,10}$/.test(value.trim()) || Number(value) > 2 ** 31 - 1) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: value });
  }
  return Number(value);
}

/**
 * ObjectParts of a multipart object (GetObjectAttributesParts): PartsCount
 * (the SDKs' TotalPartsCount) always; the parts themselves — number, size,
 * checksum — only when the upload used an additional checksum, as S3 lists
 * them, a page of x-amz-max-parts after x-amz-part-number-marker. A single
 * PUT has none.
 */
function objectParts(ctx: S3Context, object: ObjectRow, algorithm: ChecksumAlgorithm | undefined): XmlNode | undefined {
  if (!object.parts) return undefined;
  const maxParts = Math.min(intHeader(ctx, 'x-amz-max-parts', MAX_PARTS), MAX_PARTS);
  const marker = intHeader(ctx, 'x-amz-part-number-marker', 0);
  const checksums = object.part_checksums;
  if (!checksums || !algorithm) return { PartsCount: object.parts.length };
  const page = object.parts
    .map((size, i) => ({ PartNumber: i + 1, Size: size, [`Checksum${algorithm}`]: checksums[i] }))
    .slice(marker, marker + maxParts);
  const truncated = marker + page.length < object.parts.length;
  return {
    PartsCount: object.parts.length,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length > 0 ? page[page.length - 1].PartNumber : marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page,
  };
}

export const getObjectAttributesOp: S3Operation = async (ctx) => {
  const wanted = String(ctx.req.headers['x-amz-object-attributes'] ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (wanted.length === 0 || wanted.some((a) => !ATTRIBUTES.has(a))) {
    throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes' });
  }
  const { bucket, object } = await findVersion(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'metadata', ctx.route.query.get('versionId') ?? undefined);
  const body: XmlNode = {};
  const checksums = Object.entries(object.checksums) as Array<[ChecksumAlgorithm, string]>;
  // Elements in S3's order; the ETag here is unquoted, unlike in headers.
  if (wanted.includes('ETag')) body.ETag = object.etag.replace(/"/g, '');
  if (wanted.includes('Checksum') && checksums.length > 0) {
    body.Checksum = {
      // A composite checksum without its "-N": the part count is ObjectParts' (as S3 answers).
      ...Object.fromEntries(checksums.map(([alg, value]) => [`Checksum${alg}`, value.replace(/-\d+$/, '')])),
      ChecksumType: checksumTypeOf(checksums[0][1]),
    };
  }
  if (wanted.includes('ObjectParts')) {
    const parts = objectParts(ctx, object, checksums[0]?.[0]);
    if (parts) body.ObjectParts = parts;
  }
  if (wanted.includes('StorageClass')) body.StorageClass = 'STANDARD';
  if (wanted.includes('ObjectSize')) body.ObjectSize = object.size;
  return {
    ...xmlReply(toXml('GetObjectAttributesResponse', body)),
    headers: { 'content-type': 'application/xml', 'last-modified': object.updated_at.toUTCString(), ...versionHeader(bucket, object.version) },
  };
};
