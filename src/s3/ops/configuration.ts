// Bucket configurations this server does not implement, read as S3 answers
// them for a bucket that has none: a 404 naming what is missing (encryption,
// Object Lock, website, replication), or the empty or
// default document S3 sends (notification, logging, accelerate, request
// payment). Each is true here: no bucket has such a configuration. Their PUTs
// and DELETEs are NotImplemented (src/s3/router.ts). Bucket policies are
// s3/ops/bucket-policy.ts's, lifecycle rules s3/ops/lifecycle.ts's.
import { requireAdminister } from '../../core/access.ts';
import { requireBucket } from '../../core/buckets.ts';
import { bucketOf, xmlReply, type S3Operation } from '../context.ts';
import { S3Error, type S3ErrorCode } from '../errors.ts';
import { toXml, type XmlNode } from '../xml.ts';

/** Reading a configuration is the bucket owner's (S3: s3:Get*Configuration, granted to the owner). */
async function ownedBucket(ctx: Parameters<S3Operation>[0]) {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  return bucket;
}

/** A configuration no bucket has: S3's 404 for it, naming the bucket. */
function missing(code: S3ErrorCode): S3Operation {
  return async (ctx) => {
    const bucket = await ownedBucket(ctx);
    throw new S3Error(code, undefined, { BucketName: bucket.name });
  };
}

/** A configuration every bucket has in its default form: S3's document for it. */
function answered(root: string, body: XmlNode = {}): S3Operation {
  return async (ctx) => {
    await ownedBucket(ctx);
    return xmlReply(toXml(root, body));
  };
}

export const getBucketEncryptionOp = missing('ServerSideEncryptionConfigurationNotFoundError');
export const getBucketWebsiteOp = missing('NoSuchWebsiteConfiguration');
export const getBucketReplicationOp = missing('ReplicationConfigurationNotFoundError');
/** No event notifications are configured: S3's empty NotificationConfiguration. */
export const getBucketNotificationOp = answered('NotificationConfiguration');
/** Server access logging is off: an empty BucketLoggingStatus. */
export const getBucketLoggingOp = answered('BucketLoggingStatus');
/** Transfer acceleration was never enabled: an empty AccelerateConfiguration. */
export const getBucketAccelerateOp = answered('AccelerateConfiguration');
/** The bucket owner pays, as for every bucket here. */
export const getBucketRequestPaymentOp = answered('RequestPaymentConfiguration', { Payer: 'BucketOwner' });
