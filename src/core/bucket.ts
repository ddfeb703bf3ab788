// A bucket as the core reads it: the storage.buckets row and the types of
// its settings. Its own module, so that everything that handles a bucket can
// import the shape without importing what handles it.

/** Who may read a bucket's objects (README "Buckets and objects"). */
export type BucketPolicy = 'private' | 'authenticated' | 'public';

/** S3 Object Ownership (PutBucketOwnershipControls); null: none set, which acts as ObjectWriter. */
export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

/** One CORS rule (S3 PutBucketCors), as stored on the bucket. */
export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** An object lock retention mode (S3 "Retention modes"). */
export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';

/** A version's object lock settings as a write gives them (core/version-rows.ts lockForWrite). */
export interface ObjectLock {
  retention?: { mode: LockMode; retainUntil: Date };
  legalHold?: boolean;
}

/** A bucket's default retention, in days or in years. */
export type DefaultRetention = { mode: LockMode } & ({ days: number } | { years: number });

export interface LifecycleTag {
  key: string;
  value: string;
}

/**
 * A rule's `<Filter>` as written: empty (every object), one predicate, or
 * `<And>` of several. The form is kept so that GET gives back what PUT set.
 */
export interface LifecycleFilter {
  prefix?: string;
  /** `<Tag>`, or the `<Tag>`s of an `<And>`. */
  tags?: LifecycleTag[];
  /** ObjectSizeGreaterThan, bytes: sizes above it. */
  sizeGreaterThan?: number;
  /** ObjectSizeLessThan, bytes: sizes below it. */
  sizeLessThan?: number;
  /** The predicates were inside `<And>`. */
  and?: boolean;
}

/** One lifecycle rule (S3 PutBucketLifecycleConfiguration), validated by core/lifecycle.ts, as stored (migration 0026). */
export interface LifecycleRule {
  id: string;
  enabled: boolean;
  /** The rule-level `<Prefix>` of configurations written before `<Filter>` existed; a rule has this or `filter`. */
  prefix?: string;
  filter?: LifecycleFilter;
  /** Current versions: `days` after creation, or from `date` (midnight UTC, ISO); or delete markers left alone. */
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
}

export interface BucketRow {
  id: string;
  name: string;
  owner_id: string | null;
  region: string;
  policy: BucketPolicy;
  /** CORS rules (S3 PutBucketCors); null when none are configured. */
  cors: CorsRule[] | null;
  /** Any signed-in principal may create objects and overwrite or delete its own. */
  member_writes: boolean;
  /** Anonymous principals may list a public bucket. */
  public_list: boolean;
  /** Largest object in bytes; null: the server's default (migration 0010). */
  file_size_limit: number | null;
  /** Allowed MIME types (`type/subtype`, `type/*`); null: any. */
  allowed_mime_types: string[] | null;
  /** Downloads are recorded as storage.object.downloaded events (migration 0012). */
  download_events: boolean;
  /** Object Ownership (migration 0021); null: no ownership controls (ObjectWriter). */
  object_ownership: ObjectOwnership | null;
  /** The bucket ACL's grants beyond its read preset ('<PERMISSION>:<grantee>', core/acl.ts); null: none. */
  acl: string[] | null;
  /** The bucket has a bucket policy (migration 0023): its requests' pre-checks ask Postgres (s3/policy-precheck.ts). */
  has_policy?: boolean;
  /** Its policy has a Deny statement: even the bucket owner's requests are asked about early. */
  policy_has_deny?: boolean;
  /** Its own Block Public Access flags (PutPublicAccessBlock); null: the server's default applies. */
  public_access_block?: Record<string, boolean> | null;
  /** S3 versioning (migration 0025); null: never enabled — writes keep one version, 'null', per key. */
  versioning?: 'Enabled' | 'Suspended' | null;
  /** Object lock is on (CreateBucket with x-amz-bucket-object-lock-enabled); versioning is then Enabled for good. */
  object_lock_enabled?: boolean;
  /** The default retention of new versions (PutObjectLockConfiguration); null: none. */
  object_lock_default?: DefaultRetention | null;
  /** Lifecycle rules (migration 0026); null: no lifecycle configuration. */
  lifecycle?: LifecycleRule[] | null;
  created_at: Date;
}

/** The columns of a BucketRow, for every statement that returns one. */
export const BUCKET_COLUMNS =
  `id, name, owner_id, region, policy, cors, member_writes, public_list, file_size_limit, allowed_mime_types, download_events, object_ownership, acl, policy_statements is not null as has_policy, coalesce(policy_statements @> '[{"effect": "Deny"}]', false) as policy_has_deny, public_access_block, versioning, object_lock_enabled, object_lock_default, lifecycle, created_at`;
