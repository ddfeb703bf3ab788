// Bucket lifecycle rules (S3 PutBucketLifecycleConfiguration; Amazon S3 User
// Guide, "Lifecycle configuration elements"): their validation with S3's
// errors, which objects a rule applies to, and when an object falls due —
// the x-amz-expiration header's date and the lifecycle pass's cut-offs
// (maintenance/lifecycle.ts). Protocol-neutral: s3/ops/lifecycle.ts reads
// and writes the XML.
import { randomUUID } from 'node:crypto';
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { changeBucket, COLUMNS, requireBucket } from './buckets.ts';
import type { BucketRow, LifecycleFilter, LifecycleRule } from './bucket.ts';
import type { Services } from './services.ts';

/** "A lifecycle configuration can have up to 1,000 rules. This limit is not adjustable." */
export const MAX_LIFECYCLE_RULES = 1000;
/** "The ID element ... can be up to 255 characters long." */
export const MAX_RULE_ID = 255;
/** The largest size a filter names: S3 answers a size beyond it with InvalidRequest. */
export const MAX_FILTER_SIZE = 1_099_511_627_776_000;
const DAY_MS = 86_400_000;

/** A rule as a document gives it, before validation: numbers may be anything, parts may be missing. */
export interface LifecycleRuleInput {
  id?: string;
  status?: string;
  prefix?: string;
  filter?: LifecycleFilter;
  expiration?: { days?: number; date?: Date; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays?: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation?: number };
  /** The rule has Transition or NoncurrentVersionTransition actions. */
  transitions?: boolean;
}

/**
 * An ISO 8601 date or date-time (`2026-01-31`, `2026-01-31T12:00:00Z`, an
 * offset; no offset: UTC), as xs:dateTime writes it; undefined for anything
 * else, a day the month does not have included (JavaScript would roll
 * 2030-02-31 over to March 3).
 */
export function parseIsoTime(text: string): Date | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const calendar = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (calendar.getUTCMonth() !== Number(mo) - 1 || calendar.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const offset = zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const t = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac.slice(0, 4)}${offset}`);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

const positive = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n > 0;
const malformed = (why?: string) => new DomainError('MalformedXML', why);
const invalidRequest = (message: string) => new DomainError('InvalidRequest', message);
const invalidArgument = (message: string, name?: string, value?: string) =>
  new DomainError('InvalidArgument', message, name !== undefined ? { ArgumentName: name, ArgumentValue: value ?? '' } : undefined);

const usesTags = (f: LifecycleFilter | undefined) => (f?.tags?.length ?? 0) > 0;
const usesSizes = (f: LifecycleFilter | undefined) => f?.sizeGreaterThan !== undefined || f?.sizeLessThan !== undefined;

/**
 * Checks rules as S3 does and gives each an ID (a rule written without one
 * gets a generated one, as S3 gives it). The first fault found is the
 * answer, in S3's order: the number of rules and their IDs, then each rule.
 * Codes and words are S3's (its error table lists "At least one lifecycle
 * rule must be specified." and the 1,000-rule limit under InvalidRequest).
 */
export function validateLifecycleRules(given: readonly LifecycleRuleInput[]): LifecycleRule[] {
  if (given.length === 0) throw invalidRequest('At least one lifecycle rule must be specified.');
  if (given.length > MAX_LIFECYCLE_RULES) {
    throw invalidRequest(`The number of lifecycle rules must not exceed the allowed limit of ${MAX_LIFECYCLE_RULES} rules.`);
  }
  const ids = new Set<string>();
  for (const rule of given) {
    if (rule.id === undefined || rule.id === '') continue;
    if (rule.id.length > MAX_RULE_ID) throw invalidArgument(`ID length should not exceed allowed limit of ${MAX_RULE_ID}`, 'ID', rule.id);
    if (ids.has(rule.id)) throw invalidArgument('Rule ID must be unique. Found same ID for more than one rule', 'ID', rule.id);
    ids.add(rule.id);
  }
  // "Lifecycle V2": a configuration whose first rule has a Filter; the rules
  // of one configuration are all of one form.
  const v2 = given[0].filter !== undefined;
  const rules = given.map((rule) => validateRule(rule, v2));
  if (!v2) refuseOverlappingPrefixes(rules);
  return rules;
}

function validateRule(rule: LifecycleRuleInput, v2: boolean): LifecycleRule {
  if (rule.status !== 'Enabled' && rule.status !== 'Disabled') throw malformed('Status must be Enabled or Disabled.');
  if (rule.prefix === undefined && rule.filter === undefined) throw malformed('A rule needs a Filter (or, in the older form, a Prefix).');
  if (rule.prefix !== undefined && v2) {
    throw invalidRequest('Base level prefix cannot be used in Lifecycle V2, prefixes are only supported in the Filter.');
  }
  if (rule.filter !== undefined && !v2) throw invalidRequest('Filter element can only be used in Lifecycle V2.');
  if (rule.filter) validateFilter(rule.filter);
  const { expiration: exp, noncurrentVersionExpiration: nc, abortIncompleteMultipartUpload: abort } = rule;
  if (!exp && !nc && !abort && !rule.transitions) throw invalidRequest('At least one action needs to be specified in a rule');

  const out: LifecycleRule = {
    id: rule.id || Buffer.from(randomUUID()).toString('base64'),
    enabled: rule.status === 'Enabled',
    ...(rule.prefix !== undefined ? { prefix: rule.prefix } : { filter: rule.filter }),
  };
  if (exp) {
    const forms = [exp.days, exp.date, exp.expiredObjectDeleteMarker].filter((v) => v !== undefined).length;
    if (forms !== 1) {
      throw malformed(
        exp.expiredObjectDeleteMarker !== undefined && forms > 1
          ? 'ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.'
          : 'An Expiration names one of Days, Date and ExpiredObjectDeleteMarker.',
      );
    }
    if (exp.days !== undefined) {
      if (!positive(exp.days)) throw invalidArgument("'Days' for Expiration action must be a positive integer", 'Days', String(exp.days));
      out.expiration = { days: exp.days };
    } else if (exp.date !== undefined) {
      if (Number.isNaN(exp.date.getTime())) throw malformed("'Date' must be an ISO 8601 date.");
      if (exp.date.getTime() % DAY_MS !== 0) throw invalidArgument("'Date' must be at midnight GMT", 'Date', exp.date.toISOString());
      out.expiration = { date: exp.date.toISOString() };
    } else {
      if (usesTags(rule.filter)) throw invalidRequest('ExpiredObjectDeleteMarker cannot be specified with Tags.');
      if (usesSizes(rule.filter)) throw invalidRequest('ExpiredObjectDeleteMarker cannot be specified with Object Size.');
      out.expiration = { expiredObjectDeleteMarker: exp.expiredObjectDeleteMarker };
    }
  }
  if (nc) {
    if (nc.noncurrentDays === undefined) throw malformed('A NoncurrentVersionExpiration needs NoncurrentDays.');
    if (!positive(nc.noncurrentDays)) {
      throw invalidArgument("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer", 'NoncurrentDays', String(nc.noncurrentDays));
    }
    out.noncurrentVersionExpiration = { noncurrentDays: nc.noncurrentDays };
    if (nc.newerNoncurrentVersions !== undefined) {
      if (!v2) throw invalidRequest('NewerNoncurrentVersions element can only be used in Lifecycle V2.');
      if (!positive(nc.newerNoncurrentVersions)) {
        throw invalidArgument("'NewerNoncurrentVersions' must be a positive integer", 'NewerNoncurrentVersions', String(nc.newerNoncurrentVersions));
      }
      out.noncurrentVersionExpiration.newerNoncurrentVersions = nc.newerNoncurrentVersions;
    }
  }
  if (abort) {
    if (abort.daysAfterInitiation === undefined) throw malformed('An AbortIncompleteMultipartUpload needs DaysAfterInitiation.');
    if (!positive(abort.daysAfterInitiation)) {
      throw invalidArgument(
        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        'DaysAfterInitiation',
        String(abort.daysAfterInitiation),
      );
    }
    // An upload has neither tags nor a size yet.
    if (usesTags(rule.filter)) throw invalidRequest('AbortIncompleteMultipartUpload cannot be specified with Tags.');
    if (usesSizes(rule.filter)) throw invalidRequest('AbortIncompleteMultipartUpload cannot be specified with Object Size.');
    out.abortIncompleteMultipartUpload = { daysAfterInitiation: abort.daysAfterInitiation };
  }
  // Every object here is in one storage class: there is nothing to move it to.
  if (rule.transitions) {
    throw new DomainError('NotSupported', 'This server keeps every object in one storage class: Transition and NoncurrentVersionTransition are not implemented.');
  }
  return out;
}

function validateFilter(f: LifecycleFilter): void {
  const keys = new Set<string>();
  for (const tag of f.tags ?? []) {
    if (tag.key === '') throw malformed('A Tag needs a Key.');
    if (keys.has(tag.key)) throw invalidRequest('Duplicate Tag Keys are not allowed.');
    keys.add(tag.key);
  }
  const gt = f.sizeGreaterThan;
  const lt = f.sizeLessThan;
  if (gt !== undefined && !(Number.isSafeInteger(gt) && gt >= 0 && gt <= MAX_FILTER_SIZE)) {
    throw invalidRequest(`'ObjectSizeGreaterThan' should be between 0 and ${MAX_FILTER_SIZE}.`);
  }
  if (lt !== undefined && !(Number.isSafeInteger(lt) && lt >= 1 && lt <= MAX_FILTER_SIZE)) {
    throw invalidRequest(`'ObjectSizeLessThan' should be between 1 and ${MAX_FILTER_SIZE}.`);
  }
  if (gt !== undefined && lt !== undefined && lt <= gt) {
    throw invalidRequest("'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.");
  }
}

/**
 * Before Lifecycle V2, S3 refused two rules whose prefixes overlap (one
 * begins the other) taking the same kind of action: "Found overlapping
 * prefixes 'a' and 'ab' for same action type 'Expiration'".
 */
function refuseOverlappingPrefixes(rules: readonly LifecycleRule[]): void {
  const kinds: Array<[string, (r: LifecycleRule) => boolean]> = [
    ['Expiration', (r) => r.expiration !== undefined],
    ['NoncurrentVersionExpiration', (r) => r.noncurrentVersionExpiration !== undefined],
    ['AbortIncompleteMultipartUpload', (r) => r.abortIncompleteMultipartUpload !== undefined],
  ];
  for (const [kind, takes] of kinds) {
    // Sorted, a prefix that begins another begins its successor: neighbours suffice.
    const prefixes = rules.filter(takes).map((r) => r.prefix ?? '').sort();
    for (let i = 1; i < prefixes.length; i++) {
      if (prefixes[i].startsWith(prefixes[i - 1])) {
        throw invalidRequest(`Found overlapping prefixes '${prefixes[i - 1]}' and '${prefixes[i]}' for same action type '${kind}'`);
      }
    }
  }
}

/** What a rule's filter looks at: a version's key, size and tags. */
export interface LifecycleSubject {
  key: string;
  size: number;
  tags: Record<string, string>;
}

/** Whether the rule's Prefix or Filter takes in this object (its status aside). */
export function ruleApplies(rule: LifecycleRule, o: LifecycleSubject): boolean {
  if (rule.prefix !== undefined) return o.key.startsWith(rule.prefix);
  const f = rule.filter ?? {};
  return (
    (f.prefix === undefined || o.key.startsWith(f.prefix)) &&
    (f.tags ?? []).every((t) => Object.hasOwn(o.tags, t.key) && o.tags[t.key] === t.value) &&
    (f.sizeGreaterThan === undefined || o.size > f.sizeGreaterThan) &&
    (f.sizeLessThan === undefined || o.size < f.sizeLessThan)
  );
}

/**
 * When something created at `created` is due under a rule of `days` days:
 * "Amazon S3 calculates the time by adding the number of days specified in
 * the rule to the object creation time and rounding up the resulting time
 * to the next day midnight UTC" (User Guide, "Lifecycle rules: Based on an
 * object's age"): created 1/15 10:30 UTC, 3 days, due 1/19 00:00 UTC.
 */
export function dueDate(created: Date, days: number): Date {
  return new Date((Math.floor(created.getTime() / DAY_MS) + days + 1) * DAY_MS);
}

/**
 * The cut-off for the pass: at `now`, a version created (or become
 * noncurrent, or an upload initiated) before this is due under a rule of
 * `days` days — dueDate(t, days) <= now exactly when t < cutoff.
 */
export function dueCutoff(now: Date, days: number): Date {
  return new Date((Math.floor(now.getTime() / DAY_MS) - days) * DAY_MS);
}

/** A current version's expiration: the earliest date an enabled Expiration rule gives it, and that rule. */
export function currentExpiration(
  rules: readonly LifecycleRule[] | null | undefined,
  o: LifecycleSubject & { lastModified: Date },
): { date: Date; ruleId: string } | undefined {
  let found: { date: Date; ruleId: string } | undefined;
  for (const rule of rules ?? []) {
    const exp = rule.expiration;
    if (!rule.enabled || !exp || (exp.days === undefined && exp.date === undefined) || !ruleApplies(rule, o)) continue;
    const date = exp.days !== undefined ? dueDate(o.lastModified, exp.days) : new Date(exp.date as string);
    if (!found || date < found.date) found = { date, ruleId: rule.id };
  }
  return found;
}

/**
 * The `x-amz-expiration` header for a current version, when a rule expires
 * it: `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`
 * (S3 API, GetObject/HeadObject/PutObject responses). An ID that a quoted
 * header value cannot carry as is goes percent-encoded.
 */
export function expirationHeader(
  bucket: Pick<BucketRow, 'lifecycle'>,
  o: LifecycleSubject & { updated_at: Date; delete_marker?: boolean },
): string | undefined {
  // Current-version Expiration only: a row from object_versions (it has
  // delete_marker; current rows do not) is a past version, read by id.
  if (!bucket.lifecycle || o.delete_marker !== undefined) return undefined;
  const due = currentExpiration(bucket.lifecycle, { ...o, lastModified: o.updated_at });
  if (!due) return undefined;
  const id = /^[\x20-\x7e]*$/.test(due.ruleId) && !/["\\]/.test(due.ruleId) ? due.ruleId : encodeURIComponent(due.ruleId);
  return `expiry-date="${due.date.toUTCString()}", rule-id="${id}"`;
}

/** Sets (validated) or removes (null) the bucket's lifecycle configuration; the bucket's owner's. */
export async function setBucketLifecycle(
  storage: Services,
  bucketName: string,
  principal: Principal,
  rules: readonly LifecycleRuleInput[] | null,
): Promise<BucketRow> {
  const bucket = await requireBucket(storage, bucketName);
  const valid = rules === null ? null : validateLifecycleRules(rules);
  return changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set lifecycle = ${valid === null ? null : tx.json(valid as never)} where id = ${bucket.id}
    returning ${COLUMNS(tx)}`);
}
