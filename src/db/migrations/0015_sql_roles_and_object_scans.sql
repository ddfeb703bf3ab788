-- Issue 13 (docs/security.md "SQL under the request roles"; "Scanning and
-- deduplication").
--
-- 1. SQL sessions under the request roles read; only the server writes.
--
-- Applications run SQL as aerostore_anon / aerostore_authenticated with a
-- user's claims (README "Querying the metadata with SQL"). Until now the
-- server wrote under those same roles, so a SQL session could do what the
-- server did: read every blob's hash and size, point an object row at
-- someone else's blob, mark its own infected upload clean, zero another
-- blob's reference count, forge events. Writes need what only the server
-- has (the bytes, the blob files, the bookkeeping that keeps them
-- consistent), so from now on the request roles only read, under the same
-- policies as before, and the server acts for a signed-in principal as
-- aerostore_writer: a member of aerostore_authenticated, so every policy
-- written `to aerostore_authenticated` (the built-in ones and your own)
-- still decides each of its reads and writes, plus the write privileges.
-- Only the server's login may switch into it; an application's login is
-- granted the two request roles and nothing else.
do $$
begin
  if not exists (select from pg_roles where rolname = 'aerostore_writer') then
    create role aerostore_writer nologin;
  end if;
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant aerostore_writer to %I', current_user);
  end if;
end $$;
grant aerostore_authenticated to aerostore_writer;

revoke insert, update, delete on storage.buckets, storage.objects, storage.blobs,
  storage.multipart_uploads, storage.multipart_parts from aerostore_authenticated;
-- Content hashes, sizes and part files are the server's bookkeeping: what a
-- reader may know of them, its visible objects already say.
revoke select on storage.blobs, storage.multipart_parts from aerostore_authenticated;
revoke insert on storage.events, storage.scan_jobs from aerostore_authenticated;
revoke usage on sequence storage.events_id_seq from aerostore_authenticated;

grant select, insert, update, delete on storage.buckets, storage.objects, storage.blobs,
  storage.multipart_uploads, storage.multipart_parts to aerostore_writer;
grant select, insert on storage.events to aerostore_writer;
grant usage on sequence storage.events_id_seq to aerostore_writer;

-- 2. Every object goes through the scan lifecycle itself.
--
-- The verdict stays on the blob (content is scanned once), but what a
-- client can observe is now the object's own state: a new object — fresh
-- content or a deduplicated copy of content already scanned — starts
-- pending, and the scan queue resolves it (worker: a known verdict is
-- applied without sending the bytes to clamd again), announcing
-- storage.object.scanned (and .quarantined) for it. Before, a write onto
-- content the bucket already held was readable at once and announced
-- nothing, which told a member that someone had stored those exact bytes.
alter table storage.objects add column scan_status text not null default 'pending'
  check (scan_status in ('pending', 'clean', 'infected', 'unscanned'));
drop trigger objects_quarantine_written on storage.objects;
drop function storage.quarantine_written_object();
update storage.objects o set scan_status = b.scan_status
  from storage.blobs b where b.bucket_id = o.bucket_id and b.sha256 = o.sha256;
create index objects_pending_scan on storage.objects (bucket_id, sha256) where scan_status <> 'clean';

-- A job asks either for a scan (new content, a rescan: `scan`) or only for
-- the blob's known verdict to be given to the objects still pending on it.
alter table storage.scan_jobs add column scan boolean not null default true;

-- Each write of an object's content (insert, or an overwrite: the upsert
-- sets sha256 even when it is unchanged) starts the object's lifecycle and
-- makes sure a job will resolve it. A job already queued for the blob
-- covers it. Runs as aerostore_service: writers do not touch the queue.
create function storage.object_content_written() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  new.scan_status := 'pending';
  insert into storage.scan_jobs (bucket_id, sha256, scan)
  select new.bucket_id, new.sha256, b.scan_status = 'pending'
  from storage.blobs b where b.bucket_id = new.bucket_id and b.sha256 = new.sha256
  on conflict (bucket_id, sha256) do nothing;
  return new;
end $$;
create trigger objects_content_written before insert or update of sha256 on storage.objects
  for each row execute function storage.object_content_written();

-- The scan state an object's reads obey, as the caller may see the object
-- (row-level security applies: null for an object hidden from it).
drop function storage.object_scan_status(uuid);
create function storage.object_scan_status(object_id uuid) returns text
language sql stable as $$
  select o.scan_status from storage.objects o where o.id = object_id
$$;
grant execute on function storage.object_scan_status(uuid) to aerostore_anon, aerostore_authenticated, aerostore_service;

revoke execute on function storage.object_content_written() from public;
grant create on schema storage to aerostore_service;
alter function storage.object_content_written() owner to aerostore_service;
revoke create on schema storage from aerostore_service;

-- The object trigger above queues every blob an object is written onto, a
-- new one included (its scan_status is 'pending', so the job scans): the
-- blob-insert trigger of migration 0012 only repeated that insert on every
-- write of new content.
drop trigger blobs_enqueue_scan on storage.blobs;
drop function storage.enqueue_scan();
