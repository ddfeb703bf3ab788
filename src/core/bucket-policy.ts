// Bucket policies (issue 17 §5): the IAM policy language as S3 reads it,
// parsed and validated here and compiled into a normalised list of
// statements that Postgres evaluates (migration 0023,
// storage.bucket_policy_effect; docs/architecture.md "Bucket policies").
// Nothing here decides a request: this module turns a document into data
// and answers questions about the document itself (is it public?).
//
// Principals. A policy names this server's principals by
//   "*" or {"AWS": "*"}                      anyone, anonymous included
//   {"CanonicalUser": "<uuid>"}               a user, by its canonical id (its user id)
//   {"AWS": "arn:aws:iam::<any>:user/<uuid>"} the same user as an IAM user ARN; the
//                                             account field is not checked (one
//                                             server, one account)
//   {"CanonicalUser": "aerostore"}            the root key — accepted, but the service
//                                             role is not subject to bucket policies,
//                                             as an AWS account's root user is not
//                                             subject to its own bucket's policy
// Resources are this bucket's ARNs only: arn:aws:s3:::<bucket> and
// arn:aws:s3:::<bucket>/<key pattern>. Anything else ("*", another bucket,
// "arn:aws:s3:::<bucket>*") is "Policy has invalid resource", as on S3, so a
// policy can never speak of another bucket.
import { isIP } from 'node:net';
import type { Principal, PolicyVerdict } from '../principals/principal.ts';
import type { BucketRow } from './bucket.ts';

/** A policy S3 would refuse: 400 MalformedPolicy with S3's message. */
export class MalformedPolicy extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPolicy';
  }
}

/** S3 refuses bucket policies larger than 20 KB. */
export const MAX_POLICY_BYTES = 20 * 1024;

export interface CompiledCondition {
  /** The operator without qualifier and IfExists, lower case: 'stringequals', 'ipaddress', 'null'. */
  op: string;
  /** The condition key, lower case (keys are case-insensitive): 'aws:sourceip', 's3:existingobjecttag/team'. */
  key: string;
  /** The values: LIKE patterns for *like operators, lower case for *ignorecase and bool, ISO times for dates. */
  values: string[];
  ifExists: boolean;
  /** ForAnyValue / ForAllValues: the key is a set. */
  set: 'any' | 'all' | null;
}

export interface CompiledStatement {
  sid: string | null;
  effect: 'Allow' | 'Deny';
  /** Canonical ids the statement names (user uuids, 'aerostore'); null: anyone ("*"). */
  principals: string[] | null;
  notPrincipal: boolean;
  /** Lower-case LIKE patterns over action names ('s3:get%'). */
  actions: string[];
  notAction: boolean;
  /**
   * LIKE patterns over the resource relative to the bucket: '' is the bucket,
   * '/<key>' an object. Policy variables stay as ${aws:userid} /
   * ${aws:username} (a literal $ or { is escaped, so only variables read so).
   */
  resources: string[];
  notResource: boolean;
  conditions: CompiledCondition[];
}

export interface CompiledPolicy {
  statements: CompiledStatement[];
  /** S3's "public" (Block Public Access, GetBucketPolicyStatus). */
  isPublic: boolean;
}

// S3's actions, split by what they apply to (the "Resource types" column of
// the Service Authorization Reference for Amazon S3): an object action needs
// an object ARN in the statement, a bucket action the bucket's ARN.
const OBJECT_ACTIONS = [
  'AbortMultipartUpload', 'BypassGovernanceRetention', 'DeleteObject', 'DeleteObjectTagging', 'DeleteObjectVersion',
  'DeleteObjectVersionTagging', 'GetObject', 'GetObjectAcl', 'GetObjectAttributes', 'GetObjectLegalHold',
  'GetObjectRetention', 'GetObjectTagging', 'GetObjectTorrent', 'GetObjectVersion', 'GetObjectVersionAcl',
  'GetObjectVersionAttributes', 'GetObjectVersionForReplication', 'GetObjectVersionTagging', 'GetObjectVersionTorrent',
  'ListMultipartUploadParts', 'ObjectOwnerOverrideToBucketOwner', 'PutObject', 'PutObjectAcl', 'PutObjectLegalHold',
  'PutObjectRetention', 'PutObjectTagging', 'PutObjectVersionAcl', 'PutObjectVersionTagging', 'ReplicateDelete',
  'ReplicateObject', 'ReplicateTags', 'RestoreObject',
];
const BUCKET_ACTIONS = [
  'CreateBucket', 'DeleteBucket', 'DeleteBucketOwnershipControls', 'DeleteBucketPolicy', 'DeleteBucketWebsite',
  'GetAccelerateConfiguration', 'GetBucketAcl', 'GetBucketCORS', 'GetBucketLocation', 'GetBucketLogging',
  'GetBucketNotification', 'GetBucketObjectLockConfiguration', 'GetBucketOwnershipControls', 'GetBucketPolicy',
  'GetBucketPolicyStatus', 'GetBucketPublicAccessBlock', 'GetBucketRequestPayment', 'GetBucketTagging',
  'GetBucketVersioning', 'GetBucketWebsite', 'GetEncryptionConfiguration', 'GetLifecycleConfiguration',
  'GetReplicationConfiguration', 'ListBucket', 'ListBucketMultipartUploads', 'ListBucketVersions',
  'PutAccelerateConfiguration', 'PutBucketAcl', 'PutBucketCORS', 'PutBucketLogging', 'PutBucketNotification',
  'PutBucketObjectLockConfiguration', 'PutBucketOwnershipControls', 'PutBucketPolicy', 'PutBucketPublicAccessBlock',
  'PutBucketRequestPayment', 'PutBucketTagging', 'PutBucketVersioning', 'PutBucketWebsite', 'PutEncryptionConfiguration',
  'PutLifecycleConfiguration', 'PutReplicationConfiguration',
];
const OBJECT_ACTION_NAMES = OBJECT_ACTIONS.map((a) => `s3:${a.toLowerCase()}`);
const BUCKET_ACTION_NAMES = BUCKET_ACTIONS.map((a) => `s3:${a.toLowerCase()}`);

/**
 * The operators, lower case, without IfExists. Negated ones match when the
 * key is absent (IAM: "If the key … is not present … the condition is true"
 * for negated operators; false for the others).
 */
const OPERATORS = new Set([
  'stringequals', 'stringnotequals', 'stringequalsignorecase', 'stringnotequalsignorecase', 'stringlike', 'stringnotlike',
  'numericequals', 'numericnotequals', 'numericlessthan', 'numericlessthanequals', 'numericgreaterthan', 'numericgreaterthanequals',
  'dateequals', 'datenotequals', 'datelessthan', 'datelessthanequals', 'dategreaterthan', 'dategreaterthanequals',
  'bool', 'ipaddress', 'notipaddress', 'arnequals', 'arnnotequals', 'arnlike', 'arnnotlike', 'null',
]);

/**
 * The condition keys this server knows how to fill (docs/architecture.md
 * "Bucket policies": where each comes from). Tag keys take a suffix.
 */
const CONDITION_KEYS = new Set([
  'aws:sourceip', 'aws:securetransport', 'aws:referer', 'aws:useragent', 'aws:currenttime', 'aws:epochtime',
  'aws:principaltype', 'aws:userid', 'aws:username', 's3:prefix', 's3:delimiter', 's3:max-keys', 's3:x-amz-acl',
  's3:x-amz-server-side-encryption', 's3:requestobjecttagkeys',
  // Accepted so that policies written for AWS load; never present here, so
  // they fail closed (an Allow on them never matches).
  'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourcearn', 'aws:sourceaccount', 'aws:sourceowner', 'aws:principalaccount',
  'aws:principalarn', 'aws:principalorgid', 'aws:viaawsservice', 's3:authtype', 's3:signatureversion', 's3:tlsversion',
  's3:x-amz-content-sha256', 's3:x-amz-server-side-encryption-aws-kms-key-id',
]);
const TAG_KEY_PREFIXES = ['s3:existingobjecttag/', 's3:requestobjecttag/'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USER_ARN = /^arn:aws:iam::[^:]*:user\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const ROOT_CANONICAL_ID = 'aerostore';
const VARIABLES = new Set(['aws:userid', 'aws:username']);

const SYNTAX = 'Invalid policy syntax.';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A string or a non-empty list of strings (IAM's "one or many"). */
function strings(v: unknown, message: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((s) => typeof s === 'string')) throw new MalformedPolicy(message);
  return list as string[];
}

/** Escapes a literal for LIKE (backslash escape), and `$` and `{` so that only variables read as `${…}`. */
function likeLiteral(s: string): string {
  return s.replace(/[\\%_${]/g, (c) => '\\' + c);
}

/**
 * A wildcard pattern (`*` any run, `?` one character) as a LIKE pattern.
 * With `variables`, `${aws:userid}` / `${aws:username}` stay for Postgres to
 * fill and `${*}`, `${?}`, `${$}` are the literal characters (IAM's escapes);
 * any other `${…}` is refused through `invalid`.
 */
function wildcardPattern(s: string, variables: boolean, invalid: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (variables && c === '$' && s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end === -1) throw new MalformedPolicy(invalid);
      const name = s.slice(i + 2, end);
      if (name === '*' || name === '?' || name === '$') out += likeLiteral(name);
      else if (VARIABLES.has(name.toLowerCase())) out += '${' + name.toLowerCase() + '}';
      else throw new MalformedPolicy(invalid);
      i = end;
    } else if (c === '*') out += '%';
    else if (c === '?') out += '_';
    else out += likeLiteral(c);
  }
  return out;
}

type LikeToken = { any: true } | { one: true } | { char: string };

function likeTokens(pattern: string): LikeToken[] {
  const out: LikeToken[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') out.push({ char: pattern[++i] });
    else if (c === '%') out.push({ any: true });
    else if (c === '_') out.push({ one: true });
    else out.push({ char: c });
  }
  return out;
}

/**
 * Whether `text` matches a LIKE pattern, as Postgres would (to test action
 * patterns against S3's action names here). The two-pointer wildcard match:
 * no regular expression, no backtracking beyond the last `%`.
 */
export function likeMatches(pattern: string, text: string): boolean {
  const p = likeTokens(pattern);
  let [ti, pi, star, mark] = [0, 0, -1, 0];
  while (ti < text.length) {
    const t = p[pi];
    if (t && ('one' in t || ('char' in t && t.char === text[ti]))) {
      ti++;
      pi++;
    } else if (t && 'any' in t) {
      star = pi++;
      mark = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && 'any' in p[pi]) pi++;
  return pi === p.length;
}

function compilePrincipal(v: unknown): string[] | null {
  const invalid = 'Invalid principal in policy';
  if (v === '*') return null;
  if (!isObject(v)) throw new MalformedPolicy(invalid);
  const ids: string[] = [];
  for (const [type, value] of Object.entries(v)) {
    const list = strings(value, invalid);
    if (type === 'AWS') {
      for (const s of list) {
        if (s === '*') return null;
        const m = USER_ARN.exec(s);
        if (!m) throw new MalformedPolicy(invalid);
        ids.push(m[1].toLowerCase());
      }
    } else if (type === 'CanonicalUser') {
      for (const s of list) {
        if (s === ROOT_CANONICAL_ID) ids.push(s);
        else if (UUID.test(s)) ids.push(s.toLowerCase());
        else throw new MalformedPolicy(invalid);
      }
    } else {
      // Service, Federated: no such principals here.
      throw new MalformedPolicy(invalid);
    }
  }
  if (ids.length === 0) throw new MalformedPolicy(invalid);
  return [...new Set(ids)];
}

function compileAction(a: string): string {
  const invalid = 'Policy has invalid action';
  if (a === '*') return '%';
  if (!/^s3:[A-Za-z0-9*?-]+$/i.test(a)) throw new MalformedPolicy(invalid);
  const pattern = wildcardPattern(a.toLowerCase(), false, invalid);
  if (![...OBJECT_ACTION_NAMES, ...BUCKET_ACTION_NAMES].some((n) => likeMatches(pattern, n))) throw new MalformedPolicy(invalid);
  return pattern;
}

/** `arn:aws:s3:::<bucket>[/<key pattern>]` → its pattern relative to the bucket ('' or '/…'). */
function compileResource(r: string, bucket: string, variables: boolean): string {
  const invalid = 'Policy has invalid resource';
  const prefix = `arn:aws:s3:::${bucket}`;
  if (!r.startsWith(prefix)) throw new MalformedPolicy(invalid);
  const rest = r.slice(prefix.length);
  if (rest !== '' && !rest.startsWith('/')) throw new MalformedPolicy(invalid);
  return wildcardPattern(rest, variables, invalid);
}

/** Whether some action the patterns admit applies to some resource the patterns name (S3's check). */
function actionsApply(actions: string[], notAction: boolean, resources: string[], notResource: boolean): boolean {
  const admitted = (names: string[]) => names.some((n) => actions.some((a) => likeMatches(a, n)) !== notAction);
  // NotResource names everything but: it reaches both kinds.
  const bucketNamed = notResource || resources.includes('');
  const objectNamed = notResource || resources.some((p) => p.startsWith('/'));
  return (bucketNamed && admitted(BUCKET_ACTION_NAMES)) || (objectNamed && admitted(OBJECT_ACTION_NAMES));
}

function isNegated(op: string): boolean {
  return op.includes('not') && op !== 'null';
}

/** An IPv4 or IPv6 address with an optional prefix length, as Postgres's inet reads it. */
function cidr(v: string): string {
  const [address, bits, extra] = v.split('/');
  const family = isIP(address);
  if (extra !== undefined || family === 0) throw new MalformedPolicy(SYNTAX);
  if (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))) throw new MalformedPolicy(SYNTAX);
  return bits === undefined ? address : `${address}/${bits}`;
}

function conditionValue(op: string, raw: Json): string {
  if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
  if (typeof raw !== 'string') throw new MalformedPolicy(SYNTAX);
  if (op.startsWith('string') || op.startsWith('arn')) {
    if (op.endsWith('like')) return wildcardPattern(raw, true, SYNTAX);
    return op.endsWith('ignorecase') ? raw.toLowerCase() : raw;
  }
  if (op.startsWith('numeric')) {
    if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw new MalformedPolicy(SYNTAX);
    return raw.trim();
  }
  if (op.startsWith('date')) {
    // ISO 8601, or epoch seconds (IAM accepts both).
    const t = /^\d+$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
    if (!Number.isFinite(t)) throw new MalformedPolicy(SYNTAX);
    return new Date(t).toISOString();
  }
  if (op === 'bool' || op === 'null') {
    const v = raw.toLowerCase();
    if (v !== 'true' && v !== 'false') throw new MalformedPolicy(SYNTAX);
    return v;
  }
  return cidr(raw); // ipaddress, notipaddress
}

function compileConditions(v: unknown): CompiledCondition[] {
  if (v === undefined) return [];
  if (!isObject(v)) throw new MalformedPolicy(SYNTAX);
  const out: CompiledCondition[] = [];
  for (const [rawOp, block] of Object.entries(v)) {
    let op = rawOp.toLowerCase();
    let set: CompiledCondition['set'] = null;
    if (op.startsWith('foranyvalue:')) [set, op] = ['any', op.slice('foranyvalue:'.length)];
    else if (op.startsWith('forallvalues:')) [set, op] = ['all', op.slice('forallvalues:'.length)];
    const ifExists = op.endsWith('ifexists') && op !== 'null';
    if (ifExists) op = op.slice(0, -'ifexists'.length);
    if (!OPERATORS.has(op)) throw new MalformedPolicy(`Invalid Condition type : ${rawOp}`);
    if (!isObject(block)) throw new MalformedPolicy(SYNTAX);
    for (const [rawKey, values] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      const known = CONDITION_KEYS.has(key) || TAG_KEY_PREFIXES.some((p) => key.startsWith(p) && key.length > p.length);
      if (!known) throw new MalformedPolicy('Policy has an invalid condition key');
      const list = Array.isArray(values) ? values : [values];
      if (list.length === 0) throw new MalformedPolicy(SYNTAX);
      out.push({ op, key, values: list.map((x) => conditionValue(op, x)), ifExists, set });
    }
  }
  return out;
}

const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);

function compileStatement(s: unknown, bucket: string, variables: boolean): CompiledStatement {
  if (!isObject(s)) throw new MalformedPolicy(SYNTAX);
  for (const field of Object.keys(s)) if (!STATEMENT_FIELDS.has(field)) throw new MalformedPolicy(`Unknown field ${field}`);
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw new MalformedPolicy(SYNTAX);
  if (s.Effect === undefined) throw new MalformedPolicy('Missing required field Effect');
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new MalformedPolicy('Invalid effect: ' + String(s.Effect));
  const one = (a: string, b: string) => {
    if (s[a] !== undefined && s[b] !== undefined) throw new MalformedPolicy(SYNTAX);
    if (s[a] === undefined && s[b] === undefined) {
      throw new MalformedPolicy(a === 'Principal' ? 'Missing required field Principal' : 'Statement is missing required element');
    }
    return s[a] !== undefined ? { value: s[a], not: false } : { value: s[b], not: true };
  };
  const principal = one('Principal', 'NotPrincipal');
  const action = one('Action', 'NotAction');
  const resource = one('Resource', 'NotResource');
  const actions = [...new Set(strings(action.value, 'Policy has invalid action').map(compileAction))];
  const resources = [...new Set(strings(resource.value, 'Policy has invalid resource').map((r) => compileResource(r, bucket, variables)))];
  if (!actionsApply(actions, action.not, resources, resource.not)) {
    throw new MalformedPolicy('Action does not apply to any resource(s) in statement');
  }
  return {
    sid: (s.Sid as string | undefined) ?? null,
    effect: s.Effect,
    principals: compilePrincipal(principal.value),
    notPrincipal: principal.not,
    actions,
    notAction: action.not,
    resources,
    notResource: resource.not,
    conditions: compileConditions(s.Condition),
  };
}

/**
 * Parses, validates and compiles a bucket policy for `bucket`. Throws
 * MalformedPolicy with S3's message for anything S3 would refuse.
 */
export function compilePolicy(text: string, bucket: string): CompiledPolicy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new MalformedPolicy('Policies cannot exceed 20 KB in size');
  if (!text.trimStart().startsWith('{')) throw new MalformedPolicy("Policies must be valid JSON and the first byte must be '{'");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new MalformedPolicy("Policies must be valid JSON and the first byte must be '{'");
  }
  if (!isObject(doc)) throw new MalformedPolicy(SYNTAX);
  for (const field of Object.keys(doc)) if (!['Version', 'Id', 'Statement'].includes(field)) throw new MalformedPolicy(`Unknown field ${field}`);
  const version = doc.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') throw new MalformedPolicy(SYNTAX);
  if (doc.Id !== undefined && typeof doc.Id !== 'string') throw new MalformedPolicy(SYNTAX);
  if (doc.Statement === undefined) throw new MalformedPolicy('Missing required field Statement');
  const list = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if (list.length === 0) throw new MalformedPolicy('Could not parse the policy: Statement is empty!');
  // Policy variables came with version 2012-10-17; before it, ${…} is literal text.
  const statements = list.map((s) => compileStatement(s, bucket, version === '2012-10-17'));
  const sids = statements.map((s) => s.sid).filter((s) => s !== null);
  if (new Set(sids).size !== sids.length) throw new MalformedPolicy('Statement IDs (SID) in a single policy must be unique');
  return { statements, isPublic: statements.some(isPublicStatement) };
}

// ---------------------------------------------------------------------------
// "Public" (S3 user guide, "The meaning of 'public'"): a policy is public
// unless each Allow of a "bad action" (s3:Get*, s3:List*, s3:Put*,
// s3:Delete*, s3:AbortMultipartUpload, s3:RestoreObject) is for fixed
// principals, or is narrowed by a condition on fixed values: aws:SourceIp
// CIDRs (no wider than /8 for IPv4, /32 for IPv6, as S3 counts wider ranges
// public), aws:userid, aws:SourceArn/Vpc/Vpce/Owner/Account.

const BAD_ACTIONS = ['s3:get', 's3:list', 's3:put', 's3:delete'];
const FIXING_KEYS = new Set(['aws:userid', 'aws:sourcearn', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceowner', 'aws:sourceaccount']);

function grantsBadAction(s: CompiledStatement): boolean {
  if (s.notAction) return true;
  return [...OBJECT_ACTION_NAMES, ...BUCKET_ACTION_NAMES]
    .filter((n) => BAD_ACTIONS.some((b) => n.startsWith(b)) || n === 's3:abortmultipartupload' || n === 's3:restoreobject')
    .some((n) => s.actions.some((a) => likeMatches(a, n)));
}

function narrowIp(value: string): boolean {
  const [address, bits] = value.split('/');
  const family = isIP(address);
  return bits === undefined || Number(bits) >= (family === 4 ? 8 : 32);
}

function fixesPrincipal(c: CompiledCondition): boolean {
  if (c.ifExists || c.set === 'all') return false;
  if (c.key === 'aws:sourceip') return c.op === 'ipaddress' && c.values.every(narrowIp);
  if (!FIXING_KEYS.has(c.key)) return false;
  if (c.op === 'stringequals' || c.op === 'arnequals' || c.op === 'stringequalsignorecase') return true;
  // A Like pattern without wildcards is a fixed value too.
  return (c.op === 'stringlike' || c.op === 'arnlike') && c.values.every((v) => !/(?<!\\)[%_]/.test(v));
}

export function isPublicStatement(s: CompiledStatement): boolean {
  if (s.effect !== 'Allow' || !grantsBadAction(s)) return false;
  const anyone = s.principals === null ? !s.notPrincipal : s.notPrincipal;
  if (!anyone) return false;
  return !s.conditions.some(fixesPrincipal);
}

// ---------------------------------------------------------------------------
// Block Public Access (issue 17 §6).

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

export const PUBLIC_ACCESS_FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

export const NO_BLOCK: PublicAccessBlock = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

/**
 * AEROSTORE_BLOCK_PUBLIC_ACCESS: 'true'/'all' sets all four flags, 'false'/''
 * none, or a comma-separated list of the flags to set.
 */
export function parseBlockPublicAccess(value: string | undefined): PublicAccessBlock {
  const v = (value ?? '').trim();
  if (v === '' || /^(false|off|0|none)$/i.test(v)) return { ...NO_BLOCK };
  if (/^(true|on|1|all)$/i.test(v)) return { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
  const out = { ...NO_BLOCK };
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const flag = PUBLIC_ACCESS_FLAGS.find((f) => f.toLowerCase() === part.toLowerCase());
    if (!flag) throw new Error(`AEROSTORE_BLOCK_PUBLIC_ACCESS: unknown setting ${part} (expected true, false or a list of ${PUBLIC_ACCESS_FLAGS.join(', ')})`);
    out[flag] = true;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The pre-checks' view (core/access.ts).

/**
 * The bucket policy's word on this request, for the pre-check `use`:
 * 'allow' widens it, 'deny' refuses even the bucket owner's user, null
 * leaves it to the built-in rules. Asked of Postgres before the operation
 * ran (s3/policy-precheck.ts), only for buckets that have a policy.
 */
export function policyVerdict(bucket: Pick<BucketRow, 'id'>, p: Principal, use: PolicyVerdict['use']): 'allow' | 'deny' | null {
  const v = p.policyVerdict;
  return v !== undefined && v.bucketId === bucket.id && v.use === use ? v.effect : null;
}
