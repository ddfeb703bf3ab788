-- The audit trail (issue 15; README "Audit trail"): every upload, download
-- and deletion of an object — who, what, when and from where — for the
-- application and its compliance needs, kept longer than the event stream
-- (AEROSTORE_AUDIT_RETENTION_DAYS, default 365; events/retention.ts).
--
-- Uploads and deletions are recorded in the transaction of the change: a
-- trigger copies each storage.object.created / .deleted event as it is
-- inserted (the outbox already has one row per change, with its actor), so
-- a record exists exactly when its change committed. Downloads are written
-- by the server in batches (events/downloads.ts), as download events are:
-- a GET never waits for its record.
--
-- Append-only: no role may update a record, and only the service role may
-- delete (the pruning). The request roles read under row-level security;
-- nobody but the trigger's owner and the server's service role writes.
create table storage.audit_log (
  id               bigserial primary key,
  at               timestamptz not null default now(),
  action           text not null check (action in ('upload', 'download', 'delete')),
  bucket_id        uuid not null,
  bucket           text not null,
  key              text collate "C" not null,
  object_id        uuid,
  size             bigint,
  sha256           text,
  content_type     text,
  -- Who: the principal as events record it ({kind, via, user_id, role,
  -- access_key_id}, db/session.ts actorOf); its user and access key ids as
  -- columns, for the queries and the policy below.
  actor            jsonb not null,
  actor_id         uuid generated always as ((actor->>'user_id')::uuid) stored,
  access_key_id    text collate "C" generated always as (actor->>'access_key_id') stored,
  -- From where: the client's IP address (http/client-address.ts); null for
  -- work no client asked for.
  address          inet,
  -- Whose: the object's owner, and the bucket's owner at the time.
  owner_id         uuid,
  bucket_owner_id  uuid,
  -- What else the action says: replaced and copied_from (upload), range (download).
  detail           jsonb not null default '{}'
);
-- The queries of events/audit.ts: newest first, by time, actor or bucket and key prefix.
create index audit_log_by_time on storage.audit_log (at, id);
create index audit_log_by_actor on storage.audit_log (actor_id, at) where actor_id is not null;
create index audit_log_by_access_key on storage.audit_log (access_key_id, at) where access_key_id is not null;
create index audit_log_by_key on storage.audit_log (bucket, key);

-- Reading: a signed-in user sees what it did, what was done to its objects,
-- and what was done in its buckets. The anonymous role reads nothing (no
-- privilege); the service role everything.
alter table storage.audit_log enable row level security;
alter table storage.audit_log force row level security;
grant select on storage.audit_log to aerostore_authenticated;
grant select, insert, delete on storage.audit_log to aerostore_service;
grant usage on sequence storage.audit_log_id_seq to aerostore_service;
create policy service_all on storage.audit_log to aerostore_service using (true) with check (true);
create policy party_read on storage.audit_log for select to aerostore_authenticated
  using ((select storage.uid()) in (actor_id, owner_id, bucket_owner_id));

-- Uploads and deletions, from the events of the inserting statement (one
-- insert per statement: a batch delete of 1,000 keys is one). The address
-- is the one the server set for the transaction beside aerostore.actor
-- (db/session.ts). Runs as aerostore_service: writers cannot insert records.
create function storage.audit_object_changes() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  insert into storage.audit_log
    (at, action, bucket_id, bucket, key, object_id, size, sha256, content_type, actor, address, owner_id, bucket_owner_id, detail)
  select e.created_at,
    case e.type when 'storage.object.created' then 'upload' else 'delete' end,
    e.bucket_id, e.bucket, e.key, e.object_id,
    (e.payload->>'size')::bigint, e.payload->>'sha256', e.payload->>'content_type',
    coalesce(e.actor, '{"kind": "unknown"}'),
    nullif(current_setting('aerostore.client_address', true), '')::inet,
    coalesce(e.owner_id, (e.payload->>'owner_id')::uuid), b.owner_id,
    jsonb_strip_nulls(jsonb_build_object('replaced', e.payload->'replaced', 'copied_from', e.payload->'copied_from'))
  from new_events e
  left join storage.buckets b on b.id = e.bucket_id
  where e.type in ('storage.object.created', 'storage.object.deleted');
  return null;
end $$;
create trigger events_audited after insert on storage.events
  referencing new table as new_events
  for each statement execute function storage.audit_object_changes();

revoke execute on function storage.audit_object_changes() from public;
grant create on schema storage to aerostore_service;
alter function storage.audit_object_changes() owner to aerostore_service;
revoke create on schema storage from aerostore_service;
