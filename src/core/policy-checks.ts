// Requests the built-in presets (core/access.ts) do not admit may still be
// admitted by a policy of the operator's own (README "The access model"):
// the presets are a fast path, Postgres the judge. Before a body is read,
// these ask it (migration 0022):
//   a write    — a trial of the would-be objects row under the principal's
//                role and claims, undone at once (storage.may_write_object);
//   a listing, a delete, a retag — whether a permissive policy of the
//                operator's for that command applies to the principal's role
//                (storage.custom_policies_apply), or the bucket's policy
//                (migration 0023) could admit it; the statement that follows
//                runs under RLS, which admits the rows.
// Every row is then decided again by row-level security at commit.
import { readAs } from '../db/session.ts';
import type { Principal } from '../principals/principal.ts';
import type { BucketRow } from './bucket.ts';
import { canList, canWrite } from './access.ts';
import { DomainError } from './errors.ts';
import type { Services } from './services.ts';

/** What a write would make the objects row: what the request already says before its body. */
export interface WouldBeObject {
  key: string;
  /** The object's owner once written (core/object-acl.ts ownerOnWrite). */
  owner: string | null;
  acl: readonly string[] | null;
  contentType?: string;
  /** The declared size, when the request declares one. */
  size?: number;
  userMetadata?: Record<string, string>;
  /** False for a create-only write (a /storage/v1 upload without x-upsert): only the insert policy is asked. */
  overwrite?: boolean;
}

function denied(): DomainError {
  return new DomainError('AccessDenied');
}

/** Whether the policies would let `p` write `row` into `bucket`. */
export async function mayWrite(storage: Services, bucket: BucketRow, p: Principal, row: WouldBeObject): Promise<boolean> {
  if (canWrite(bucket, p)) return true;
  // The anonymous role writes nothing (migration 0015): no policy can change that.
  if (p.kind === 'anonymous') return false;
  const [r] = await readAs(storage.sql, p, (tx) => tx<{ ok: boolean }[]>`
    select storage.may_write_object(${bucket.id}, ${bucket.name}, ${row.key}, ${row.owner}, ${row.acl as string[] | null}::text[],
      ${row.contentType ?? null}, ${row.size ?? null}, ${row.userMetadata ? tx.json(row.userMetadata) : null},
      ${row.overwrite ?? true}) as ok`, { trialWrite: true });
  return r.ok;
}

export async function requireWriteOf(storage: Services, bucket: BucketRow, p: Principal, row: WouldBeObject): Promise<void> {
  if (!(await mayWrite(storage, bucket, p, row))) throw denied();
}

type Command = 'SELECT' | 'UPDATE' | 'DELETE';

/** The bucket policy's action for each command the policies decide (storage.bucket_policy_effect). */
const ACTION: Record<Command, string> = { SELECT: 's3:listbucket', UPDATE: 's3:putobject', DELETE: 's3:deleteobject' };

/**
 * Whether the statement for `command` should run, RLS deciding its rows:
 * one of the operator's permissive policies for it applies to `p`'s role,
 * or the bucket has a policy that does not deny it outright. A listing
 * needs the policy's Allow of s3:ListBucket; a delete or retag runs
 * whenever the bucket has a policy, which RLS then applies key by key.
 */
async function policiesMayAdmit(storage: Services, bucket: BucketRow, p: Principal, command: Command): Promise<boolean> {
  const [r] = await readAs(storage.sql, p, (tx) => tx<{ custom: boolean; effect: string | null }[]>`
    select storage.custom_policies_apply('objects', ${command}) as custom,
      ${bucket.has_policy ? tx`storage.bucket_policy_effect(${bucket.id}, ${ACTION[command]}, null)` : tx`null::text`} as effect`);
  if (r.effect === 'deny') return false;
  return r.custom || r.effect === 'allow' || (bucket.has_policy === true && command !== 'SELECT');
}

// The service role never gets here: the presets admit it (canList, canWrite).

/** Lists the bucket: the presets, or a policy that may admit rows of it (RLS then shows the rows it admits). */
export async function requireListing(storage: Services, bucket: BucketRow, p: Principal): Promise<void> {
  if (canList(bucket, p)) return;
  if (!(await policiesMayAdmit(storage, bucket, p, 'SELECT'))) throw denied();
}

/**
 * Changes existing objects of the bucket without writing new content
 * (delete, retag): the presets, or a policy that may admit the command —
 * RLS then decides each row.
 */
export async function requireChangeOf(storage: Services, bucket: BucketRow, p: Principal, command: 'UPDATE' | 'DELETE'): Promise<void> {
  if (canWrite(bucket, p)) return;
  if (p.kind === 'anonymous' || !(await policiesMayAdmit(storage, bucket, p, command))) throw denied();
}
