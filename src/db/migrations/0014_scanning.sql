-- Virus scanning and quarantine (issue 6; src/scanning/, README "Virus
-- scanning"). Migration 0012 made the verdict columns on storage.blobs and
-- the queue storage.scan_jobs; this adds what reads and the worker need.

-- A claimed job carries the claimer's lease: the worker that claimed it may
-- record its verdict or failure only while the lease is still its own. A
-- rescan (which re-enqueues) or another worker's claim after the lease ran
-- out (run_after) replaces it, and the late verdict is dropped.
alter table storage.scan_jobs add column lease uuid;

-- The verdict an object's reads obey. Blob rows are visible only to those
-- who may write into the bucket, so a reader could not see its object's
-- blob under RLS; this looks the verdict up as the service role instead, in
-- the statement that reads the object row (no extra round trip, ~7 µs). It
-- takes an object id, not (bucket, sha256): asked about content by its hash
-- it would tell anyone whether a bucket holds that content.
create function storage.object_scan_status(object_id uuid) returns text
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select b.scan_status from storage.objects o
  join storage.blobs b on b.bucket_id = o.bucket_id and b.sha256 = o.sha256
  where o.id = object_id
$$;

-- An object written onto content already known to be infected is quarantined
-- from its first byte (reads ask the blob); its uploader hears of it here.
-- The worker (src/scanning/queue.ts) announces the objects that exist when
-- a verdict is recorded: a write onto the same blob waits for the blob row
-- lock the worker holds, so it runs either before (and the worker sees the
-- object) or after the verdict (and this trigger sees it), never between.
create function storage.quarantine_written_object() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  insert into storage.events (type, bucket_id, bucket, key, object_id, owner_id, payload)
  select 'storage.object.quarantined', new.bucket_id, k.name, new.key, new.id, new.owner_id,
    jsonb_strip_nulls(jsonb_build_object('size', new.size, 'sha256', new.sha256, 'content_type', new.content_type,
      'verdict', b.scan_status, 'signature', b.scan_signature, 'engine', b.scan_engine))
  from storage.blobs b join storage.buckets k on k.id = b.bucket_id
  where b.bucket_id = new.bucket_id and b.sha256 = new.sha256 and b.scan_status = 'infected';
  return null;
end $$;
create trigger objects_quarantine_written after insert or update of sha256 on storage.objects
  for each row execute function storage.quarantine_written_object();

-- Both run as aerostore_service, whose policies let it see every blob. A
-- function's new owner needs CREATE on its schema at the moment ownership
-- is given, and only then: granted for the transfer, taken back after.
-- (Triggers need no EXECUTE to fire: the trigger function is callable by no one.)
revoke execute on function storage.object_scan_status(uuid) from public;
revoke execute on function storage.quarantine_written_object() from public;
grant execute on function storage.object_scan_status(uuid) to aerostore_anon, aerostore_authenticated, aerostore_service;
grant create on schema storage to aerostore_service;
alter function storage.object_scan_status(uuid) owner to aerostore_service;
alter function storage.quarantine_written_object() owner to aerostore_service;
revoke create on schema storage from aerostore_service;
