// POST Object: an HTML form upload (multipart/form-data) authenticated by a
// POST policy in the form itself, signed with SigV4 or SigV2 ("Browser-Based
// Uploads Using POST"), or anonymous (no policy) where anonymous writes are
// allowed. The fields before `file` are read (20 KB at most, as S3); every
// part but `file` is a field, whether or not it carries a filename (Python
// requests' files=, several JavaScript form helpers send them so). The file
// part is streamed through the ordinary write path (putObject: hashes, dedup,
// checksums, events) and never held in memory. Fields after the file are
// ignored, as S3 ignores them.
import { versionHeader } from './versioning.ts';
import { lockFromHeaders } from './object-lock.ts';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { cannedAcl } from '../../core/acl.ts';
import { requireBucket } from '../../core/buckets.ts';
import { parseRequestedChecksum } from '../../core/checksums.ts';
import { putObject } from '../../core/objects.ts';
import { pipeToForm } from '../../http/forms.ts';
import { actingFrom, ANONYMOUS, type Principal } from '../../principals/principal.ts';
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
/**
 * A `file` part without a filename is a text field to busboy, read into
 * memory: S3 takes it as the file ("file or text content"), up to this here.
 */
const MAX_TEXT_FILE = 1024 * 1024;
/** Fields that make a form a signed one; a form with none of them is anonymous. */
const CREDENTIAL_FIELDS = ['policy', 'awsaccesskeyid', 'signature', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-signature'];
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

/** A part's bytes, up to `limit` (the rest is read and dropped), and whether there was more. */
function readPart(stream: Readable, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    stream.on('data', (chunk: Buffer) => {
      if (truncated) return;
      size += chunk.length;
      if (size > limit) truncated = true;
      else chunks.push(chunk);
    });
    stream.on('end', () => resolve({ bytes: Buffer.concat(chunks), truncated }));
    stream.on('error', reject);
  });
}

export const postObjectOp: S3Operation = async (ctx) => {
  if (!isMultipartForm(ctx.req.headers['content-type'])) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' });
  }
  // A missing bucket is NoSuchBucket before a byte of the form is read, whatever the form says.
  await requireBucket(ctx.storage, bucketOf(ctx));
  // The form carries the credentials: the body is read to authenticate (its first read answers 100 Continue).
  return new Promise<S3Reply>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: ctx.req.headers,
        preservePath: true,
        // Values as bytes (latin1 keeps them all): a field is read as UTF-8, a text `file` kept as sent.
        defCharset: 'latin1',
        // Browsers send a non-ASCII name or filename as raw UTF-8.
        defParamCharset: 'utf8',
        limits: { fieldSize: MAX_TEXT_FILE, fields: 1000, files: 1000 },
      });
    } catch {
      reject(new S3Error('MalformedPOSTRequest'));
      return;
    }
    const fields = new Map<string, string>();
    /** Fields arriving as file parts, still being read; the file waits for them. */
    const pending: Array<Promise<void>> = [];
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
    const addField = (name: string, bytes: Buffer, truncated: boolean) => {
      if (failed) return;
      const value = bytes.toString('utf8');
      preData += Buffer.byteLength(name) + bytes.length;
      if (truncated || preData > MAX_PRE_DATA) {
        fail(new S3Error('MaxPostPreDataLengthExceededError', undefined, { MaxPostPreDataLength: String(MAX_PRE_DATA) }));
        return;
      }
      const lower = name.toLowerCase();
      if (fields.has(lower)) {
        fail(new S3Error('InvalidArgument', `POST form fields may not be repeated: ${name}`, { ArgumentName: name, ArgumentValue: value }));
        return;
      }
      fields.set(lower, value);
    };
    /** The file part: once the fields before it are all in, stored; whatever follows it is ignored. */
    const store = (file: Readable, filename: string) => {
      started = true;
      void Promise.all(pending).then(() => {
        if (failed) {
          file.resume();
          return;
        }
        storeFile(ctx, fields, file, filename).then(
          (reply) => {
            // Whatever follows the file is ignored; let the form finish.
            ctx.req.resume();
            resolve(reply);
          },
          (err) => {
            // Drain what is left of the file so busboy (and the socket) can move on.
            file.resume();
            fail(err);
          },
        );
      });
    };
    bb.on('field', (name, value, info) => {
      if (started || failed) return;
      // A part whose Content-Disposition has no name arrives without one (busboy's types say otherwise).
      if (typeof name !== 'string') {
        fail(new S3Error('MalformedPOSTRequest'));
        return;
      }
      const bytes = Buffer.from(value, 'latin1');
      if (name.toLowerCase() !== 'file') {
        addField(name, bytes, info.valueTruncated);
        return;
      }
      // `file` as text content (no filename): the file, from memory.
      if (info.valueTruncated) {
        fail(
          new S3Error('EntityTooLarge', `A file part without a filename is limited to ${MAX_TEXT_FILE} bytes here: send the file with a filename.`, {
            MaxSizeAllowed: String(MAX_TEXT_FILE),
          }),
        );
        return;
      }
      store(Readable.from([bytes]), '');
    });
    bb.on('file', (name, stream, info) => {
      // A form cut off inside a part fails that part's stream too: without a
      // listener the error is uncaught and takes the process down (an
      // anonymous request could). Registered first, so the answer is this.
      stream.on('error', () => fail(new S3Error('MalformedPOSTRequest')));
      if (started || failed || typeof name !== 'string') {
        stream.resume();
        return;
      }
      if (name.toLowerCase() !== 'file') {
        // Any other part is a field, filename or not.
        pending.push(readPart(stream, MAX_PRE_DATA).then(({ bytes, truncated }) => addField(name, bytes, truncated), () => {}));
        return;
      }
      store(stream, info.filename ?? '');
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      bb.on(limit, () => fail(new S3Error('MaxPostPreDataLengthExceededError', undefined, { MaxPostPreDataLength: String(MAX_PRE_DATA) })));
    }
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

  const { principal, range } = await formPrincipal(ctx, fields, bucket);

  // Everything the form says about the object, read as the matching PutObject headers would be.
  const asHeaders = Object.fromEntries(fields);
  const headers = objectHeadersFrom(asHeaders, fields.get('content-encoding') || undefined);
  // The form's canned ACL, as x-amz-acl on PutObject.
  const aclField = fields.get('acl');
  const acl = aclField === undefined ? undefined : { canned: cannedAcl(aclField, 'acl') };
  // Object lock fields, named as the headers are (S3 POST Object).
  const lockField = (name: string) => fields.get(name);
  const lock = lockFromHeaders({
    'x-amz-object-lock-mode': lockField('x-amz-object-lock-mode'),
    'x-amz-object-lock-retain-until-date': lockField('x-amz-object-lock-retain-until-date'),
    'x-amz-object-lock-legal-hold': lockField('x-amz-object-lock-legal-hold'),
  });
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
  const { object, bucket: row } = await putObject(ctx.storage, {
    bucket,
    key,
    body,
    headers,
    tags,
    // The name the browser gave the file (without any path).
    filename: filename.replace(/^.*[\\/]/, '') || undefined,
    principal,
    expected: { checksum: algorithm && { algorithm, value: requested.expected } },
    acl,
    lock,
  });

  const etag = object.etag;
  const location = objectUrl(ctx, bucket, key);
  const echo = { ...checksumEcho(object.checksums, { type: true }), ...versionHeader(row, object.version) };
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

/**
 * Who the form acts as, and the file's length bounds. A signed form acts as
 * its access key's principal as resolved now, at upload time (a deleted key or
 * an expired STS session fails here), and putObject checks that principal's
 * write right on the bucket as it is now: like S3, the policy names the bucket
 * only by name, and what it may reach is what its signer may reach when it is
 * used. Its expiration is capped at 7 days (checkPolicy). A form without a
 * policy or credentials is anonymous: putObject allows it where anonymous
 * writes are allowed.
 */
async function formPrincipal(ctx: S3Context, fields: ReadonlyMap<string, string>, bucket: string): Promise<{ principal: Principal; range: { minLength: number; maxLength: number } }> {
  if (!CREDENTIAL_FIELDS.some((name) => fields.has(name))) {
    return { principal: actingFrom(ANONYMOUS, clientAddress(ctx.req)), range: { minLength: 0, maxLength: Number.MAX_SAFE_INTEGER } };
  }
  let principal: Principal | undefined;
  const keys = ctx.keys;
  if (!keys) throw new S3Error('AccessDenied');
  const { version } = await verifyPostSignature(
    fields,
    async (id) => {
      const resolved = await keys.resolve(id, fields.get('x-amz-security-token'));
      principal = resolved && actingFrom(resolved.principal, clientAddress(ctx.req));
      return resolved && { accessKeyId: id, secretAccessKey: resolved.secretAccessKey };
    },
    { region: ctx.storage.region, sigv2: ctx.sigv2 === true },
  );
  const policy = decodePolicy(fields.get('policy') as string);
  const range = checkPolicy(policy, fields, bucket, new Date(), ctx.storage.signedUrlMaxExpiry, version);
  return { principal: principal as Principal, range };
}

function objectUrl(ctx: S3Context, bucket: string, key: string): string {
  return `${requestOrigin(ctx.req)}/${encodeURIComponent(bucket)}/${encodeKeyForUrl(key)}`;
}

/** A key as a URL path: each segment percent-encoded, slashes kept. */
function encodeKeyForUrl(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
