-- The S3 core: buckets, content-addressed blobs, objects, and the event outbox.
create schema if not exists storage;

create table storage.buckets (
  id          uuid primary key default gen_random_uuid(),
  name        text collate "C" not null unique,
  owner_id    uuid,
  region      text not null,
  created_at  timestamptz not null default now()
);

-- One row per distinct content per bucket. ref_count counts the objects that
-- point at it; a row at zero is garbage that the collector removes (file
-- first, row second) while holding the row lock, so an upload of the same
-- content either sees the row gone or re-claims it before the file is touched.
create table storage.blobs (
  bucket_id   uuid not null references storage.buckets(id),
  sha256      text collate "C" not null check (sha256 ~ '^[0-9a-f]{64}$'),
  size        bigint not null check (size >= 0),
  ref_count   integer not null check (ref_count >= 0),
  created_at  timestamptz not null default now(),
  primary key (bucket_id, sha256)
);
create index blobs_unreferenced on storage.blobs (bucket_id) where ref_count = 0;

-- Keys are compared byte-wise (COLLATE "C") because S3 lists in UTF-8 byte
-- order; the unique index then serves prefix scans and key-marker seeks.
create table storage.objects (
  id                   uuid primary key default gen_random_uuid(),
  bucket_id            uuid not null references storage.buckets(id),
  key                  text collate "C" not null,
  size                 bigint not null check (size >= 0),
  etag                 text not null,
  sha256               text collate "C" not null,
  checksums            jsonb not null default '{}',
  content_type         text,
  content_encoding     text,
  content_disposition  text,
  content_language     text,
  cache_control        text,
  expires              text,
  user_metadata        jsonb not null default '{}',
  owner_id             uuid,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  unique (bucket_id, key)
);
create index objects_by_blob on storage.objects (bucket_id, sha256);

-- Transactional outbox: each row commits with the change it describes.
create table storage.events (
  id          bigserial primary key,
  type        text not null,
  bucket_id   uuid not null,
  bucket      text not null,
  key         text collate "C",
  object_id   uuid,
  payload     jsonb not null default '{}',
  created_at  timestamptz not null default now()
);
create index events_by_time on storage.events (created_at);

-- The common prefix a key rolls up into under ListObjects' delimiter: the
-- prefix plus everything up to and including the first delimiter after it;
-- null when the key does not roll up.
create function storage.common_prefix(k text, p text, d text) returns text
language sql immutable parallel safe as $$
  select case when d = '' then null
    else (select case when pos > 0 then left(k, length(p) + pos + length(d) - 1) end
          from (select strpos(substr(k, length(p) + 1), d) as pos) s)
  end
$$;
