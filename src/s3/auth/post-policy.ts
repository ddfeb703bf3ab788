// POST Object (browser form upload) authentication with a POST policy,
// signed with SigV4 or (legacy) SigV2. References, by AWS doc page name:
//  - "Browser-Based Uploads Using POST (AWS Signature Version 4)"
//  - "Creating a POST Policy" (expiration, conditions, condition matching,
//    character escaping)
//  - "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)"
//  - "Browser-Based Uploads Using POST (AWS Signature Version 2)": the
//    AWSAccessKeyId and signature fields, base64 HMAC-SHA1 of the policy
// Pure: no I/O but the key lookup; the form is parsed by src/s3/ops/post-object.ts.
import { S3Error } from '../errors.ts';
import { signV2 } from '../../principals/sigv2.ts';
import { deriveSigningKey, signaturesEqual, signString, SIGV4_ALGORITHM, type SecretLookup } from '../../principals/sigv4.ts';

/** How a form's policy is signed: SigV4 (x-amz-algorithm, -credential, -date, -signature) or SigV2 (AWSAccessKeyId, signature). */
export type PostSignatureVersion = 2 | 4;

export type PolicyCondition =
  | { kind: 'eq'; field: string; value: string }
  | { kind: 'starts-with'; field: string; prefix: string }
  | { kind: 'content-length-range'; min: number; max: number };

export interface PostPolicy {
  expiration: Date;
  conditions: PolicyCondition[];
}

/**
 * The furthest a policy's expiration may be from its signing (x-amz-date)
 * and from now: seven days, as a presigned URL's X-Amz-Expires (sigv4.ts).
 * A form signed once must not stay a credential for years.
 */
export const MAX_POLICY_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Clock skew allowed when the cap is measured from now (SigV4's 15 minutes). */
const SKEW_MS = 15 * 60 * 1000;

/**
 * Form fields that need no condition: file, policy, x-ignore-* and the
 * signature's own fields (SigV4: x-amz-signature; SigV2: AWSAccessKeyId and
 * signature).
 */
function exemptFromConditions(field: string, version: PostSignatureVersion): boolean {
  if (field === 'file' || field === 'policy' || field.startsWith('x-ignore-')) return true;
  return version === 4 ? field === 'x-amz-signature' : field === 'awsaccesskeyid' || field === 'signature';
}

/**
 * The policy document's JSON with S3's `\$` escape (a literal dollar sign,
 * "Creating a POST Policy": character escaping) read as `$`: JSON itself has
 * no such escape. Only inside strings, and only a backslash that is not
 * itself escaped.
 */
function unescapeDollars(json: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (!inString) {
      if (c === '"') inString = true;
      out += c;
    } else if (c === '\\') {
      const next = json[i + 1] ?? '';
      out += next === '$' ? '$' : c + next;
      i++;
    } else {
      if (c === '"') inString = false;
      out += c;
    }
  }
  return out;
}

function invalidPolicy(message: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${message}`);
}

function denied(message: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${message}`);
}

/** `$Content-Type` → `content-type`: form field names compare case-insensitively. */
function fieldRef(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !raw.startsWith('$') || raw.length < 2) {
    throw invalidPolicy(`Invalid ${where} condition: the field name must start with '$'.`);
  }
  return raw.slice(1).toLowerCase();
}

function lengthBound(raw: unknown): number {
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalidPolicy('Invalid content-length-range condition: bounds must be non-negative integers.');
  }
  return n;
}

/** Base64 JSON → policy, else InvalidPolicyDocument. */
export function decodePolicy(base64: string): PostPolicy {
  const text = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text === '') throw invalidPolicy('Could not decode the policy as base64.');
  let doc: unknown;
  try {
    doc = JSON.parse(unescapeDollars(Buffer.from(text, 'base64').toString('utf8')));
  } catch {
    throw invalidPolicy('Could not parse the policy as JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidPolicy('The policy must be a JSON object.');
  const { expiration, conditions } = doc as Record<string, unknown>;
  if (typeof expiration !== 'string') throw invalidPolicy('Policy missing expiration.');
  // ISO 8601 (S3 examples: 2015-12-30T12:00:00.000Z).
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(expiration) || Number.isNaN(Date.parse(expiration))) {
    throw invalidPolicy(`Invalid 'expiration' value: '${expiration}'`);
  }
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  const parsed: PolicyCondition[] = [];
  for (const c of conditions as unknown[]) {
    if (Array.isArray(c)) {
      const op = typeof c[0] === 'string' ? c[0].toLowerCase() : c[0];
      if (op === 'eq' || op === 'starts-with') {
        if (c.length !== 3 || typeof c[2] !== 'string') throw invalidPolicy(`Invalid ${op} condition: ${JSON.stringify(c)}`);
        const field = fieldRef(c[1], op);
        parsed.push(op === 'eq' ? { kind: 'eq', field, value: c[2] } : { kind: 'starts-with', field, prefix: c[2] });
      } else if (op === 'content-length-range') {
        if (c.length !== 3) throw invalidPolicy(`Invalid content-length-range condition: ${JSON.stringify(c)}`);
        const min = lengthBound(c[1]);
        const max = lengthBound(c[2]);
        if (min > max) throw invalidPolicy('Invalid content-length-range condition: min is above max.');
        parsed.push({ kind: 'content-length-range', min, max });
      } else {
        throw invalidPolicy(`Invalid condition operator: ${JSON.stringify(c[0])}`);
      }
    } else if (typeof c === 'object' && c !== null) {
      const entries = Object.entries(c as Record<string, unknown>);
      if (entries.length !== 1 || typeof entries[0][1] !== 'string') {
        throw invalidPolicy(`Invalid simple condition: ${JSON.stringify(c)}`);
      }
      parsed.push({ kind: 'eq', field: entries[0][0].toLowerCase(), value: entries[0][1] as string });
    } else {
      throw invalidPolicy(`Invalid condition: ${JSON.stringify(c)}`);
    }
  }
  return { expiration: new Date(expiration), conditions: parsed };
}

export interface PolicyCheckResult {
  /** The content-length-range bounds to enforce on the file (the tightest, when several). */
  minLength: number;
  maxLength: number;
}

/** x-amz-date (YYYYMMDDTHHMMSSZ) as a time, if it is one. */
function signedAt(amzDate: string | undefined): number | undefined {
  const m = amzDate === undefined ? null : /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(amzDate);
  if (!m) return undefined;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Checks the form against the policy: not expired, not expiring more than
 * MAX_POLICY_LIFETIME_SECONDS after its x-amz-date or from now (a policy
 * dated in the future is held to now), every condition holds (`bucket`
 * against the request's bucket), and every form field — the bucket counting
 * as one, as on S3 — is covered by a condition. `fields` has lower-cased
 * names; `key` already has `${filename}` substituted. Throws AccessDenied as
 * S3 words it.
 */
export function checkPolicy(
  policy: PostPolicy,
  fields: ReadonlyMap<string, string>,
  bucket: string,
  now = new Date(),
  /** The operator's AEROSTORE_SIGNED_URL_MAX_EXPIRY, when shorter than the week. */
  maxLifetimeSeconds = MAX_POLICY_LIFETIME_SECONDS,
  /** Which signature's fields need no condition. */
  version: PostSignatureVersion = 4,
): PolicyCheckResult {
  const expiration = policy.expiration.getTime();
  if (expiration <= now.getTime()) throw denied('Policy expired.');
  const lifetime = Math.min(maxLifetimeSeconds, MAX_POLICY_LIFETIME_SECONDS);
  const cap = lifetime * 1000;
  const signed = signedAt(fields.get('x-amz-date'));
  if (expiration > now.getTime() + cap + SKEW_MS || (signed !== undefined && expiration > signed + cap)) {
    const limit = lifetime === MAX_POLICY_LIFETIME_SECONDS ? `7 days (${lifetime} seconds)` : `${lifetime} seconds`;
    throw denied(`Policy expiration must be at most ${limit} after x-amz-date, and from now.`);
  }
  const value = (field: string) => (field === 'bucket' ? bucket : fields.get(field));
  const covered = new Set<string>();
  let minLength = 0;
  let maxLength = Number.MAX_SAFE_INTEGER;
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      minLength = Math.max(minLength, c.min);
      maxLength = Math.min(maxLength, c.max);
      continue;
    }
    covered.add(c.field);
    const actual = value(c.field) ?? '';
    if (c.kind === 'eq' ? actual !== c.value : !actual.startsWith(c.prefix)) {
      const shown = c.kind === 'eq' ? c.value : c.prefix;
      throw denied(`Policy Condition failed: ["${c.kind}", "$${c.field}", ${JSON.stringify(shown)}]`);
    }
  }
  const inputs = fields.has('bucket') ? [...fields.keys()] : ['bucket', ...fields.keys()];
  const extra = inputs.filter((f) => !exemptFromConditions(f, version) && !covered.has(f));
  if (extra.length) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return { minLength, maxLength };
}

export interface PostCredential {
  accessKeyId: string;
  date: string;
  region: string;
}

/** x-amz-credential: `<key id>/<yyyymmdd>/<region>/s3/aws4_request`. */
export function parsePostCredential(raw: string, region: string): PostCredential {
  const parts = raw.split('/');
  if (parts.length !== 5 || parts[0] === '' || !/^\d{8}$/.test(parts[1]) || parts[3] !== 's3' || parts[4] !== 'aws4_request') {
    throw new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  if (parts[2] !== region) {
    throw new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; the region '${parts[2]}' is wrong; expecting '${region}'`);
  }
  return { accessKeyId: parts[0], date: parts[1], region: parts[2] };
}

/** The form's signature: hex HMAC-SHA256 of the base64 policy under the SigV4 signing key. */
export function postPolicySignature(secretAccessKey: string, date: string, region: string, policyBase64: string): string {
  return signString(deriveSigningKey(secretAccessKey, date, region), policyBase64);
}

function missingField(name: string): S3Error {
  return new S3Error('InvalidArgument', `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, {
    ArgumentName: name,
    ArgumentValue: '',
  });
}

const SIGV4_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'];

export interface VerifiedPostSignature {
  accessKeyId: string;
  version: PostSignatureVersion;
}

/**
 * Verifies the form's signature of its policy: SigV4 when it carries any of
 * the x-amz-algorithm, -credential, -date, -signature fields; else SigV2
 * (AWSAccessKeyId and signature) when `sigv2` allows it (AEROSTORE_SIGV2),
 * which is otherwise answered as S3 regions without SigV2 answer it.
 */
export async function verifyPostSignature(
  fields: ReadonlyMap<string, string>,
  lookup: SecretLookup,
  opts: { region: string; sigv2: boolean },
): Promise<VerifiedPostSignature> {
  const policy = fields.get('policy');
  if (policy === undefined) throw new S3Error('AccessDenied');
  if (!SIGV4_FIELDS.some((name) => fields.has(name))) {
    if (opts.sigv2) return { accessKeyId: await verifyPostSignatureV2(fields, policy, lookup), version: 2 };
    if (fields.has('awsaccesskeyid') || fields.has('signature')) {
      throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
  }
  return { accessKeyId: await verifyPostSignatureV4(fields, policy, lookup, opts.region), version: 4 };
}

/** SigV2: `signature` is the base64 HMAC-SHA1 of the base64 policy under the secret of `AWSAccessKeyId`. */
async function verifyPostSignatureV2(fields: ReadonlyMap<string, string>, policy: string, lookup: SecretLookup): Promise<string> {
  const accessKeyId = fields.get('awsaccesskeyid');
  if (accessKeyId === undefined) throw missingField('AWSAccessKeyId');
  const provided = fields.get('signature');
  if (provided === undefined) throw missingField('signature');
  const secret = await lookup(accessKeyId);
  if (!secret) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  if (!signaturesEqual(signV2(secret.secretAccessKey, policy), provided)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId, StringToSign: policy, SignatureProvided: provided });
  }
  return accessKeyId;
}

/** SigV4: x-amz-algorithm, x-amz-credential, x-amz-date and x-amz-signature against the policy. */
async function verifyPostSignatureV4(fields: ReadonlyMap<string, string>, policy: string, lookup: SecretLookup, region: string): Promise<string> {
  for (const name of SIGV4_FIELDS) {
    if (!fields.has(name)) throw missingField(name);
  }
  const algorithm = fields.get('x-amz-algorithm');
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new S3Error('InvalidArgument', 'Unsupported x-amz-algorithm: only AWS4-HMAC-SHA256 is supported.', {
      ArgumentName: 'x-amz-algorithm',
      ArgumentValue: String(algorithm),
    });
  }
  const credential = parsePostCredential(fields.get('x-amz-credential') as string, region);
  const amzDate = fields.get('x-amz-date') as string;
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(credential.date)) {
    throw new S3Error('InvalidArgument', 'x-amz-date must be YYYYMMDDTHHMMSSZ on the date of the credential scope.', {
      ArgumentName: 'x-amz-date',
      ArgumentValue: amzDate,
    });
  }
  const secret = await lookup(credential.accessKeyId);
  if (!secret) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
  const expected = postPolicySignature(secret.secretAccessKey, credential.date, credential.region, policy);
  if (!signaturesEqual(expected, fields.get('x-amz-signature') as string)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy });
  }
  return credential.accessKeyId;
}
