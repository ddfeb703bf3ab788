-- Multipart uploads. An upload carries the headers its object will get at
-- completion; each part is a file under <data>/parts/<bucket-id>/<upload-id>/
-- named by `path` (relative to <data>/parts). Rows go with their upload
-- (on delete cascade), uploads with their bucket; the files are removed by
-- the code that deleted the rows, after its commit.
create table storage.multipart_uploads (
  id                   text collate "C" primary key,
  bucket_id            uuid not null references storage.buckets(id) on delete cascade,
  key                  text collate "C" not null,
  content_type         text,
  content_encoding     text,
  content_disposition  text,
  content_language     text,
  cache_control        text,
  expires              text,
  user_metadata        jsonb not null default '{}',
  owner_id             uuid,
  checksum_algorithm   text,
  initiated_at         timestamptz not null default now()
);
-- ListMultipartUploads: by key, then initiation time, within a bucket.
create index multipart_uploads_listing on storage.multipart_uploads (bucket_id, key, initiated_at, id);
-- Expiry of abandoned uploads.
create index multipart_uploads_by_age on storage.multipart_uploads (initiated_at);

create table storage.multipart_parts (
  upload_id    text collate "C" not null references storage.multipart_uploads(id) on delete cascade,
  part_number  integer not null check (part_number between 1 and 10000),
  size         bigint not null check (size >= 0),
  etag         text not null,
  sha256       text collate "C" not null,
  checksums    jsonb not null default '{}',
  path         text not null,
  uploaded_at  timestamptz not null default now(),
  primary key (upload_id, part_number)
);

-- Sizes of the parts a multipart object was assembled from, in order (null
-- for a single PUT): GetObject ?partNumber=N serves part N's byte range.
alter table storage.objects add column parts jsonb;
