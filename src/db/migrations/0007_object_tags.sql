-- Object tagging (S3 PutObjectTagging, x-amz-tagging): an object's tags as a
-- JSON object of key → value, and the tags a multipart upload was created
-- with, applied to the object when it completes.
alter table storage.objects add column tags jsonb not null default '{}';
alter table storage.multipart_uploads add column tags jsonb not null default '{}';
