// The S3 front end: route → authenticate → authorise → operation → reply.
// Every response carries x-amz-request-id; every failure becomes S3 XML.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { findBucket } from '../core/buckets.ts';
import type { Services } from '../core/services.ts';
import { authenticate, type Authenticator } from '../principals/authenticate.ts';
import { ANONYMOUS } from '../principals/principal.ts';
import type { S3Context, S3Operation, S3Reply } from './context.ts';
import { asS3Error, S3Error } from './errors.ts';
import { getObjectAttributesOp } from './ops/attributes.ts';
import { answerPreflight, corsHeadersFor, deleteBucketCorsOp, getBucketCorsOp, putBucketCorsOp } from './ops/cors.ts';
import {
  deleteBucketOwnershipControlsOp,
  getBucketAclOp,
  getBucketOwnershipControlsOp,
  getObjectAclOp,
  putBucketAclOp,
  putBucketOwnershipControlsOp,
  putObjectAclOp,
} from './ops/acl.ts';
import {
  getBucketAccelerateOp,
  getBucketEncryptionOp,
  getBucketLoggingOp,
  getBucketNotificationOp,
  getBucketReplicationOp,
  getBucketRequestPaymentOp,
  getBucketWebsiteOp,
} from './ops/configuration.ts';
import {
  deleteBucketPolicyOp,
  deletePublicAccessBlockOp,
  getBucketPolicyOp,
  getBucketPolicyStatusOp,
  getPublicAccessBlockOp,
  putBucketPolicyOp,
  putPublicAccessBlockOp,
} from './ops/bucket-policy.ts';
import { createBucketOp, deleteBucketOp, getBucketLocationOp, headBucketOp, listBucketsOp } from './ops/bucket.ts';
import {
  getObjectLegalHoldOp,
  getObjectLockConfigurationOp,
  getObjectRetentionOp,
  putObjectLegalHoldOp,
  putObjectLockConfigurationOp,
  putObjectRetentionOp,
} from './ops/object-lock.ts';
import { getBucketVersioningOp, listObjectVersionsOp, putBucketVersioningOp } from './ops/versioning.ts';
import { copyObjectOp } from './ops/copy.ts';
import { deleteObjectOp, deleteObjectsOp } from './ops/delete.ts';
import { getObjectOp, headObjectOp } from './ops/get.ts';
import { listObjectsOp, listObjectsV2Op } from './ops/list.ts';
import {
  abortMultipartUploadOp,
  completeMultipartUploadOp,
  createMultipartUploadOp,
  listMultipartUploadsOp,
  listPartsOp,
  uploadPartCopyOp,
  uploadPartOp,
} from './ops/multipart.ts';
import { deleteBucketLifecycleOp, getBucketLifecycleOp, putBucketLifecycleOp } from './ops/lifecycle.ts';
import { postObjectOp } from './ops/post-object.ts';
import { putObjectOp } from './ops/put.ts';
import {
  deleteBucketTaggingOp,
  deleteObjectTaggingOp,
  getBucketTaggingOp,
  getObjectTaggingOp,
  putBucketTaggingOp,
  putObjectTaggingOp,
} from './ops/tagging.ts';
import { withBucketPolicy } from './policy-precheck.ts';
import { bucketFromHost, routeS3, type Endpoint } from './router.ts';
import { errorXml } from './xml.ts';
import { classifyFailure, closeIfBodyUnread } from '../http/failure.ts';
import { clientAddress } from '../http/client-address.ts';
import { noteRequest } from '../http/request-log.ts';
import { presignedUrlKey, RateLimited, type RateLimits } from '../http/rate-limit.ts';

const OPERATIONS: Record<Exclude<Endpoint, 'PreflightRequest'>, S3Operation> = {
  ListBuckets: listBucketsOp,
  CreateBucket: createBucketOp,
  DeleteBucket: deleteBucketOp,
  HeadBucket: headBucketOp,
  GetBucketLocation: getBucketLocationOp,
  GetBucketVersioning: getBucketVersioningOp,
  PutBucketVersioning: putBucketVersioningOp,
  GetBucketTagging: getBucketTaggingOp,
  PutBucketTagging: putBucketTaggingOp,
  DeleteBucketTagging: deleteBucketTaggingOp,
  GetBucketLifecycleConfiguration: getBucketLifecycleOp,
  PutBucketLifecycleConfiguration: putBucketLifecycleOp,
  DeleteBucketLifecycle: deleteBucketLifecycleOp,
  GetBucketPolicy: getBucketPolicyOp,
  PutBucketPolicy: putBucketPolicyOp,
  DeleteBucketPolicy: deleteBucketPolicyOp,
  GetBucketPolicyStatus: getBucketPolicyStatusOp,
  GetPublicAccessBlock: getPublicAccessBlockOp,
  PutPublicAccessBlock: putPublicAccessBlockOp,
  DeletePublicAccessBlock: deletePublicAccessBlockOp,
  GetBucketEncryption: getBucketEncryptionOp,
  GetObjectLockConfiguration: getObjectLockConfigurationOp,
  PutObjectLockConfiguration: putObjectLockConfigurationOp,
  GetObjectRetention: getObjectRetentionOp,
  PutObjectRetention: putObjectRetentionOp,
  GetObjectLegalHold: getObjectLegalHoldOp,
  PutObjectLegalHold: putObjectLegalHoldOp,
  GetBucketNotificationConfiguration: getBucketNotificationOp,
  GetBucketWebsite: getBucketWebsiteOp,
  GetBucketReplication: getBucketReplicationOp,
  GetBucketLogging: getBucketLoggingOp,
  GetBucketAccelerateConfiguration: getBucketAccelerateOp,
  GetBucketRequestPayment: getBucketRequestPaymentOp,
  GetBucketAcl: getBucketAclOp,
  GetBucketOwnershipControls: getBucketOwnershipControlsOp,
  PutBucketOwnershipControls: putBucketOwnershipControlsOp,
  DeleteBucketOwnershipControls: deleteBucketOwnershipControlsOp,
  PutBucketAcl: putBucketAclOp,
  GetObjectAcl: getObjectAclOp,
  PutObjectAcl: putObjectAclOp,
  GetObjectTagging: getObjectTaggingOp,
  PutObjectTagging: putObjectTaggingOp,
  DeleteObjectTagging: deleteObjectTaggingOp,
  ListObjects: listObjectsOp,
  ListObjectsV2: listObjectsV2Op,
  ListObjectVersions: listObjectVersionsOp,
  GetObjectAttributes: getObjectAttributesOp,
  GetBucketCors: getBucketCorsOp,
  PutBucketCors: putBucketCorsOp,
  DeleteBucketCors: deleteBucketCorsOp,
  PutObject: putObjectOp,
  GetObject: getObjectOp,
  HeadObject: headObjectOp,
  DeleteObject: deleteObjectOp,
  CopyObject: copyObjectOp,
  DeleteObjects: deleteObjectsOp,
  PostObject: postObjectOp,
  CreateMultipartUpload: createMultipartUploadOp,
  UploadPart: uploadPartOp,
  UploadPartCopy: uploadPartCopyOp,
  CompleteMultipartUpload: completeMultipartUploadOp,
  AbortMultipartUpload: abortMultipartUploadOp,
  ListParts: listPartsOp,
  ListMultipartUploads: listMultipartUploadsOp,
};

/**
 * Endpoints that authenticate themselves rather than by the Authorization
 * header or a presigned URL: POST Object carries its credentials in the form
 * (a SigV4-signed POST policy), which only the operation can read. They get
 * an anonymous context plus the key resolver and must refuse on their own.
 */
const SELF_AUTHENTICATING: ReadonlySet<Endpoint> = new Set<Endpoint>(['PostObject']);

export interface S3Handler {
  (req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface S3Options {
  /** Base domain for virtual-hosted-style addressing. */
  domain?: string;
  /** The signed-URL and principal limits, taken once a request is authenticated (the address limit is http/app.ts's). */
  limits: RateLimits;
}

/** The headers every S3 response carries; returns the request id (also the request log's, http/request-log.ts). */
function stampResponse(req: IncomingMessage, res: ServerResponse): string {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  noteRequest(req, { api: 's3', requestId });
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
  res.setHeader('server', 'aerostore');
  return requestId;
}

/** Answers a request refused before it reached the handler (the address limit, http/app.ts) as S3 does: SlowDown. */
export function refuseS3(storage: Services, req: IncomingMessage, res: ServerResponse, refusal: RateLimited): void {
  sendError(storage, req, res, refusal, stampResponse(req, res));
}

export function createS3Handler(storage: Services, auth: Authenticator, options: S3Options): S3Handler {
  return async (req, res) => {
    const requestId = stampResponse(req, res);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    try {
      const hostBucket = bucketFromHost(req.headers.host, options.domain);
      const route = routeS3(method, url, hostBucket, req.headers);
      noteRequest(req, { op: route.endpoint, bucket: route.bucket, key: route.key });
      if (route.endpoint === 'PreflightRequest') {
        // A CORS preflight carries no credentials (Fetch standard): the bucket's rules alone decide.
        await sendReply(req, res, await answerPreflight(storage, req, route.bucket as string));
        return;
      }
      if (req.headers.origin && route.bucket) {
        // Set before anything can fail, so a browser can read errors too.
        const bucket = await findBucket(storage, route.bucket);
        if (bucket) for (const [name, value] of Object.entries(corsHeadersFor(bucket, req))) res.setHeader(name, value);
      }
      if (SELF_AUTHENTICATING.has(route.endpoint)) {
        const ctx: S3Context = { storage, route, req, res, principal: ANONYMOUS, signature: null, requestId, keys: auth.keys, sigv2: auth.sigv2 };
        await sendReply(req, res, await OPERATIONS[route.endpoint](ctx));
        return;
      }
      // Anonymous requests go on: each operation decides (core/access.ts and RLS).
      const head = { method, url, headers: req.headers, address: clientAddress(req), hostBucket };
      const { principal: signer, signature } = await authenticate(head, auth, { signatureV2: true });
      noteRequest(req, { principal: signer });
      // Verified, and nothing read yet (no body, no database): the URL's limit and its signer's.
      options.limits.admit(req, { signedUrl: signature?.presigned ? presignedUrlKey(signature.seedSignature) : undefined, principal: signer });
      // The request's facts for bucket-policy conditions, and the policy's word on its action (issue 17 §5).
      const principal = await withBucketPolicy(storage, req, route, signer);
      const ctx: S3Context = { storage, route, req, res, principal, signature, requestId };
      const reply = await OPERATIONS[route.endpoint](ctx);
      await sendReply(req, res, reply);
    } catch (err) {
      sendError(storage, req, res, err, requestId);
    }
  };
}

async function sendReply(req: IncomingMessage, res: ServerResponse, reply: S3Reply): Promise<void> {
  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    if (value !== undefined) res.setHeader(name, value);
  }
  const body = reply.body;
  if (body instanceof Readable) {
    res.writeHead(reply.status);
    if (req.method === 'HEAD') {
      body.destroy();
      res.end();
      return;
    }
    await pipeline(body, res);
    return;
  }
  if (body !== undefined) {
    if (!res.hasHeader('content-length')) res.setHeader('content-length', Buffer.byteLength(body));
  } else if (!res.hasHeader('content-length') && reply.status !== 304) {
    res.setHeader('content-length', 0);
  }
  res.writeHead(reply.status);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendError(storage: Services, req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
  try {
    writeError(storage, req, res, err, requestId);
  } catch (failure) {
    // Answering failed too; never let that escape into the server.
    storage.log.error({ err: failure, requestId }, 'could not send an error response');
    res.destroy();
  }
}

function writeError(storage: Services, req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
  const answer = err instanceof RateLimited ? new S3Error('SlowDown') : asS3Error(err);
  const failure = classifyFailure(err, { req, headersSent: res.headersSent, isAnswer: answer !== undefined, log: storage.log, logFields: { requestId } });
  if (failure === 'client-gone' || failure === 'cut-off') {
    res.destroy();
    return;
  }
  const error = answer ?? new S3Error(failure === 'disk-full' ? 'InsufficientStorage' : 'InternalError');
  noteRequest(req, { code: error.code });
  const resource = (req.url ?? '/').split('?')[0];
  const body = errorXml({ code: error.code, message: error.message, resource, requestId, details: error.details });
  for (const name of res.getHeaderNames()) {
    if (!['x-amz-request-id', 'x-amz-id-2', 'server', 'vary'].includes(name) && !name.startsWith('access-control-')) {
      res.removeHeader(name);
    }
  }
  res.setHeader('content-type', 'application/xml');
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  if (err instanceof RateLimited) res.setHeader('retry-after', String(err.retryAfterSeconds));
  closeIfBodyUnread(req, res);
  const payload = req.method === 'HEAD' ? undefined : body;
  res.setHeader('content-length', payload ? Buffer.byteLength(payload) : 0);
  res.writeHead(error.status);
  res.end(payload);
}
