-- Bucket tagging (S3 Put/Get/DeleteBucketTagging): the bucket's tag set,
-- key → value, validated by core/tagging.ts (at most 50 tags). Null: the
-- bucket has no tag set (GetBucketTagging answers NoSuchTagSet). Changed
-- as the bucket's other settings are, by its owner (the buckets update policy).
alter table storage.buckets add column tags jsonb;
