-- Object versioning and object lock (issue 18; docs/architecture.md
-- "Versions").
--
-- storage.objects stays what every read, list and policy knows: one row per
-- key, the key's current version. Everything else a versioned bucket keeps —
-- noncurrent versions and delete markers — lives in storage.object_versions,
-- a table of the same columns. So:
--   * an overwrite in a versioned bucket first copies the current row into
--     object_versions (storage.keep_current_version), then replaces it;
--   * a delete without a version id moves the current row there and adds a
--     delete marker;
--   * deleting a version (by id) deletes its row wherever it is; when the
--     key is then left without a current row and its newest remaining
--     version is not a marker, that version becomes current again
--     (storage.promote_latest_version): the undelete.
-- Invariant: a key has a row in objects iff its newest version is not a
-- delete marker, and that row is the newest (version_seq orders a key's
-- versions). Unversioned buckets write version 'null' and never touch
-- object_versions; their statements are those of before.
--
-- Every version holds a reference to its blob (blobs.ref_count counts rows in
-- both tables; delete markers have no content), so a thousand versions of
-- the same bytes are one blob, and a blob is collected only when no version
-- references it.

alter table storage.buckets
  -- null: never enabled (S3 answers an empty VersioningConfiguration); once
  -- enabled a bucket can only be suspended, never returned to null.
  add column versioning text check (versioning in ('Enabled', 'Suspended')),
  add column object_lock_enabled boolean not null default false,
  -- The default retention of new versions: {"mode": "GOVERNANCE"|"COMPLIANCE", "days": n} or {..., "years": n}.
  add column object_lock_default jsonb,
  add constraint object_lock_needs_versioning check (not object_lock_enabled or versioning = 'Enabled');

create sequence storage.version_seq;
grant usage on sequence storage.version_seq to aerostore_writer, aerostore_service;

alter table storage.objects
  add column version text collate "C" not null default 'null',
  -- Existing rows are older than any version written from now on.
  add column version_seq bigint not null default 0,
  add column lock_mode text check (lock_mode in ('GOVERNANCE', 'COMPLIANCE')),
  add column retain_until timestamptz,
  add column legal_hold boolean not null default false,
  add constraint retention_whole check ((lock_mode is null) = (retain_until is null));
alter table storage.objects alter column version_seq set default nextval('storage.version_seq');

create table storage.object_versions (
  like storage.objects including defaults including generated including constraints,
  delete_marker boolean not null default false,
  foreign key (bucket_uuid) references storage.buckets(id),
  unique (bucket_uuid, key, version)
);
-- ListObjectVersions (key ascending, newest first) and "the key's newest version".
create index object_versions_by_key on storage.object_versions (bucket_uuid, key, version_seq desc);
-- Blob references (collector, fsck, the start-up check).
create index object_versions_by_blob on storage.object_versions (bucket_uuid, sha256) where not delete_marker;

alter table storage.object_versions enable row level security;
alter table storage.object_versions force row level security;
grant select, insert, update, delete on storage.object_versions to aerostore_writer, aerostore_service;
grant select on storage.object_versions to aerostore_authenticated;

-- Past versions are read by the service role, the bucket's owner and the
-- version's owner (S3's s3:GetObjectVersion and s3:ListBucketVersions are
-- separate from GetObject and ListBucket: a public or authenticated-read
-- bucket does not publish its history). Deleting one, or changing its
-- retention, legal hold, tags or ACL: the bucket's owner, or the version's
-- owner where the bucket takes members' writes.
create policy service_all on storage.object_versions to aerostore_service using (true) with check (true);
create policy history_read on storage.object_versions for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (owner = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = object_versions.bucket_uuid and b.owner_id = (select storage.uid()))));
create policy history_change on storage.object_versions for update to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = object_versions.bucket_uuid
                 and (b.owner_id = (select storage.uid()) or (b.member_writes and object_versions.owner = (select storage.uid())))));
create policy history_delete on storage.object_versions for delete to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = object_versions.bucket_uuid
                 and (b.owner_id = (select storage.uid()) or (b.member_writes and object_versions.owner = (select storage.uid())))));
-- Rows arrive here only as the consequence of a write or delete of the
-- current version that row-level security admitted on storage.objects in
-- the same transaction (or a delete marker the server's checks admitted):
-- bookkeeping, as 0022's blobs and events are.
create policy history_insert on storage.object_versions for insert to aerostore_authenticated with check (true);
create policy server_inserts on storage.object_versions as restrictive for insert to aerostore_anon, aerostore_authenticated
  with check (current_user = 'aerostore_writer');
create policy server_updates on storage.object_versions as restrictive for update to aerostore_anon, aerostore_authenticated
  using (current_user = 'aerostore_writer');
create policy server_deletes on storage.object_versions as restrictive for delete to aerostore_anon, aerostore_authenticated
  using (current_user = 'aerostore_writer');
insert into storage.builtin_policies (table_name, policy_name)
  select tablename, policyname from pg_catalog.pg_policies where schemaname = 'storage' and tablename = 'object_versions';

-- Copies the key's current row into object_versions, before a write in a
-- versioned bucket replaces it (or, with keep_null false — a Suspended
-- bucket — unless it is the 'null' version, which the write replaces);
-- returns the version kept, if any. As the service role: the writer may be
-- admitted to overwrite a key it may not read (a bucket policy, a SQL
-- policy), and the version it replaces must be kept all the same. Only the
-- server's writer calls it, inside the write's transaction, under the key's
-- lock; the unique (bucket, key, version) refuses a second copy.
create function storage.keep_current_version(in_bucket uuid, in_key text, keep_null boolean) returns text
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  kept text;
begin
  insert into storage.object_versions (id, bucket_uuid, bucket_id, key, size, etag, sha256, checksums, content_type,
    content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, owner,
    created_at, updated_at, parts, tags, scan_status, filename, part_checksums, acl,
    version, version_seq, lock_mode, retain_until, legal_hold)
  select id, bucket_uuid, bucket_id, key, size, etag, sha256, checksums, content_type,
    content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, owner,
    created_at, updated_at, parts, tags, scan_status, filename, part_checksums, acl,
    version, version_seq, lock_mode, retain_until, legal_hold
  from storage.objects where bucket_uuid = in_bucket and key = in_key and (keep_null or version <> 'null')
  returning version into kept;
  return kept;
end $$;

-- Makes the key's newest version current again when the key has no current
-- row and that version is not a delete marker (after a version or a marker
-- was deleted by id). As the service role: the version may belong to
-- someone else than the principal whose delete admitted it.
create function storage.promote_latest_version(in_bucket uuid, in_key text) returns text
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v storage.object_versions;
begin
  if exists (select 1 from storage.objects where bucket_uuid = in_bucket and key = in_key) then return null; end if;
  select * into v from storage.object_versions where bucket_uuid = in_bucket and key = in_key
    order by version_seq desc limit 1 for update;
  if not found or v.delete_marker then return null; end if;
  insert into storage.objects (id, bucket_uuid, bucket_id, key, size, etag, sha256, checksums, content_type,
    content_encoding, content_disposition, content_language, cache_control, expires, user_metadata, owner,
    created_at, updated_at, parts, tags, scan_status, filename, part_checksums, acl,
    version, version_seq, lock_mode, retain_until, legal_hold)
  values (v.id, v.bucket_uuid, v.bucket_id, v.key, v.size, v.etag, v.sha256, v.checksums, v.content_type,
    v.content_encoding, v.content_disposition, v.content_language, v.cache_control, v.expires, v.user_metadata, v.owner,
    v.created_at, v.updated_at, v.parts, v.tags, v.scan_status, v.filename, v.part_checksums, v.acl,
    v.version, v.version_seq, v.lock_mode, v.retain_until, v.legal_hold);
  delete from storage.object_versions where bucket_uuid = in_bucket and key = in_key and version = v.version;
  return v.version;
end $$;

-- Object lock (S3 "Locking objects with Object Lock"): a version under a
-- legal hold, or retained until a time still ahead, must exist when its
-- transaction commits — in objects or in object_versions, moved between
-- them as versioning does, but never gone. Checked at commit (a deferred
-- constraint trigger), so the moves above need no exception; it holds for
-- every writer: the server's S3 and /storage/v1 paths, maintenance
-- (lifecycle, fsck --repair, the sweeper never deletes rows) and SQL.
-- GOVERNANCE retention gives way to a request that asked to bypass it and
-- whose principal may (the server sets aerostore.bypass_governance for
-- that transaction only); COMPLIANCE retention and legal holds never do.
create function storage.locked_version_kept() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  if not (old.legal_hold or (old.retain_until is not null and old.retain_until > now())) then return null; end if;
  if exists (select 1 from storage.objects o where o.bucket_uuid = old.bucket_uuid and o.key = old.key and o.version = old.version)
     or exists (select 1 from storage.object_versions v where v.bucket_uuid = old.bucket_uuid and v.key = old.key and v.version = old.version) then
    return null;
  end if;
  if not old.legal_hold and old.lock_mode = 'GOVERNANCE' and current_setting('aerostore.bypass_governance', true) = 'on' then
    return null;
  end if;
  raise exception 'version % of % is protected by object lock', old.version, old.key using errcode = 'AS010';
end $$;
create constraint trigger objects_locked_version_kept after delete or update of version on storage.objects
  deferrable initially deferred for each row execute function storage.locked_version_kept();
create constraint trigger object_versions_locked_version_kept after delete or update of version on storage.object_versions
  deferrable initially deferred for each row execute function storage.locked_version_kept();

-- A version's retention may be lengthened by anyone who may change it; it
-- may be shortened or removed, or COMPLIANCE turned into GOVERNANCE, only
-- under GOVERNANCE with the bypass — never under COMPLIANCE while it runs.
create function storage.retention_only_lengthens() returns trigger
language plpgsql as $$
begin
  if old.retain_until is null or old.retain_until <= now() then return new; end if;
  if new.retain_until is not null and new.retain_until >= old.retain_until
     and (old.lock_mode = 'GOVERNANCE' or new.lock_mode = 'COMPLIANCE') then
    return new;
  end if;
  if old.lock_mode = 'GOVERNANCE' and current_setting('aerostore.bypass_governance', true) = 'on' then return new; end if;
  raise exception 'the retention of version % of % cannot be shortened', old.version, old.key using errcode = 'AS010';
end $$;
create trigger objects_retention_only_lengthens before update of lock_mode, retain_until on storage.objects
  for each row when (old.version = new.version) execute function storage.retention_only_lengthens();
create trigger object_versions_retention_only_lengthens before update of lock_mode, retain_until on storage.object_versions
  for each row execute function storage.retention_only_lengthens();

grant create on schema storage to aerostore_service;
alter function storage.keep_current_version(uuid, text, boolean) owner to aerostore_service;
alter function storage.promote_latest_version(uuid, text) owner to aerostore_service;
alter function storage.locked_version_kept() owner to aerostore_service;
revoke create on schema storage from aerostore_service;
revoke execute on function storage.keep_current_version(uuid, text, boolean), storage.promote_latest_version(uuid, text),
  storage.locked_version_kept() from public;
grant execute on function storage.keep_current_version(uuid, text, boolean), storage.promote_latest_version(uuid, text)
  to aerostore_writer, aerostore_service;

-- Every row that holds a reference to a blob: current versions and past
-- ones (delete markers have no content). What blobs.ref_count counts, for
-- fsck, the start-up check and the collector's recount. Security invoker:
-- the reader's row-level security applies (the service role reads all).
create view storage.blob_references with (security_invoker = true) as
  select bucket_uuid, key, version, sha256, size from storage.objects
  union all
  select bucket_uuid, key, version, sha256, size from storage.object_versions where not delete_marker;
grant select on storage.blob_references to aerostore_service;

-- The lock a multipart upload's object gets at completion (the object-lock
-- headers of CreateMultipartUpload).
alter table storage.multipart_uploads
  add column lock_mode text check (lock_mode in ('GOVERNANCE', 'COMPLIANCE')),
  add column retain_until timestamptz,
  add column legal_hold boolean;
