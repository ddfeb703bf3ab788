-- Issue 17 §1 and §2: SQL policies govern every path, and Supabase's
-- storage policies run unchanged (README "The access model"; docs/
-- architecture.md "Policies decide every path").
--
-- Until now a policy you added could widen reads only: listing and every
-- write were first decided by the built-in presets in core/access.ts, which
-- no policy could widen. From now on the presets are only a fast path: when
-- they do not admit a write, the server asks Postgres with a trial of the
-- would-be row (storage.may_write_object: the insert, under the principal's
-- role and claims, undone at once — what Supabase Storage does with
-- storage.can_insert_object), and when they do not admit a listing or a
-- delete, whether a policy of yours could (storage.custom_policies_apply).
-- Row-level security then decides each row, as before.

-- 1. Supabase's vocabulary.
--
-- Its request roles, so that policies written `to anon`, `to authenticated`
-- or `to service_role` apply to aerostore's: each of aerostore's roles is a
-- member of its Supabase namesake, WITH INHERIT FALSE (a grant to
-- `authenticated` — a Supabase dump grants all on storage.objects — must not
-- give SQL sessions the write privileges they do not have, migration 0015)
-- and SET FALSE (no session switches into them). A policy applies to the
-- members of its roles whether or not they inherit privileges.
do $$
declare
  pair text[];
  -- INHERIT/SET options on a grant are Postgres 16's; older servers get a
  -- plain grant with NOINHERIT on the member.
  options text := case when current_setting('server_version_num')::int >= 160000 then ' with inherit true, set false' else '' end;
begin
  foreach pair slice 1 in array array[['anon', 'aerostore_anon'], ['authenticated', 'aerostore_authenticated'], ['service_role', 'aerostore_service']] loop
    if not exists (select from pg_roles where rolname = pair[1]) then
      execute format('create role %I nologin noinherit', pair[1]);
    end if;
    execute format('grant %I to %I', pair[1], pair[2]) || options;
  end loop;
end $$;

-- auth.uid(), auth.role(), auth.jwt(), auth.email(): the claims the server
-- sets for each transaction (db/session.ts), read as PostgREST and Supabase
-- read them. Left alone where a schema `auth` already defines them.
create schema if not exists auth;
do $$
begin
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb language sql stable as
      'select coalesce(nullif(current_setting(''request.jwt.claims'', true), ''''), ''{}'')::jsonb';
  end if;
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid language sql stable as
      'select nullif(nullif(current_setting(''request.jwt.claims'', true), '''')::jsonb ->> ''sub'', '''')::uuid';
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text language sql stable as
      'select nullif(current_setting(''request.jwt.claims'', true), '''')::jsonb ->> ''role''';
  end if;
  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text language sql stable as
      'select nullif(current_setting(''request.jwt.claims'', true), '''')::jsonb ->> ''email''';
  end if;
end $$;
grant usage on schema auth to aerostore_anon, aerostore_authenticated, aerostore_service;
grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
  to aerostore_anon, aerostore_authenticated, aerostore_service;

-- Supabase's helpers on an object's name, with its results: foldername of
-- 'a/b/c.png' is {a,b}, filename 'c.png', extension 'png' (the part after
-- the last dot; the whole name when there is none, as Supabase's does).
-- SQL, not PL/pgSQL, so a policy's call is inlined.
create function storage.foldername(name text) returns text[]
language sql immutable parallel safe as $$
  select (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1]
$$;
create function storage.filename(name text) returns text
language sql immutable parallel safe as $$
  select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)]
$$;
create function storage.extension(name text) returns text
language sql immutable parallel safe as $$
  select reverse(split_part(reverse(storage.filename(name)), '.', 1))
$$;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
  to aerostore_anon, aerostore_authenticated, aerostore_service;

-- The object's owner, as Supabase names it: `owner` the uuid (its
-- deprecated column, and the one aerostore stores, indexes and joins on),
-- `owner_id` the same id as text, so that Supabase's documented
-- `owner_id = (select auth.uid()::text)` means what it says. The policies
-- of earlier migrations follow the rename to the uuid.
alter table storage.objects rename column owner_id to owner;
-- The columns Supabase's policies name, computed from aerostore's (virtual:
-- nothing stored): `name` is the key, `path_tokens` its segments.
-- Supabase's `metadata` is not among them: a virtual column must be
-- immutable and jsonb_build_object is not; its facts are columns here
-- (size, etag, content_type, cache_control).
alter table storage.objects
  add column owner_id text generated always as (owner::text) virtual,
  add column name text collate "C" generated always as (key) virtual,
  add column path_tokens text[] generated always as (string_to_array(key, '/')) virtual;

-- `bucket_id` is the bucket's name, as in Supabase's schema, so that the
-- most common clause of its policies, bucket_id = 'avatars', means the
-- same here. The bucket row's id, which aerostore's own statements join
-- and index on, is now bucket_uuid. A bucket's name never changes and an
-- emptied bucket is the only one that can be deleted, so the copy cannot
-- go stale; the server writes both (core/objects.ts upsertObject). The
-- policies and the view of earlier migrations follow the rename; the
-- functions that named the column are written again below.
alter table storage.objects rename column bucket_id to bucket_uuid;
alter table storage.objects add column bucket_id text collate "C";
update storage.objects o set bucket_id = b.name from storage.buckets b where b.id = o.bucket_uuid;
alter table storage.objects alter column bucket_id set not null;

create or replace function storage.object_content_written() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  new.scan_status := 'pending';
  insert into storage.scan_jobs (bucket_id, sha256, scan)
  select new.bucket_uuid, new.sha256, b.scan_status = 'pending'
  from storage.blobs b where b.bucket_id = new.bucket_uuid and b.sha256 = new.sha256
  on conflict (bucket_id, sha256) do nothing;
  return new;
end $$;

create or replace function storage.object_acl(target_bucket uuid, object_key text)
returns table (owner_id uuid, acl text[], object_ownership text, bucket_owner_id uuid)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select o.owner, o.acl, b.object_ownership, b.owner_id
  from storage.objects o join storage.buckets b on b.id = o.bucket_uuid
  where o.bucket_uuid = target_bucket and o.key = object_key
    and (current_setting('role') = 'aerostore_service'
         or (storage.uid() is not null and storage.uid() in (b.owner_id, o.owner))
         or (o.acl && storage.acl_keys('READ_ACP')
             and b.object_ownership is distinct from 'BucketOwnerEnforced'))
$$;

create or replace function storage.put_object_acl(target_bucket uuid, object_key text, new_acl text[], expected_owner uuid) returns text
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  me uuid := storage.uid();
  service boolean := current_setting('role') = 'aerostore_service';
  o record;
begin
  select ob.id, ob.owner as owner_id, ob.acl, b.owner_id as bucket_owner_id, b.object_ownership into o
  from storage.objects ob join storage.buckets b on b.id = ob.bucket_uuid
  where ob.bucket_uuid = target_bucket and ob.key = object_key
  for update of ob;
  if not found then return 'missing'; end if;
  if not service and not coalesce(me in (o.bucket_owner_id, o.owner_id)
                                   or (o.acl && storage.acl_keys('WRITE_ACP')
                                       and o.object_ownership is distinct from 'BucketOwnerEnforced'), false) then
    return 'denied';
  end if;
  if o.owner_id is distinct from expected_owner then return 'changed'; end if;
  if o.object_ownership = 'BucketOwnerEnforced' and new_acl is not null then return 'disabled'; end if;
  if not service and not storage.acl_allowed(target_bucket, new_acl) then return 'refused'; end if;
  update storage.objects set acl = new_acl where id = o.id;
  return 'ok';
end $$;

-- 2. Policies decide every path.
--
-- The bookkeeping of a write (blob references, the multipart upload and its
-- parts, the write's events) follows the object row's decision: the server
-- writes it, as aerostore_writer, only in the transaction of an object
-- write that RLS admits, or for an upload the trial admitted. SQL sessions
-- cannot act as aerostore_writer (migration 0015), so these policies give
-- them nothing.
create policy writer_bookkeeping on storage.blobs to aerostore_writer using (true) with check (true);
create policy writer_events on storage.events for insert to aerostore_writer with check (true);
create policy writer_own_uploads on storage.multipart_uploads to aerostore_writer
  using (owner_id = (select storage.uid())) with check (owner_id = (select storage.uid()));
create policy writer_own_completions on storage.completed_uploads to aerostore_writer
  using (owner_id = (select storage.uid())) with check (owner_id = (select storage.uid()));

-- The trial: whether the current principal may write this row, asked of
-- the policies themselves. The insert (an overwrite: insert … on conflict
-- do update, so a key that exists needs what an upsert needs — the insert,
-- select and update policies, as Supabase documents it) runs in a
-- subtransaction that is always undone. Security invoker: RLS sees the
-- caller. A create-only write (`overwrite` false) asks the insert policy
-- only; an existing key is refused later, as a duplicate.
create function storage.may_write_object(target_bucket uuid, bucket_name text, object_key text, new_owner uuid, new_acl text[],
                                         content_type text, size bigint, user_metadata jsonb, overwrite boolean)
returns boolean language plpgsql volatile as $$
begin
  if overwrite then
    insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, content_type, user_metadata, owner, acl)
    values (target_bucket, bucket_name, object_key, coalesce(size, 0), '""', '', content_type, coalesce(user_metadata, '{}'), new_owner, new_acl)
    on conflict (bucket_uuid, key) do update set
      size = excluded.size, content_type = excluded.content_type, user_metadata = excluded.user_metadata,
      owner = excluded.owner, acl = excluded.acl, updated_at = now();
  else
    insert into storage.objects (bucket_uuid, bucket_id, key, size, etag, sha256, content_type, user_metadata, owner, acl)
    values (target_bucket, bucket_name, object_key, coalesce(size, 0), '""', '', content_type, coalesce(user_metadata, '{}'), new_owner, new_acl)
    on conflict (bucket_uuid, key) do nothing;
  end if;
  raise sqlstate 'AS001' using message = 'trial write undone';
exception
  when sqlstate 'AS001' then return true;
  when insufficient_privilege then return false;
end $$;
revoke execute on function storage.may_write_object(uuid, text, text, uuid, text[], text, bigint, jsonb, boolean) from public;
grant execute on function storage.may_write_object(uuid, text, text, uuid, text[], text, bigint, jsonb, boolean) to aerostore_writer;

-- The policies aerostore ships, by table and name; any other permissive
-- policy on these tables is one of yours.
create table storage.builtin_policies (
  table_name  text not null,
  policy_name text not null,
  primary key (table_name, policy_name)
);
alter table storage.builtin_policies enable row level security;
alter table storage.builtin_policies force row level security;
-- What ships is no secret (it is in these files); only migrations change it.
create policy readable on storage.builtin_policies for select using (true);
grant select on storage.builtin_policies to aerostore_anon, aerostore_authenticated, aerostore_service;

-- Whether one of your permissive policies for `command` (SELECT, INSERT,
-- UPDATE, DELETE) on storage.`target_table` applies to the current role: a
-- listing or a delete the presets do not admit is then run, and RLS shows
-- or removes the rows your policy admits. Security invoker: the current
-- role is the caller's.
create function storage.custom_policies_apply(target_table text, command text) returns boolean
language sql stable as $$
  select exists (
    select 1 from pg_catalog.pg_policies p
    where p.schemaname = 'storage' and p.tablename = target_table
      and p.permissive = 'PERMISSIVE' and p.cmd in (command, 'ALL')
      and not exists (select 1 from storage.builtin_policies b where b.table_name = p.tablename and b.policy_name = p.policyname)
      and exists (select 1 from unnest(p.roles) r where r = 'public' or pg_catalog.pg_has_role(r, 'MEMBER')))
$$;
grant execute on function storage.custom_policies_apply(text, text) to aerostore_anon, aerostore_authenticated, aerostore_service;

-- 3. Writes stay the server's (migration 0015) whatever reaches the request
-- roles through Supabase's: a dump that grants all on storage.objects to
-- `authenticated` gives aerostore_authenticated the privilege, and these
-- restrictive policies still refuse every write not made as
-- aerostore_writer. Shipped policies: not in builtin_policies' custom sense
-- (restrictive ones never widen).
do $$
declare
  t text;
begin
  foreach t in array array['buckets', 'objects', 'blobs', 'multipart_uploads', 'multipart_parts', 'events'] loop
    execute format('create policy server_inserts on storage.%I as restrictive for insert to aerostore_anon, aerostore_authenticated
                      with check (current_user = ''aerostore_writer'')', t);
    execute format('create policy server_updates on storage.%I as restrictive for update to aerostore_anon, aerostore_authenticated
                      using (current_user = ''aerostore_writer'')', t);
    execute format('create policy server_deletes on storage.%I as restrictive for delete to aerostore_anon, aerostore_authenticated
                      using (current_user = ''aerostore_writer'')', t);
  end loop;
end $$;

insert into storage.builtin_policies (table_name, policy_name)
  select tablename, policyname from pg_catalog.pg_policies where schemaname = 'storage';
