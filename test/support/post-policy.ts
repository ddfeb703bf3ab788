// Builds the signed fields of a browser POST upload form (SigV4 POST policy),
// computed independently of the server's code: the SigV4 key derivation by
// hand on node:crypto, as in "Browser-Based Uploads Using POST (AWS Signature
// Version 4)".
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
