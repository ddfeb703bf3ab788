-- S3 ACLs (issue 17 §4; docs/architecture.md "ACLs and Object Ownership").
--
-- An object may carry its own access control list, beside its bucket's read
-- policy: a `public-read` object in a private bucket is readable by anyone,
-- its neighbours stay private. Row-level security reads the list, so S3,
-- /storage/v1 and SQL sessions under the request roles see the same rows.
--
-- A list is stored as text[], one entry per grant, '<PERMISSION>:<grantee>':
--   PERMISSION  READ | WRITE | READ_ACP | WRITE_ACP | FULL_CONTROL
--   grantee     a user id (the principal's uuid, its S3 canonical id),
--               'aerostore' (the canonical id of the root key, which has no
--               user id), or a group: AllUsers, AuthenticatedUsers, LogDelivery
-- e.g. {FULL_CONTROL:<owner>,READ:AllUsers} is the canned public-read. Null
-- is the default list: the owner's FULL_CONTROL and nothing else. Matching a
-- principal is one array overlap (&&) against the few entries that would
-- grant it (storage.acl_keys), and for a row whose list matched, a look in
-- the list of buckets with ACLs disabled: both computed once per statement,
-- no join and no function call per row.

-- The object's own list; the one a multipart upload's object gets at
-- completion (x-amz-acl / x-amz-grant-* on CreateMultipartUpload).
alter table storage.objects add column acl text[];
alter table storage.multipart_uploads add column acl text[];

-- Object Ownership (Put/GetBucketOwnershipControls): null is a bucket with
-- no ownership controls, which behaves as ObjectWriter — the object's writer
-- owns it and its ACL applies. BucketOwnerPreferred: an object written with
-- the bucket owner's FULL_CONTROL (bucket-owner-full-control) belongs to the
-- bucket owner. BucketOwnerEnforced: ACLs are disabled — object lists are
-- ignored by the policies below, and the server refuses requests that set one.
-- The bucket's own grants beyond its read preset (policy, public_list,
-- member_writes stand for the AllUsers and AuthenticatedUsers grants):
-- LogDelivery's, as log-delivery-write sets them (no log delivery here:
-- they grant nothing, and are reported as set).
alter table storage.buckets
  add column object_ownership text
    check (object_ownership in ('BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter')),
  add column acl text[];

-- The entries of a list that would give the current principal `permission`
-- (or FULL_CONTROL): anyone is AllUsers; a signed-in user is also
-- AuthenticatedUsers and its own id. One expression, so the planner inlines
-- it; policies call it as (select storage.acl_keys(...)), an init plan
-- computed once per statement.
create function storage.acl_keys(permission text) returns text[]
language sql stable parallel safe as $$
  select array[permission || ':AllUsers', 'FULL_CONTROL:AllUsers']
    || case when storage.uid() is null then '{}'::text[]
            else array[permission || ':AuthenticatedUsers', 'FULL_CONTROL:AuthenticatedUsers',
                       permission || ':' || storage.uid(), 'FULL_CONTROL:' || storage.uid()] end
$$;

-- The buckets whose object lists do not count (BucketOwnerEnforced), seen
-- as the service role: an anonymous reader cannot see a private bucket's
-- row, and must not take "no row" for "ACLs enabled". Policies call it as
-- (select storage.acl_disabled_buckets()), an init plan evaluated once per
-- statement, and only when a row's list matched.
create function storage.acl_disabled_buckets() returns uuid[]
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select coalesce(array_agg(b.id), '{}') from storage.buckets b where b.object_ownership = 'BucketOwnerEnforced'
$$;

-- Whether the current principal may give an object in `bucket` this list
-- (on a write, PutObjectAcl): ACLs must be enabled; and a grant to a group
-- (AllUsers, AuthenticatedUsers) is the bucket owner's to give — anyone
-- else (a member writing into the bucket, a WRITE_ACP grantee) may grant a
-- group only what the bucket's read policy already grants it. So a member of
-- a member-writes bucket cannot turn the owner's private bucket into public
-- hosting, one object at a time; named users it may grant.
create function storage.acl_allowed(target_bucket uuid, list text[]) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select list is null or coalesce((
    select b.object_ownership is distinct from 'BucketOwnerEnforced'
       and (b.owner_id = storage.uid()
            or ((b.policy = 'public'
                 or not list && '{READ:AllUsers,WRITE:AllUsers,READ_ACP:AllUsers,WRITE_ACP:AllUsers,FULL_CONTROL:AllUsers}'::text[])
                and (b.policy in ('public', 'authenticated')
                     or not list && '{READ:AuthenticatedUsers,WRITE:AuthenticatedUsers,READ_ACP:AuthenticatedUsers,WRITE_ACP:AuthenticatedUsers,FULL_CONTROL:AuthenticatedUsers}'::text[])))
    from storage.buckets b where b.id = target_bucket), false)
$$;

-- Reading objects: as before (the bucket's read policy, the bucket owner,
-- the object's owner), or a READ (FULL_CONTROL) grant in the object's list
-- to the principal, its group or everyone, where ACLs apply. The list is
-- looked at last: whoever reads by the bucket's rules (its owner listing
-- it) never pays for it.
drop policy anon_read on storage.objects;
create policy anon_read on storage.objects for select to aerostore_anon
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_id and b.policy = 'public')
         or (objects.acl && (select storage.acl_keys('READ'))
             and objects.bucket_id <> all ((select storage.acl_disabled_buckets())::uuid[])));
drop policy member_read on storage.objects;
create policy member_read on storage.objects for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (owner_id = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                         and (b.policy in ('public', 'authenticated') or b.owner_id = (select storage.uid())))
              or (objects.acl && (select storage.acl_keys('READ'))
                  and objects.bucket_id <> all ((select storage.acl_disabled_buckets())::uuid[]))));

-- Writing objects: as before, and in a BucketOwnerPreferred bucket the
-- writer may make the bucket owner the object's owner (what
-- bucket-owner-full-control asks for there).
drop policy member_insert on storage.objects;
create policy member_insert on storage.objects for insert to aerostore_authenticated
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                      and (b.owner_id = (select storage.uid()) or b.member_writes)
                      and (objects.owner_id = (select storage.uid())
                           or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner_id is not distinct from b.owner_id))));
drop policy member_update on storage.objects;
create policy member_update on storage.objects for update to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                 and (b.owner_id = (select storage.uid())
                      or (b.member_writes and objects.owner_id = (select storage.uid())))))
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_id
                      and (b.owner_id = (select storage.uid())
                           or (b.member_writes
                               and (objects.owner_id = (select storage.uid())
                                    or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner_id is not distinct from b.owner_id))))));
-- And whatever list a write gives an object must be one its writer may give.
create policy acl_allowed_insert on storage.objects as restrictive for insert to aerostore_authenticated
  with check (objects.acl is null or storage.acl_allowed(objects.bucket_id, objects.acl));
create policy acl_allowed_update on storage.objects as restrictive for update to aerostore_authenticated
  using (true)
  with check (objects.acl is null or storage.acl_allowed(objects.bucket_id, objects.acl));
create policy acl_allowed on storage.multipart_uploads as restrictive for all to aerostore_authenticated
  using (true)
  with check (multipart_uploads.acl is null or storage.acl_allowed(multipart_uploads.bucket_id, multipart_uploads.acl));

-- The ACL itself (GetObjectAcl, PutObjectAcl). READ_ACP and WRITE_ACP are
-- separate from READ: a principal granted READ_ACP alone must read the list
-- but not the object, and one granted WRITE_ACP must change the list and
-- nothing else of the row — which a row policy cannot say. So the list is
-- read and written through these two functions, which hold the rule:
--   read:  the service role, the bucket owner, the object's owner, or a
--          READ_ACP (FULL_CONTROL) grant while ACLs apply;
--   write: the service role, the bucket owner, the object's owner, or a
--          WRITE_ACP (FULL_CONTROL) grant, while ACLs apply, and only a list
--          storage.acl_allowed lets the principal give.
-- They run as aerostore_service (they must see rows the caller may not
-- read) and take the caller's identity from its role and claims.

-- The object's ACL, if the caller may read it; no row otherwise (missing,
-- or not the caller's to read). Callable by the request roles: a SQL
-- session reads what GetObjectAcl answers.
create function storage.object_acl(target_bucket uuid, object_key text)
returns table (owner_id uuid, acl text[], object_ownership text, bucket_owner_id uuid)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select o.owner_id, o.acl, b.object_ownership, b.owner_id
  from storage.objects o join storage.buckets b on b.id = o.bucket_id
  where o.bucket_id = target_bucket and o.key = object_key
    and (current_setting('role') = 'aerostore_service'
         or (storage.uid() is not null and storage.uid() in (b.owner_id, o.owner_id))
         or (o.acl && storage.acl_keys('READ_ACP')
             and b.object_ownership is distinct from 'BucketOwnerEnforced'))
$$;

-- Replaces the object's ACL. Answers 'ok'; 'missing' (no such key);
-- 'denied' (not the caller's to change); 'changed' (the object's owner is
-- no longer `expected_owner`, whom a canned list the caller computed names:
-- compute it again); 'disabled' (BucketOwnerEnforced); 'refused' (a list
-- the caller may not give: storage.acl_allowed). The server's writer only:
-- SQL sessions under the request roles write nothing.
create function storage.put_object_acl(target_bucket uuid, object_key text, new_acl text[], expected_owner uuid) returns text
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  me uuid := storage.uid();
  service boolean := current_setting('role') = 'aerostore_service';
  o record;
begin
  select ob.id, ob.owner_id, ob.acl, b.owner_id as bucket_owner_id, b.object_ownership into o
  from storage.objects ob join storage.buckets b on b.id = ob.bucket_id
  where ob.bucket_id = target_bucket and ob.key = object_key
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

grant execute on function storage.acl_keys(text), storage.acl_disabled_buckets(), storage.acl_allowed(uuid, text[]),
  storage.object_acl(uuid, text) to aerostore_anon, aerostore_authenticated, aerostore_service;
revoke execute on function storage.put_object_acl(uuid, text, text[], uuid) from public;
grant execute on function storage.put_object_acl(uuid, text, text[], uuid) to aerostore_writer, aerostore_service;

-- Owned by the service role, as the scan trigger's function is (migration
-- 0015): a security definer function sees what its owner's policies show.
grant create on schema storage to aerostore_service;
alter function storage.acl_disabled_buckets() owner to aerostore_service;
alter function storage.acl_allowed(uuid, text[]) owner to aerostore_service;
alter function storage.object_acl(uuid, text) owner to aerostore_service;
alter function storage.put_object_acl(uuid, text, text[], uuid) owner to aerostore_service;
revoke create on schema storage from aerostore_service;
