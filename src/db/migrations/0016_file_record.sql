-- The File Storage Blueprint's contract beside the Supabase and S3 ones
-- (issue 15): its file record, and its file.* event vocabulary. Both are
-- views of what is already stored — the objects table and the one event
-- outbox — never a second source of truth.

-- The original file name, when the upload carried one apart from the key: a
-- form part's filename, or the filename of a Content-Disposition sent with
-- the upload. Null: the key's last segment is the name.
alter table storage.objects add column filename text;

-- The name a record shows: the stored one, else the key's last segment.
create function storage.file_name(filename text, key text) returns text
language sql immutable parallel safe as $$
  select coalesce(filename, substring(key from '[^/]*$'))
$$;

-- The blueprint's file record, one row per object. security_invoker: a
-- reader sees exactly the objects the objects table's policies show it (and
-- the bucket's name when the buckets table's policies show it that too).
create view storage.files with (security_invoker = true) as
  select o.id as file_id,
    b.name as bucket,
    o.key,
    storage.file_name(o.filename, o.key) as filename,
    coalesce(o.content_type, 'application/octet-stream') as content_type,
    o.size as size_bytes,
    o.sha256 as checksum_sha256,
    'local'::text as storage_provider,
    o.owner_id as uploaded_by,
    o.updated_at as uploaded_at,
    o.scan_status
  from storage.objects o
  left join storage.buckets b on b.id = o.bucket_id;
grant select on storage.files to aerostore_anon, aerostore_authenticated, aerostore_service;

-- The blueprint's name for an event type; null: it has none (bucket events).
create function storage.blueprint_event_type(type text) returns text
language sql immutable parallel safe as $$
  select case type
    when 'storage.object.created' then 'file.uploaded'
    when 'storage.object.downloaded' then 'file.downloaded'
    when 'storage.object.deleted' then 'file.deleted'
    when 'storage.object.scanned' then 'file.scanned'
    when 'storage.object.quarantined' then 'file.quarantined'
  end
$$;

-- Who acted, as the blueprint names a principal: its user id, else its
-- access key id; null for an anonymous one.
create function storage.blueprint_actor(actor jsonb) returns text
language sql immutable parallel safe as $$
  select coalesce(actor->>'user_id', actor->>'access_key_id')
$$;

-- An event in the blueprint's vocabulary: an envelope (id, type, bucket,
-- key, timestamp) around `data`, which holds exactly the blueprint's fields
-- for the type. The same events as storage.event_json, from the same rows.
create function storage.blueprint_event_json(e storage.events) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', e.seq,
    'type', storage.blueprint_event_type(e.type),
    'bucket', e.bucket,
    'key', e.key,
    'timestamp', to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', case e.type
      when 'storage.object.created' then jsonb_build_object(
        'file_id', e.object_id,
        'filename', storage.file_name(e.payload->>'filename', e.key),
        'content_type', coalesce(e.payload->>'content_type', 'application/octet-stream'),
        'size_bytes', (e.payload->>'size')::bigint,
        'uploaded_by', e.owner_id)
      when 'storage.object.downloaded' then jsonb_build_object(
        'file_id', e.object_id,
        'downloaded_by', storage.blueprint_actor(e.actor))
      when 'storage.object.deleted' then jsonb_build_object(
        'file_id', e.object_id,
        'filename', storage.file_name(e.payload->>'filename', e.key),
        'deleted_by', storage.blueprint_actor(e.actor))
      when 'storage.object.scanned' then jsonb_build_object(
        'file_id', e.object_id,
        'scan_status', e.payload->>'verdict',
        'scan_engine', e.payload->>'engine')
      when 'storage.object.quarantined' then jsonb_build_object(
        'file_id', e.object_id,
        'threat_name', e.payload->>'signature',
        'uploaded_by', e.owner_id)
    end)
$$;

-- A webhook chooses its vocabulary; its deliveries are made in it, and its
-- event_types are named in it.
alter table storage.webhooks add column format text not null default 'storage'
  check (format in ('storage', 'blueprint'));

create or replace function storage.queue_webhook_deliveries() returns trigger language plpgsql as $$
declare
  queued integer;
begin
  insert into storage.webhook_deliveries (webhook_id, event_seq, event)
  select w.id, new.seq, case w.format when 'blueprint' then storage.blueprint_event_json(new) else storage.event_json(new) end
  from storage.webhooks w
  where w.bucket_id = new.bucket_id and w.enabled
    and (cardinality(w.event_types) = 0
         or (case w.format when 'blueprint' then storage.blueprint_event_type(new.type) else new.type end) = any (w.event_types))
    and starts_with(coalesce(new.key, ''), w.prefix)
    and (w.format <> 'blueprint' or storage.blueprint_event_type(new.type) is not null);
  get diagnostics queued = row_count;
  -- Wakes the delivery workers of every process at commit (one notification
  -- per transaction: Postgres folds identical ones).
  if queued > 0 then
    perform pg_notify('aerostore_webhooks', '');
  end if;
  return null;
end $$;
