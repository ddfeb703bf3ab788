-- Events, virus scanning and webhooks (issue 6; docs/architecture.md "Events").
--
-- Events. Every change already writes its event row in its own transaction
-- (the outbox). Their `id` is a bigserial: assigned at insert, so a
-- transaction that commits late can make a smaller id visible after a larger
-- one, and a subscriber resuming "after id N" would miss it. So the public,
-- monotonic event id is `seq`, given by the sequencer (src/events/sequencer.ts):
-- one transaction at a time (an advisory lock), it numbers every committed,
-- unnumbered row in id order from a counter. A number once visible is never
-- followed by a smaller one, and there are no gaps.
alter table storage.events
  add column seq bigint unique,
  -- Whose object (or bucket) the event is about: RLS shows it to them.
  add column owner_id uuid,
  -- Who did it: {kind, via, user_id, role, access_key_id}, set by the server
  -- for each write transaction (db/session.ts) and read here by default.
  add column actor jsonb default nullif(current_setting('aerostore.actor', true), '')::jsonb;
create index events_unsequenced on storage.events (id) where seq is null;

create table storage.event_counter (
  one       boolean primary key default true check (one),
  last_seq  bigint not null
);
insert into storage.event_counter values (true, 0);

-- New rows wake the sequencer in every process (NOTIFY is sent at commit).
create function storage.events_inserted() returns trigger language plpgsql as $$
begin
  perform pg_notify('aerostore_events', '');
  return null;
end $$;
create trigger events_inserted after insert on storage.events
  for each statement execute function storage.events_inserted();

-- An event as subscribers and webhooks receive it: one shape, made here.
create function storage.event_json(e storage.events) returns jsonb language sql stable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'id', e.seq,
    'type', e.type,
    'bucket', e.bucket,
    'path', e.key,
    'object_id', e.object_id,
    'owner_id', coalesce(e.owner_id::text, e.payload->>'owner_id'),
    'size', (e.payload->>'size')::bigint,
    'content_type', e.payload->>'content_type',
    'sha256', e.payload->>'sha256',
    'etag', e.payload->>'etag',
    'actor', e.actor,
    'timestamp', to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )) || (e.payload - array['size', 'content_type', 'sha256', 'etag', 'owner_id'])
$$;

-- Downloads are recorded only in buckets that ask for them (they are many).
alter table storage.buckets add column download_events boolean not null default false;

-- Reading events: what the reader may read. An object's events follow the
-- objects read policy (public and authenticated buckets, the bucket owner,
-- the object's owner) on the event's own columns, so a deleted object's
-- events stay visible to the same people; a bucket's events to its owner.
grant select on storage.events to aerostore_anon, aerostore_authenticated;
create policy anon_read on storage.events for select to aerostore_anon
  using (exists (select 1 from storage.buckets b where b.id = events.bucket_id and b.policy = 'public'));
create policy member_read on storage.events for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (events.owner_id = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = events.bucket_id
                         and (b.policy in ('public', 'authenticated') or b.owner_id = (select storage.uid())))));
-- A writer may only record itself as the actor.
drop policy writer_insert on storage.events;
create policy writer_insert on storage.events for insert to aerostore_authenticated
  with check (exists (select 1 from storage.buckets b where b.id = events.bucket_id
                      and (b.owner_id = (select storage.uid()) or b.member_writes))
              and events.actor->>'user_id' = (select storage.uid())::text);

-- Scanning. The verdict lives on the blob: deduplicated content is scanned
-- once, and an object is quarantined exactly when its blob is infected.
alter table storage.blobs
  add column scan_status text not null default 'pending'
    check (scan_status in ('pending', 'clean', 'infected', 'unscanned')),
  add column scan_signature text,
  add column scan_engine text,
  add column scan_note text,
  add column scanned_at timestamptz;
create index blobs_by_scan_status on storage.blobs (scan_status) where scan_status <> 'clean';

-- The scan queue: one job per blob, taken FOR UPDATE SKIP LOCKED by the
-- workers of every process (src/scanning/). A blob's collection removes its job.
create table storage.scan_jobs (
  bucket_id    uuid not null,
  sha256       text collate "C" not null,
  attempts     integer not null default 0,
  run_after    timestamptz not null default now(),
  last_error   text,
  enqueued_at  timestamptz not null default now(),
  primary key (bucket_id, sha256),
  foreign key (bucket_id, sha256) references storage.blobs (bucket_id, sha256) on delete cascade
);
create index scan_jobs_due on storage.scan_jobs (run_after);

-- A new blob is queued by whoever inserted it: a writer may add the job of a
-- blob it can see, nothing more.
create function storage.enqueue_scan() returns trigger language plpgsql as $$
begin
  insert into storage.scan_jobs (bucket_id, sha256) values (new.bucket_id, new.sha256) on conflict do nothing;
  return null;
end $$;
create trigger blobs_enqueue_scan after insert on storage.blobs
  for each row execute function storage.enqueue_scan();

-- Webhooks: per-bucket subscriptions. The secret is sealed like an access
-- key's (secret-box, the master key). Deliveries are made by the sequencer
-- for each matching event, and worked off FOR UPDATE SKIP LOCKED.
create table storage.webhooks (
  id                uuid primary key default gen_random_uuid(),
  bucket_id         uuid not null references storage.buckets(id) on delete cascade,
  url               text not null,
  -- Empty: every type.
  event_types       text[] not null default '{}',
  prefix            text collate "C" not null default '',
  secret_sealed     bytea not null,
  enabled           boolean not null default true,
  created_at        timestamptz not null default now()
);
create index webhooks_by_bucket on storage.webhooks (bucket_id) where enabled;

create table storage.webhook_deliveries (
  id            bigserial primary key,
  webhook_id    uuid not null references storage.webhooks(id) on delete cascade,
  event_seq     bigint not null,
  event         jsonb not null,
  state         text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
  attempts      integer not null default 0,
  run_after     timestamptz not null default now(),
  last_status   integer,
  last_error    text,
  delivered_at  timestamptz,
  created_at    timestamptz not null default now(),
  unique (webhook_id, event_seq)
);
create index webhook_deliveries_due on storage.webhook_deliveries (run_after) where state = 'pending';

-- Otherwise only the server (service role) touches the queues, counters and hooks.
grant select, insert, update, delete on storage.event_counter, storage.scan_jobs, storage.webhooks, storage.webhook_deliveries to aerostore_service;
grant usage on sequence storage.webhook_deliveries_id_seq to aerostore_service;
grant insert on storage.scan_jobs to aerostore_authenticated;
alter table storage.event_counter enable row level security;
alter table storage.event_counter force row level security;
alter table storage.scan_jobs enable row level security;
alter table storage.scan_jobs force row level security;
alter table storage.webhooks enable row level security;
alter table storage.webhooks force row level security;
alter table storage.webhook_deliveries enable row level security;
alter table storage.webhook_deliveries force row level security;
create policy writer_enqueue on storage.scan_jobs for insert to aerostore_authenticated
  with check (exists (select 1 from storage.blobs b where b.bucket_id = scan_jobs.bucket_id and b.sha256 = scan_jobs.sha256));
create policy service_all on storage.event_counter to aerostore_service using (true) with check (true);
create policy service_all on storage.scan_jobs to aerostore_service using (true) with check (true);
create policy service_all on storage.webhooks to aerostore_service using (true) with check (true);
create policy service_all on storage.webhook_deliveries to aerostore_service using (true) with check (true);
