-- Bucket lifecycle configuration (S3 PutBucketLifecycleConfiguration;
-- issue 18 §4): the bucket's rules, validated and normalised by
-- core/lifecycle.ts, as a JSON array of
--   { id, enabled, prefix? | filter?: { prefix?, tags?: [{key, value}], sizeGreaterThan?, sizeLessThan?, and? },
--     expiration?: { days? | date? | expiredObjectDeleteMarker? },
--     noncurrentVersionExpiration?: { noncurrentDays, newerNoncurrentVersions? },
--     abortIncompleteMultipartUpload?: { daysAfterInitiation } }
-- in the form the rules were written (a legacy rule-level Prefix, a Filter,
-- an And), so GetBucketLifecycleConfiguration gives back what was set. Null:
-- no configuration (NoSuchLifecycleConfiguration). Changed as the bucket's
-- other settings are, by its owner (the buckets update policy); read by the
-- lifecycle pass (maintenance/lifecycle.ts) and, from the cached bucket row,
-- for x-amz-expiration on every GET, HEAD and PUT.
alter table storage.buckets add column lifecycle jsonb;
-- The pass visits only buckets with rules.
create index buckets_with_lifecycle on storage.buckets (id) where lifecycle is not null;
-- Expired delete markers (a marker that is its key's only version): the pass
-- walks a bucket's markers alone, not every noncurrent version.
create index object_versions_markers on storage.object_versions (bucket_uuid, key) where delete_marker;
