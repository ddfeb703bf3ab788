-- Completed multipart uploads, remembered for a while (issue 16.5): every
-- SDK retries a CompleteMultipartUpload whose answer it did not get, and S3
-- answers a retry with the same part list as it answered the first (200 and
-- the same result) instead of NoSuchUpload, which would fail an upload whose
-- object exists. The record is inserted in the completing transaction, as
-- the upload row is deleted (core/multipart.ts claimUpload): it exists
-- exactly when the completion committed, and the upload row, its parts and
-- their files go as before. The multipart expiry removes records older than
-- AEROSTORE_MULTIPART_EXPIRY_DAYS (maintenance/upload-expiry.ts).
create table storage.completed_uploads (
  id            text collate "C" primary key,
  bucket_id     uuid not null references storage.buckets(id) on delete cascade,
  key           text collate "C" not null,
  -- The upload's initiator, as on storage.multipart_uploads.
  owner_id      uuid,
  -- The part list the upload was completed with: [[part number, "etag"], ...].
  parts         jsonb not null,
  -- The answer: the object's ETag and its checksum ({algorithm, value, type}), if any.
  etag          text not null,
  checksum      jsonb,
  completed_at  timestamptz not null default now()
);
create index completed_uploads_by_age on storage.completed_uploads (completed_at);

alter table storage.completed_uploads enable row level security;
alter table storage.completed_uploads force row level security;
-- The server's bookkeeping: the request roles read nothing of it; the
-- server's writer records and reads it under the policy below.
grant select, insert, delete on storage.completed_uploads to aerostore_writer;
grant select, insert, update, delete on storage.completed_uploads to aerostore_service;
create policy service_all on storage.completed_uploads to aerostore_service using (true) with check (true);
-- As for the upload itself: its initiator and the bucket's owner (who may
-- complete any upload in the bucket), in a bucket they may write into.
create policy initiator_or_owner on storage.completed_uploads to aerostore_authenticated
  using (owner_id = (select storage.uid())
         or exists (select 1 from storage.buckets b where b.id = completed_uploads.bucket_id and b.owner_id = (select storage.uid())))
  with check ((owner_id = (select storage.uid())
               or exists (select 1 from storage.buckets b where b.id = completed_uploads.bucket_id and b.owner_id = (select storage.uid())))
              and exists (select 1 from storage.buckets b where b.id = completed_uploads.bucket_id
                          and (b.owner_id = (select storage.uid()) or b.member_writes)));
