// Buckets: naming rules, create, delete, lookup, settings. Buckets are always
// created explicitly; nothing else creates one as a side effect.
import type { TransactionSql } from '../db/connect.ts';
import { asPrincipal, readAs, SERVICE } from '../db/session.ts';
import { isService, ownerId, type Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import { requireAdminister, rethrowRefusal } from './access.ts';
import type { BucketPolicy, ObjectOwnership } from './bucket.ts';
import { type Services } from './services.ts';
import { BUCKET_COLUMNS, type BucketRow } from './bucket.ts';
import { recordEvents } from '../events/record.ts';

/**
 * Names the service keeps for itself. S3 owns the root of the URL space
 * (`/<bucket>/<key>`), and the service's own APIs live under the same root
 * (`/admin/v1`, `/storage/v1`, `/health/...`; a console and metrics will
 * follow): no bucket may be named like one of them, by either protocol.
 * src/http/dispatch.ts refuses to start if one of its prefixes is not here.
 */
export const RESERVED_BUCKET_NAMES: ReadonlySet<string> = new Set(['admin', 'storage', 'health', 'console', 'metrics']);

/**
 * Buckets created before their name was reserved: they keep working, but
 * path-style requests for their keys under a service prefix (`admin/v1/…`)
 * reach the service instead. Said once at start-up (server.ts).
 */
export async function warnOfReservedBucketNames(storage: Pick<Services, 'sql' | 'log'>): Promise<void> {
  const rows = await readAs(storage.sql, SERVICE, (tx) => tx<{ name: string }[]>`
    select name from storage.buckets where name = any(${[...RESERVED_BUCKET_NAMES]}::text[])`);
  for (const { name } of rows) {
    storage.log.warn({ bucket: name }, 'a bucket has a reserved name: path-style requests for its keys under the service prefixes reach the service (docs/security.md); copy its objects to another bucket');
  }
}

/**
 * General-purpose bucket naming rules
 * (Amazon S3 User Guide, "Bucket naming rules"), and the reserved names above.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (RESERVED_BUCKET_NAMES.has(name)) {
    return `The bucket name "${name}" is reserved for the service's own APIs (reserved names: ${[...RESERVED_BUCKET_NAMES].join(', ')}).`;
  }
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long.';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'Bucket names can consist only of lowercase letters, numbers, dots and hyphens, and must begin and end with a letter or number.';
  }
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods.';
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return 'Bucket names must not be formatted as an IP address.';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return 'Bucket names must not start with a reserved prefix.';
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) return 'Bucket names must not end with a reserved suffix.';
  return undefined;
}

export const COLUMNS = (tx: TransactionSql) => tx.unsafe(BUCKET_COLUMNS);

/** The bucket row, whoever asks: what a principal may do with it is core/access.ts's question. */
export async function findBucket(storage: Services, name: string): Promise<BucketRow | undefined> {
  // Postgres text cannot hold NUL (the query would fail with a 500): no bucket has such a name.
  if (name.includes('\0')) return undefined;
  const cached = storage.bucketCache.get(name);
  if (cached) return cached;
  const [row] = await readAs(storage.sql, SERVICE, (tx) => tx<BucketRow[]>`
    select ${COLUMNS(tx)} from storage.buckets where name = ${name}`);
  if (row) storage.bucketCache.set(name, row);
  return row;
}

export async function requireBucket(storage: Services, name: string): Promise<BucketRow> {
  const bucket = await findBucket(storage, name);
  if (!bucket) throw new DomainError('NoSuchBucket', undefined, { BucketName: name });
  return bucket;
}

/** Tells every server process (this one included) to drop its cached row. */
export function announceChange(tx: TransactionSql, name: string) {
  return tx`select pg_notify('aerostore_buckets', ${name})`;
}

/** Keeps the bucket cache true across processes; returns a function that stops listening. */
export async function listenForBucketChanges(storage: Services): Promise<() => Promise<void>> {
  const { unlisten } = await storage.sql.listen(
    'aerostore_buckets',
    (name) => storage.bucketCache.delete(name),
    // (Re)subscribed: changes may have been missed while disconnected.
    () => storage.bucketCache.clear(),
  );
  return unlisten;
}

export async function createBucket(
  storage: Services,
  name: string,
  principal: Principal,
  policy: BucketPolicy = 'private',
  settings: Omit<BucketSettings, 'policy'> & { objectLock?: boolean } = {},
): Promise<BucketRow> {
  const problem = bucketNameProblem(name);
  if (problem) throw new DomainError('InvalidBucketName', problem, { BucketName: name });
  if (principal.kind !== 'user' || (storage.bucketCreators === 'service' && !isService(principal))) {
    throw new DomainError('AccessDenied', 'This principal may not create buckets.');
  }
  const owner = ownerId(principal);
  const row = await asPrincipal(storage.sql, principal, async (tx) => {
    // The unique index sees every bucket, visible to this principal or not.
    const [created] = await tx<BucketRow[]>`
      insert into storage.buckets (name, owner_id, region, policy, member_writes, public_list, file_size_limit, allowed_mime_types, download_events,
        object_ownership, acl, versioning, object_lock_enabled)
      values (${name}, ${owner}, ${storage.region}, ${policy}, ${settings.memberWrites ?? false}, ${settings.publicList ?? false},
        ${settings.fileSizeLimit ?? null}::bigint, ${settings.allowedMimeTypes ?? null}::text[], ${settings.downloadEvents ?? false},
        ${settings.objectOwnership ?? null}, ${settings.acl ?? null}::text[],
        ${settings.objectLock ? 'Enabled' : null}, ${settings.objectLock ?? false})
      on conflict (name) do nothing
      returning ${COLUMNS(tx)}`;
    if (!created) return undefined;
    await Promise.all([
      recordEvents(tx, [{ type: 'storage.bucket.created', bucketId: created.id, bucket: name, ownerId: owner, payload: { policy } }]),
      announceChange(tx, name),
    ]);
    return created;
  }).catch(rethrowRefusal);
  if (!row) {
    const existing = await findBucket(storage, name);
    // S3 tells the owner apart from everyone else; clients such as rclone
    // treat both 409s as "the bucket is there".
    if (existing && existing.owner_id === owner) {
      throw new DomainError('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    }
    throw new DomainError('BucketAlreadyExists', undefined, { BucketName: name });
  }
  storage.bucketCache.set(name, row);
  return row;
}

export async function deleteBucket(storage: Services, name: string, principal: Principal): Promise<void> {
  const bucket = await requireBucket(storage, name);
  requireAdminister(bucket, principal);
  await asPrincipal(storage.sql, principal, async (tx) => {
    // Lock the bucket row first: a concurrent upload's foreign-key check then
    // either commits before us (and we see its object) or fails after us.
    const [locked] = await tx`select id from storage.buckets where id = ${bucket.id} for update`;
    if (!locked) throw new DomainError('NoSuchBucket', undefined, { BucketName: name });
    // The owner (and the service role) sees every object of the bucket, and every past version and delete marker.
    const [obj] = await tx`select 1 from storage.objects where bucket_uuid = ${bucket.id}
      union all select 1 from storage.object_versions where bucket_uuid = ${bucket.id} limit 1`;
    if (obj) throw new DomainError('BucketNotEmpty', undefined, { BucketName: name });
    // The event first: its policy looks the bucket up.
    await recordEvents(tx, [{ type: 'storage.bucket.deleted', bucketId: bucket.id, bucket: name, ownerId: bucket.owner_id, payload: {} }]);
    // Only zero-reference blobs can remain; their files go with the directory.
    await tx`delete from storage.blobs where bucket_id = ${bucket.id}`;
    await Promise.all([tx`delete from storage.buckets where id = ${bucket.id}`, announceChange(tx, name)]);
  }).catch(rethrowRefusal);
  storage.bucketCache.delete(name);
  await storage.blobs.removeBucket(bucket.id);
}

export interface BucketListing {
  /** Names starting with this. */
  prefix?: string;
  /** Names strictly after this one (a page's continuation). */
  after?: string;
  /** Buckets in this region only. */
  region?: string;
  /** At most this many; undefined: all of them. */
  limit?: number;
}

/**
 * The buckets the principal can see, by RLS (anonymous principals are
 * refused by the protocol edge), in name order; with a limit, one more than
 * asked tells the caller whether there are more.
 */
export async function listBuckets(storage: Services, principal: Principal, opts: BucketListing = {}): Promise<BucketRow[]> {
  const prefix = opts.prefix ?? '';
  return readAs(storage.sql, principal, (tx) => tx<BucketRow[]>`
    select ${COLUMNS(tx)} from storage.buckets
    where name >= ${prefix} and starts_with(name, ${prefix})
      ${opts.after !== undefined ? tx`and name > ${opts.after}` : tx``}
      ${opts.region !== undefined ? tx`and region = ${opts.region}` : tx``}
    order by name ${opts.limit !== undefined ? tx`limit ${opts.limit}` : tx``}`);
}

export interface BucketSettings {
  policy?: BucketPolicy;
  memberWrites?: boolean;
  publicList?: boolean;
  /** null clears the limit (the server's default applies). */
  fileSizeLimit?: number | null;
  /** null clears the restriction (any type). */
  allowedMimeTypes?: string[] | null;
  /** Record downloads as storage.object.downloaded events. */
  downloadEvents?: boolean;
  /** The bucket ACL's grants beyond the read preset (core/acl.ts); null clears them. */
  acl?: string[] | null;
  /** Object Ownership (S3 PutBucketOwnershipControls); null: none set (ObjectWriter). */
  objectOwnership?: ObjectOwnership | null;
}

/** Changes who may read and write the bucket (S3 PutBucketAcl; the admin API's bucket settings). */
export async function updateBucketSettings(
  storage: Services,
  name: string,
  principal: Principal,
  settings: BucketSettings,
): Promise<BucketRow> {
  const bucket = await requireBucket(storage, name);
  return changeBucket(storage, bucket, principal, (tx) => tx<BucketRow[]>`
    update storage.buckets set
      policy = coalesce(${settings.policy ?? null}, policy),
      member_writes = coalesce(${settings.memberWrites ?? null}::boolean, member_writes),
      public_list = coalesce(${settings.publicList ?? null}::boolean, public_list),
      download_events = coalesce(${settings.downloadEvents ?? null}::boolean, download_events),
      acl = case when ${settings.acl !== undefined} then ${settings.acl ?? null}::text[] else acl end,
      object_ownership = case when ${settings.objectOwnership !== undefined} then ${settings.objectOwnership ?? null} else object_ownership end,
      file_size_limit = case when ${settings.fileSizeLimit !== undefined} then ${settings.fileSizeLimit ?? null}::bigint else file_size_limit end,
      allowed_mime_types = case when ${settings.allowedMimeTypes !== undefined}
        then ${settings.allowedMimeTypes ?? null}::text[] else allowed_mime_types end
    where id = ${bucket.id}
    returning ${COLUMNS(tx)}`);
}

/**
 * Runs a change to one bucket row (an update returning its columns) as
 * `principal`, announcing it to every process.
 */
export async function changeBucket(
  storage: Services,
  bucket: BucketRow,
  principal: Principal,
  change: (tx: TransactionSql) => Promise<BucketRow[]>,
): Promise<BucketRow> {
  requireAdminister(bucket, principal);
  const row = await asPrincipal(storage.sql, principal, async (tx) => {
    const [[updated]] = await Promise.all([change(tx), announceChange(tx, bucket.name)]);
    return updated;
  }).catch(rethrowRefusal);
  if (!row) throw new DomainError('NoSuchBucket', undefined, { BucketName: bucket.name });
  storage.bucketCache.set(bucket.name, row);
  return row;
}
