-- Encryption at rest (issue 20, step 2): each bucket's key, stored only
-- wrapped under the blob-encryption root of a master-key version
-- (src/blobs/blob-keys.ts), and on each blob how its file is stored.
--
-- Only the service role reads or writes the wrapped keys: no request role
-- (aerostore_anon, aerostore_authenticated, aerostore_writer) is granted
-- anything on the table, so a SQL session under a user's identity cannot
-- select them (test/security/sql-roles.test.ts). A wrapped key is useless
-- without the master key, but it is still not a reader's business.
create table storage.bucket_keys (
  bucket_id       uuid not null references storage.buckets(id) on delete cascade,
  generation      integer not null check (generation >= 1),
  wrapped         bytea not null check (length(wrapped) = 60),
  master_version  integer not null check (master_version >= 1),
  created_at      timestamptz not null default now(),
  primary key (bucket_id, generation)
);
revoke all on storage.bucket_keys from public;
grant select, insert on storage.bucket_keys to aerostore_service;
alter table storage.bucket_keys enable row level security;
alter table storage.bucket_keys force row level security;
create policy service_all on storage.bucket_keys to aerostore_service using (true) with check (true);

-- true: the blob file is sealed (src/blobs/sealed.ts), its size on disk is
-- sealedSize(size); false: plaintext, as every blob was before. A data
-- directory holds both; the row says which, whatever the server's setting.
alter table storage.blobs add column sealed boolean not null default false;
