// Buckets: naming rules, create, delete, lookup. Buckets are always created
// explicitly; nothing else creates one as a side effect.
import { S3Error } from '../s3/errors.ts';
import { ownerId, type Principal } from '../principals/principal.ts';
import type { BucketPolicy } from './acl.ts';
import type { BucketRow, Storage } from './storage.ts';

/**
 * General-purpose bucket naming rules
 * (Amazon S3 User Guide, "Bucket naming rules").
 */
export function bucketNameProblem(name: string): string | undefined {
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

export async function findBucket(storage: Storage, name: string): Promise<BucketRow | undefined> {
  const cached = storage.bucketCache.get(name);
  if (cached) return cached;
  const [row] = await storage.sql<BucketRow[]>`
    select id, name, owner_id, region, policy, cors, created_at from storage.buckets where name = ${name}`;
  if (row) storage.bucketCache.set(name, row);
  return row;
}

export async function requireBucket(storage: Storage, name: string): Promise<BucketRow> {
  const bucket = await findBucket(storage, name);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  return bucket;
}

export async function createBucket(
  storage: Storage,
  name: string,
  principal: Principal,
  policy: BucketPolicy = 'private',
): Promise<BucketRow> {
  const problem = bucketNameProblem(name);
  if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: name });
  const owner = ownerId(principal);
  const row = await storage.sql.begin(async (tx) => {
    const [created] = await tx<BucketRow[]>`
      insert into storage.buckets (name, owner_id, region, policy) values (${name}, ${owner}, ${storage.region}, ${policy})
      on conflict (name) do nothing
      returning id, name, owner_id, region, policy, cors, created_at`;
    if (!created) return undefined;
    await tx`insert into storage.events (type, bucket_id, bucket, payload)
      values ('storage.bucket.created', ${created.id}, ${name}, ${tx.json({ owner_id: owner, policy })})`;
    return created;
  });
  if (!row) {
    const existing = await findBucket(storage, name);
    // S3 tells the owner apart from everyone else; clients such as rclone
    // treat both 409s as "the bucket is there".
    if (existing && existing.owner_id === owner) {
      throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    }
    throw new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
  }
  storage.bucketCache.set(name, row);
  return row;
}

export async function deleteBucket(storage: Storage, name: string): Promise<void> {
  const bucket = await requireBucket(storage, name);
  await storage.sql.begin(async (tx) => {
    // Lock the bucket row first: a concurrent upload's foreign-key check then
    // either commits before us (and we see its object) or fails after us.
    const [locked] = await tx`select id from storage.buckets where id = ${bucket.id} for update`;
    if (!locked) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    const [obj] = await tx`select 1 from storage.objects where bucket_id = ${bucket.id} limit 1`;
    if (obj) throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
    // Only zero-reference blobs can remain; their files go with the directory.
    await tx`delete from storage.blobs where bucket_id = ${bucket.id}`;
    await tx`delete from storage.buckets where id = ${bucket.id}`;
    await tx`insert into storage.events (type, bucket_id, bucket) values ('storage.bucket.deleted', ${bucket.id}, ${name})`;
  });
  storage.bucketCache.delete(name);
  await storage.blobs.removeBucket(bucket.id);
}

export async function listBuckets(storage: Storage, _principal: Principal): Promise<BucketRow[]> {
  return storage.sql<BucketRow[]>`
    select id, name, owner_id, region, policy, cors, created_at from storage.buckets order by name`;
}

/** Sets who may read the bucket (S3: PutBucketAcl with a canned ACL or grants). */
export async function setBucketPolicy(storage: Storage, name: string, policy: BucketPolicy): Promise<BucketRow> {
  const [row] = await storage.sql<BucketRow[]>`
    update storage.buckets set policy = ${policy} where name = ${name}
    returning id, name, owner_id, region, policy, cors, created_at`;
  if (!row) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  storage.bucketCache.set(name, row);
  return row;
}
