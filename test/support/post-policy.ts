// Builds the signed fields of a browser POST upload form (SigV4 or SigV2 POST
// policy), computed independently of the server's code: the SigV4 key
// derivation by hand on node:crypto, as in "Browser-Based Uploads Using POST
// (AWS Signature Version 4)", and SigV2's HMAC-SHA1 ("… (AWS Signature
// Version 2)"); and multipart bodies built by hand, for the shapes FormData
// cannot make (every part with a filename, a file part without one).
import { createHmac } from 'node:crypto';

export type PolicyConditionInput = Record<string, string> | readonly unknown[];

export interface SignPostPolicyInput {
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** Conditions besides the credential, algorithm and date ones, which are added. */
  conditions?: readonly PolicyConditionInput[];
  /** Default: one hour after `now`. */
  expiration?: Date | string;
  now?: Date;
  /** A raw policy document (JSON text) to sign as is, instead of building one. */
  rawPolicy?: string;
}

/** The form fields to send with the others: x-amz-algorithm, -credential, -date, policy, x-amz-signature. */
export interface SignedPostFields {
  'x-amz-algorithm': string;
  'x-amz-credential': string;
  'x-amz-date': string;
  policy: string;
  'x-amz-signature': string;
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

export function signPostPolicy(input: SignPostPolicyInput): SignedPostFields {
  const now = input.now ?? new Date();
  const region = input.region ?? 'us-east-1';
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const credential = `${input.accessKeyId}/${date}/${region}/s3/aws4_request`;
  const expiration = input.expiration ?? new Date(now.getTime() + 3_600_000);
  const document =
    input.rawPolicy ??
    JSON.stringify({
      expiration: typeof expiration === 'string' ? expiration : expiration.toISOString(),
      conditions: [
        ...(input.conditions ?? []),
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': amzDate },
      ],
    });
  const policy = Buffer.from(document, 'utf8').toString('base64');
  const signingKey = hmac(hmac(hmac(hmac('AWS4' + input.secretAccessKey, date), region), 's3'), 'aws4_request');
  return {
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': credential,
    'x-amz-date': amzDate,
    policy,
    'x-amz-signature': createHmac('sha256', signingKey).update(policy, 'utf8').digest('hex'),
  };
}

/**
 * A FormData with the fields in order, then the signed fields, then `file`
 * last (as S3 requires). Works with global fetch (undici) and in browsers.
 */
export function postForm(fields: Record<string, string>, signed: SignedPostFields, file: { data: string | Uint8Array; filename?: string; type?: string }): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, value] of Object.entries(signed)) form.append(name, value);
  const blob = new Blob([file.data], { type: file.type ?? 'application/octet-stream' });
  form.append('file', blob, file.filename ?? 'upload.bin');
  return form;
}

/** The signed fields of a SigV2 POST form: AWSAccessKeyId, policy, signature (base64 HMAC-SHA1 of the base64 policy). */
export interface SignedPostFieldsV2 {
  AWSAccessKeyId: string;
  policy: string;
  signature: string;
}

/** A SigV2 POST policy: the conditions as given (no credential conditions: SigV2 has none), expiring in an hour by default. */
export function signPostPolicyV2(input: Omit<SignPostPolicyInput, 'region'> & { sessionToken?: string }): SignedPostFieldsV2 {
  const now = input.now ?? new Date();
  const expiration = input.expiration ?? new Date(now.getTime() + 3_600_000);
  const document =
    input.rawPolicy ??
    JSON.stringify({
      expiration: typeof expiration === 'string' ? expiration : expiration.toISOString(),
      conditions: [...(input.conditions ?? []), ...(input.sessionToken ? [{ 'x-amz-security-token': input.sessionToken }] : [])],
    });
  const policy = Buffer.from(document, 'utf8').toString('base64');
  return { AWSAccessKeyId: input.accessKeyId, policy, signature: createHmac('sha1', input.secretAccessKey).update(policy, 'utf8').digest('base64') };
}

export interface FormPart {
  name: string;
  value: string | Uint8Array;
  /** Present: the part carries `filename="…"` (requests' files= gives every part one). */
  filename?: string;
  type?: string;
}

/** A multipart/form-data body built by hand, parts in order, exactly as given. */
export function multipartBody(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
  const boundary = `----aerostore${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const type = p.type ? `Content-Type: ${p.type}\r\n` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`, 'utf8'));
    chunks.push(typeof p.value === 'string' ? Buffer.from(p.value, 'utf8') : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
