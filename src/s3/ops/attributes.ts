// GetObjectAttributes: what HeadObject says, as XML, for the attributes the
// client names in x-amz-object-attributes.
import { findObject } from '../../core/objects.ts';
import { checksumTypeOf } from './get.ts';
import { bucketOf, keyOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { toXml, type XmlNode } from '../xml.ts';

const ATTRIBUTES = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);

export const getObjectAttributesOp: S3Operation = async (ctx) => {
  const wanted = String(ctx.req.headers['x-amz-object-attributes'] ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (wanted.length === 0 || wanted.some((a) => !ATTRIBUTES.has(a))) {
    throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes' });
  }
  const { object } = await findObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'metadata');
  const body: XmlNode = {};
  // Elements in S3's order; the ETag here is unquoted, unlike in headers.
  if (wanted.includes('ETag')) body.ETag = object.etag.replace(/"/g, '');
  const checksums = Object.entries(object.checksums);
  if (wanted.includes('Checksum') && checksums.length > 0) {
    body.Checksum = {
      ...Object.fromEntries(checksums.map(([alg, value]) => [`Checksum${alg}`, value])),
      ChecksumType: checksumTypeOf(checksums[0][1]),
    };
  }
  if (wanted.includes('StorageClass')) body.StorageClass = 'STANDARD';
  if (wanted.includes('ObjectSize')) body.ObjectSize = object.size;
  return {
    ...xmlReply(toXml('GetObjectAttributesResponse', body)),
    headers: { 'content-type': 'application/xml', 'last-modified': object.updated_at.toUTCString() },
  };
};
