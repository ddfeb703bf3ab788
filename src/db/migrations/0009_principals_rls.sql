-- Principals and row-level security. Every request's statements run in a
-- transaction that sets its principal (src/db/session.ts):
--   set_config('role', 'aerostore_anon' | 'aerostore_authenticated' | 'aerostore_service', true)
--   set_config('request.jwt.claims', '{"sub": "<user uuid>", "role": "..."}', true)
-- and the policies below decide which rows it sees and may change. The
-- server's pool connects with aerostore_anon as its session role, so a
-- statement that forgets to set a principal sees only public rows and can
-- change nothing. The service role passes through explicit `using (true)`
-- policies (no BYPASSRLS: that would need a superuser to grant).

do $$
begin
  if not exists (select from pg_roles where rolname = 'aerostore_anon') then
    create role aerostore_anon nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'aerostore_authenticated') then
    create role aerostore_authenticated nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'aerostore_service') then
    create role aerostore_service nologin;
  end if;
  -- A non-superuser migrating role must be able to switch into them.
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant aerostore_anon, aerostore_authenticated, aerostore_service to %I', current_user);
  end if;
end $$;

-- The user id of the current principal, from the claims set for the
-- transaction (PostgREST's convention); null when anonymous.
create function storage.uid() returns uuid
language sql stable as $$
  select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;

-- Per-bucket options: members (any signed-in principal) may create objects
-- and overwrite or delete their own; anonymous principals may list a public
-- bucket.
alter table storage.buckets
  add column member_writes boolean not null default false,
  add column public_list boolean not null default false;

create index buckets_by_owner on storage.buckets (owner_id);
create index objects_by_owner on storage.objects (bucket_id, owner_id);

-- S3 access keys. The secret is AES-256-GCM under the server's master key
-- (src/principals/secret-box.ts); only the service role can see this table.
create table storage.access_keys (
  id                uuid primary key default gen_random_uuid(),
  access_key_id     text collate "C" not null unique,
  secret_encrypted  text not null,
  user_id           uuid not null,
  role              text not null check (role in ('authenticated', 'service')),
  name              text not null default '',
  created_at        timestamptz not null default now(),
  revoked_at        timestamptz
);

grant usage on schema storage to aerostore_anon, aerostore_authenticated, aerostore_service;
grant select on storage.buckets, storage.objects to aerostore_anon;
grant select, insert, update, delete on storage.buckets, storage.objects, storage.blobs,
  storage.multipart_uploads, storage.multipart_parts to aerostore_authenticated;
grant insert on storage.events to aerostore_authenticated;
grant usage on sequence storage.events_id_seq to aerostore_authenticated;
grant select, insert, update, delete on all tables in schema storage to aerostore_service;
grant usage on all sequences in schema storage to aerostore_service;

alter table storage.buckets enable row level security;
alter table storage.buckets force row level security;
alter table storage.objects enable row level security;
alter table storage.objects force row level security;
alter table storage.blobs enable row level security;
alter table storage.blobs force row level security;
alter table storage.multipart_uploads enable row level security;
alter table storage.multipart_uploads force row level security;
alter table storage.multipart_parts enable row level security;
alter table storage.multipart_parts force row level security;
alter table storage.events enable row level security;
alter table storage.events force row level security;
alter table storage.access_keys enable row level security;
alter table storage.access_keys force row level security;

-- The service role: everything, stated once per table.
create policy service_all on storage.buckets to aerostore_service using (true) with check (true);
create policy service_all on storage.objects to aerostore_service using (true) with check (true);
create policy service_all on storage.blobs to aerostore_service using (true) with check (true);
create policy service_all on storage.multipart_uploads to aerostore_service using (true) with check (true);
create policy service_all on storage.multipart_parts to aerostore_service using (true) with check (true);
create policy service_all on storage.events to aerostore_service using (true) with check (true);
create policy service_all on storage.access_keys to aerostore_service using (true) with check (true);

-- Buckets. Anonymous principals see public buckets. Signed-in principals
-- (the `authenticated` role with a user id in the claims) see public and
-- authenticated buckets, buckets open to member writes, and their own.
create policy anon_read on storage.buckets for select to aerostore_anon
  using (policy = 'public');
create policy member_read on storage.buckets for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (policy in ('public', 'authenticated') or member_writes or owner_id = (select storage.uid())));
create policy owner_insert on storage.buckets for insert to aerostore_authenticated
  with check (owner_id = (select storage.uid()));
create policy owner_update on storage.buckets for update to aerostore_authenticated
  using (owner_id = (select storage.uid())) with check (owner_id = (select storage.uid()));
create policy owner_delete on storage.buckets for delete to aerostore_authenticated
  using (owner_id = (select storage.uid()));

-- Objects. Read: a public bucket's objects by anyone; an authenticated
-- bucket's by any signed-in principal; a bucket owner reads all of the
-- bucket; an object owner reads the object. Write (insert, overwrite,
-- delete, retag): the bucket owner, or — in a bucket open to member writes
-- — the owner of the object, for objects it owns.
create policy anon_read on storage.objects for select to aerostore_anon
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_id and b.policy = 'public'));
create policy member_read on storage.objects for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (owner_id = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                         and (b.policy in ('public', 'authenticated') or b.owner_id = (select storage.uid())))));
create policy member_insert on storage.objects for insert to aerostore_authenticated
  with check (owner_id = (select storage.uid())
              and exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                          and (b.owner_id = (select storage.uid()) or b.member_writes)));
-- (Inside a sub-select on buckets, an unqualified owner_id would be the
-- bucket's: the object's columns are written objects.*.)
create policy member_update on storage.objects for update to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                 and (b.owner_id = (select storage.uid())
                      or (b.member_writes and objects.owner_id = (select storage.uid())))))
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                      and (b.owner_id = (select storage.uid())
                           or (b.member_writes and objects.owner_id = (select storage.uid())))));
create policy member_delete on storage.objects for delete to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                 and (b.owner_id = (select storage.uid())
                      or (b.member_writes and objects.owner_id = (select storage.uid())))));

-- Blobs and multipart state: whoever may write into the bucket maintains
-- them as part of its own writes.
create policy member_write on storage.blobs to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = blobs.bucket_id
                 and (b.owner_id = (select storage.uid()) or b.member_writes)))
  with check (exists (select 1 from storage.buckets b where b.id = blobs.bucket_id
                      and (b.owner_id = (select storage.uid()) or b.member_writes)));
create policy initiator_or_owner on storage.multipart_uploads to aerostore_authenticated
  using (owner_id = (select storage.uid())
         or exists (select 1 from storage.buckets b where b.id = multipart_uploads.bucket_id and b.owner_id = (select storage.uid())))
  with check (owner_id = (select storage.uid())
              and exists (select 1 from storage.buckets b where b.id = multipart_uploads.bucket_id
                          and (b.owner_id = (select storage.uid()) or b.member_writes)));
create policy of_visible_upload on storage.multipart_parts to aerostore_authenticated
  using (exists (select 1 from storage.multipart_uploads u where u.id = multipart_parts.upload_id))
  with check (exists (select 1 from storage.multipart_uploads u where u.id = multipart_parts.upload_id));

-- Events: a writer records the events of its own changes, about buckets it
-- may write into. Reading the stream goes through the server (service role).
create policy writer_insert on storage.events for insert to aerostore_authenticated
  with check (exists (select 1 from storage.buckets b where b.id = events.bucket_id
                      and (b.owner_id = (select storage.uid()) or b.member_writes)));
