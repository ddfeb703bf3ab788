// POST Object: an HTML form upload (multipart/form-data) authenticated by a
// SigV4 POST policy in the form itself ("Browser-Based Uploads Using POST").
// The fields before `file` are read (20 KB at most, as S3); the file part is
// streamed through the ordinary write path (putObject: hashes, dedup,
// checksums, events) and never held in memory. Fields after the file are
// ignored, as S3 ignores them.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { policyFromCannedAcl } from '../../core/acl.ts';
import { parseRequestedChecksum } from '../../core/checksums.ts';
import { putObject } from '../../core/objects.ts';
import { pipeToForm } from '../../http/forms.ts';
import { actingFrom, type Principal } from '../../principals/principal.ts';
import { clientAddress } from '../../http/client-address.ts';
import { checkPolicy, decodePolicy, verifyPostSignature } from '../auth/post-policy.ts';
import { bucketOf, xmlReply, type S3Context, type S3Operation, type S3Reply } from '../context.ts';
import { S3Error } from '../errors.ts';
import { objectHeadersFrom } from './put.ts';
import { parseTaggingXml } from './tagging.ts';
import { toXml } from '../xml.ts';
import { checksumEcho } from '../../core/integrity.ts';
import { requestOrigin } from '../../http/origin.ts';

/** S3 refuses a form whose fields before the file exceed 20 KB. */
const MAX_PRE_DATA = 20 * 1024;
/** A refused form up to this size is drained before the error is sent. */
const DRAIN_LIMIT = 1024 * 1024;

/** Counts the file's bytes and enforces the policy's content-length-range as they pass. */
class LengthRange extends Transform {
  private size = 0;
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.max) {
      done(new S3Error('EntityTooLarge', undefined, { ProposedSize: String(this.size), MaxSizeAllowed: String(this.max) }));
      return;
    }
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.size < this.min) {
      done(new S3Error('EntityTooSmall', undefined, { ProposedSize: String(this.size), MinSizeAllowed: String(this.min) }));
      return;
    }
    done();
  }
}

function isMultipartForm(contentType: string | undefined): boolean {
  return typeof contentType === 'string' && /^multipart\/form-data\s*;/i.test(contentType.trim());
}

export const postObjectOp: S3Operation = async (ctx) => {
  if (!isMultipartForm(ctx.req.headers['content-type'])) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' });
  }
  // The form carries the credentials: the body is read to authenticate (its first read answers 100 Continue).
  return new Promise<S3Reply>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.req.headers, preservePath: true, limits: { fieldSize: MAX_PRE_DATA, fields: 1000, files: 100 } });
    } catch {
      reject(new S3Error('MalformedPOSTRequest'));
      return;
    }
    const fields = new Map<string, string>();
    let preData = 0;
    let started = false;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      // A small form is read to its end before the error goes out, so the
      // client (still sending) gets the answer rather than a reset; a large
      // one is cut off (the handler closes the connection). A request already
      // gone has no 'end' or 'close' left to wait for.
      const length = Number(ctx.req.headers['content-length']);
      if (ctx.req.complete || ctx.req.destroyed || !(length <= DRAIN_LIMIT)) {
        reject(err);
        return;
      }
      const done = () => reject(err);
      ctx.req.unpipe(bb);
      ctx.req.once('end', done);
      ctx.req.once('close', done);
      ctx.req.once('error', done);
      ctx.req.resume();
    };
    bb.on('field', (name, value, info) => {
      if (started || failed) return;
      // A part whose Content-Disposition has no name arrives without one (busboy's types say otherwise).
      if (typeof name !== 'string') {
        fail(new S3Error('MalformedPOSTRequest'));
        return;
      }
      preData += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (info.valueTruncated || preData > MAX_PRE_DATA) {
        fail(new S3Error('MaxPostPreDataLengthExceededError', undefined, { MaxPostPreDataLength: String(MAX_PRE_DATA) }));
        return;
      }
      const lower = name.toLowerCase();
      if (fields.has(lower)) {
        fail(new S3Error('InvalidArgument', `POST form fields may not be repeated: ${name}`, { ArgumentName: name, ArgumentValue: value }));
        return;
      }
      fields.set(lower, value);
    });
    bb.on('file', (name, stream, info) => {
      // A form cut off inside a part fails that part's stream too: without a
      // listener the error is uncaught and takes the process down (an
      // anonymous request could). Registered first, so the answer is this.
      stream.on('error', () => fail(new S3Error('MalformedPOSTRequest')));
      if (started || failed || typeof name !== 'string' || name.toLowerCase() !== 'file') {
        stream.resume();
        return;
      }
      started = true;
      storeFile(ctx, fields, stream, info.filename ?? '').then(
        (reply) => {
          // Whatever follows the file is ignored; let the form finish.
          ctx.req.resume();
          resolve(reply);
        },
        (err) => {
          // Drain what is left of the file so busboy (and the socket) can move on.
          stream.resume();
          fail(err);
        },
      );
    });
    bb.on('error', () => fail(new S3Error('MalformedPOSTRequest')));
    bb.on('close', () => {
      if (!started) fail(new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' }));
    });
    ctx.req.on('error', (err) => fail(err));
    pipeToForm(ctx.req, bb);
  });
};

async function storeFile(ctx: S3Context, fields: Map<string, string>, file: Readable, filename: string): Promise<S3Reply> {
  const bucket = bucketOf(ctx);
  if (!fields.has('key')) {
    throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", {
      ArgumentName: 'key',
      ArgumentValue: '',
    });
  }
  // ${filename}: the name the browser gave the file (without any path).
  const key = (fields.get('key') as string).replaceAll('${filename}', filename.replace(/^.*[\\/]/, ''));
  fields.set('key', key);
  if (key === '') throw new S3Error('InvalidArgument', 'User key must have a length greater than 0.', { ArgumentName: 'key', ArgumentValue: '' });

  // The policy acts as its access key's principal as resolved now, at upload
  // time (a deleted key or an expired STS session fails here), and putObject
  // checks that principal's write right on the bucket as it is now: like S3,
  // the policy names the bucket only by name, and what it may reach is what
  // its signer may reach when it is used. Its expiration is capped at 7 days
  // (checkPolicy).
  let principal: Principal | undefined;
  const keys = ctx.keys;
  if (!keys) throw new S3Error('AccessDenied');
  await verifyPostSignature(
    fields,
    async (id) => {
      const resolved = await keys.resolve(id, fields.get('x-amz-security-token'));
      principal = resolved && actingFrom(resolved.principal, clientAddress(ctx.req));
      return resolved && { accessKeyId: id, secretAccessKey: resolved.secretAccessKey };
    },
    ctx.storage.region,
  );
  const policy = decodePolicy(fields.get('policy') as string);
  const range = checkPolicy(policy, fields, bucket, new Date(), ctx.storage.signedUrlMaxExpiry);

  // Everything the form says about the object, read as the matching PutObject headers would be.
  const asHeaders = Object.fromEntries(fields);
  const headers = objectHeadersFrom(asHeaders, fields.get('content-encoding') || undefined);
  const acl = fields.get('acl');
  if (acl !== undefined) policyFromCannedAcl(acl);
  const tagging = fields.get('tagging');
  const tags = tagging === undefined ? undefined : parseTaggingXml(tagging);
  const requested = parseRequestedChecksum(Object.fromEntries([...fields].filter(([name]) => name.startsWith('x-amz-checksum-'))));
  const algorithm = requested?.algorithm;

  const body = new LengthRange(range.minLength, range.maxLength);
  file.on('error', (err) => body.destroy(err));
  // putObject's ingest reads that error from the destroyed stream; a form cut
  // off before ingest listens (the bucket and key still being checked) must
  // not be an 'error' event nobody hears.
  body.on('error', () => {});
  file.pipe(body);
  const { object } = await putObject(ctx.storage, {
    bucket,
    key,
    body,
    headers,
    tags,
    // The name the browser gave the file (without any path).
    filename: filename.replace(/^.*[\\/]/, '') || undefined,
    principal: principal as Principal,
    expected: { checksum: algorithm && { algorithm, value: requested.expected } },
  });

  const etag = object.etag;
  const location = objectUrl(ctx, bucket, key);
  const echo = checksumEcho(object.checksums, { type: true });
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect) {
    let target: URL | undefined;
    try {
      target = new URL(redirect);
    } catch {
      target = undefined;
    }
    if (target && (target.protocol === 'http:' || target.protocol === 'https:')) {
      target.searchParams.set('bucket', bucket);
      target.searchParams.set('key', key);
      target.searchParams.set('etag', etag);
      return { status: 303, headers: { location: target.toString(), etag, ...echo } };
    }
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const reply = xmlReply(toXml('PostResponse', { Location: location, Bucket: bucket, Key: key, ETag: etag }, false), 201);
    return { ...reply, headers: { ...reply.headers, etag, location, ...echo } };
  }
  return { status: status === '200' ? 200 : 204, headers: { etag, location, ...echo } };
}

function objectUrl(ctx: S3Context, bucket: string, key: string): string {
  return `${requestOrigin(ctx.req)}/${encodeURIComponent(bucket)}/${encodeKeyForUrl(key)}`;
}

/** A key as a URL path: each segment percent-encoded, slashes kept. */
function encodeKeyForUrl(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
