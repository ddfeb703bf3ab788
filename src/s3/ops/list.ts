// ListObjects (v1) and ListObjectsV2.
import { isoMillis, listObjects, type ListResult } from '../../core/list.ts';
import { bucketOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { RawXml, toXml, xmlElement, type XmlNode } from '../xml.ts';
import { ownerXml } from './bucket.ts';

const MAX_KEYS = 1000;

export function parseMaxKeys(raw: string | null): number {
  if (raw === null) return MAX_KEYS;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: raw });
  return Math.min(Number(raw), MAX_KEYS);
}

export function encodingOf(ctx: S3Context): (s: string) => string {
  const type = ctx.route.query.get('encoding-type');
  if (type === null) return (s) => s;
  // S3 takes the value without regard to case (`URL` too).
  if (type.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: type });
  // S3 encodes like a URL path component but keeps '/' readable.
  return (s) => encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * The <Contents> and <CommonPrefixes> of a page, written straight to a
 * string: a page has up to 1,000 of them and an object tree per entry was a
 * measurable share of a listing's time (docs/benchmarks.md).
 */
function listing(result: ListResult, enc: (s: string) => string, withOwner: boolean): XmlNode {
  let entries = '';
  for (const o of result.objects) {
    entries += '<Contents>';
    entries += xmlElement('Key', enc(o.key));
    entries += xmlElement('LastModified', isoMillis(o.modified_ms)) + xmlElement('ETag', o.etag);
    for (const alg of o.checksum_algorithms ?? []) entries += xmlElement('ChecksumAlgorithm', alg);
    entries += xmlElement('Size', o.size);
    if (withOwner) {
      const owner = ownerXml(o.owner_id);
      entries += '<Owner>' + xmlElement('ID', owner.ID) + xmlElement('DisplayName', owner.DisplayName) + '</Owner>';
    }
    entries += '<StorageClass>STANDARD</StorageClass></Contents>';
  }
  let prefixes = '';
  for (const p of result.commonPrefixes) prefixes += '<CommonPrefixes>' + xmlElement('Prefix', enc(p)) + '</CommonPrefixes>';
  return { Contents: new RawXml(entries), CommonPrefixes: new RawXml(prefixes) };
}

export const listObjectsV2Op: S3Operation = async (ctx) => {
  const q = ctx.route.query;
  const enc = encodingOf(ctx);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after') ?? '';
  let after = startAfter;
  if (token !== null) {
    // An empty token is refused as any token that does not decode, as S3
    // refuses it (it is not "no token": MinIO's issue 5931 shows S3's answer).
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || !decoded.startsWith('v1:')) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    }
    after = decoded.slice(3);
  }
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const result = await listObjects(ctx.storage, { bucket: bucketOf(ctx), prefix, delimiter, after, maxKeys, principal: ctx.principal });
  const body = listing(result, enc, q.get('fetch-owner') === 'true');
  return xmlReply(
    toXml('ListBucketResult', {
      Name: result.bucket.name,
      Prefix: enc(prefix),
      ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
      MaxKeys: maxKeys,
      ...(q.has('encoding-type') ? { EncodingType: 'url' } : {}),
      KeyCount: result.objects.length + result.commonPrefixes.length,
      ...(token !== null ? { ContinuationToken: token } : {}),
      ...(startAfter ? { StartAfter: enc(startAfter) } : {}),
      IsTruncated: result.isTruncated,
      ...(result.isTruncated && result.last
        ? { NextContinuationToken: Buffer.from('v1:' + result.last.value).toString('base64url') }
        : {}),
      ...body,
    }),
  );
};

export const listObjectsOp: S3Operation = async (ctx) => {
  const q = ctx.route.query;
  const enc = encodingOf(ctx);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const marker = q.get('marker') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const result = await listObjects(ctx.storage, { bucket: bucketOf(ctx), prefix, delimiter, after: marker, maxKeys, principal: ctx.principal });
  return xmlReply(
    toXml('ListBucketResult', {
      Name: result.bucket.name,
      Prefix: enc(prefix),
      Marker: enc(marker),
      // S3 returns NextMarker only with a delimiter; without one clients use the last key.
      ...(delimiter && result.isTruncated && result.last ? { NextMarker: enc(result.last.value) } : {}),
      MaxKeys: maxKeys,
      ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
      ...(q.has('encoding-type') ? { EncodingType: 'url' } : {}),
      IsTruncated: result.isTruncated,
      ...listing(result, enc, true),
    }),
  );
};
