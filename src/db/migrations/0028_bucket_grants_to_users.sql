-- Bucket ACL grants to named users (issue 17 §4; README "ACLs").
--
-- A bucket's ACL may now name users besides the groups its presets stand
-- for: `aws s3api put-bucket-acl --grant-read id=<user>` and the like. The
-- grants are kept in storage.buckets.acl as objects' are ('READ:<user id>'),
-- and mean what the group grants of the presets mean, for that user alone:
--   READ          read and list the bucket's objects (as `authenticated`)
--   WRITE         write into it as a member does (member_writes): create
--                 objects, overwrite and delete its own
--   READ_ACP      read the bucket's ACL
--   WRITE_ACP     change its grants to users (the group grants — the read
--                 preset — stay the owner's to give)
--   FULL_CONTROL  all four
-- They are matched as objects' are, one array overlap against the keys that
-- would grant the current principal (storage.acl_keys). A bucket with
-- Object Ownership BucketOwnerEnforced has no such grants (the server
-- refuses them there, and refuses the setting while they exist).

-- The bucket row: visible to a user it grants anything.
create function storage.acl_any_keys() returns text[]
language sql stable parallel safe as $$
  select case when storage.uid() is null then '{}'::text[]
              else array(select p || ':' || storage.uid() from unnest(array['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL']) p) end
$$;
grant execute on function storage.acl_any_keys() to aerostore_anon, aerostore_authenticated, aerostore_service;

drop policy member_read on storage.buckets;
create policy member_read on storage.buckets for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (policy in ('public', 'authenticated') or member_writes or owner_id = (select storage.uid())
              or acl && (select storage.acl_any_keys())));

-- Objects: a READ grant on the bucket reads every object in it; a WRITE
-- grant writes as member_writes does. The bucket's list is looked at in the
-- bucket row the policies already join.
drop policy member_read on storage.objects;
create policy member_read on storage.objects for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (owner = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                         and (b.policy in ('public', 'authenticated') or b.owner_id = (select storage.uid())
                              or b.acl && (select storage.acl_keys('READ'))))
              or (objects.acl && (select storage.acl_keys('READ'))
                  and objects.bucket_uuid <> all ((select storage.acl_disabled_buckets())::uuid[]))));

drop policy member_insert on storage.objects;
create policy member_insert on storage.objects for insert to aerostore_authenticated
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                      and (b.owner_id = (select storage.uid()) or b.member_writes or b.acl && (select storage.acl_keys('WRITE')))
                      and (objects.owner = (select storage.uid())
                           or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner is not distinct from b.owner_id))));

drop policy member_update on storage.objects;
create policy member_update on storage.objects for update to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                 and (b.owner_id = (select storage.uid())
                      or ((b.member_writes or b.acl && (select storage.acl_keys('WRITE')))
                          and objects.owner = (select storage.uid())))))
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                      and (b.owner_id = (select storage.uid())
                           or ((b.member_writes or b.acl && (select storage.acl_keys('WRITE')))
                               and (objects.owner = (select storage.uid())
                                    or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner is not distinct from b.owner_id))))));

drop policy member_delete on storage.objects;
create policy member_delete on storage.objects for delete to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                 and (b.owner_id = (select storage.uid())
                      or ((b.member_writes or b.acl && (select storage.acl_keys('WRITE')))
                          and objects.owner = (select storage.uid())))));

-- The bucket's ACL (GetBucketAcl, PutBucketAcl). As with objects' lists
-- (migration 0021), READ_ACP and WRITE_ACP say nothing about the rest of the
-- row, which a row policy cannot express; these two functions hold the rule:
--   read:  the service role, the bucket's owner, a READ_ACP grantee;
--   write: the service role, the bucket's owner, a WRITE_ACP grantee — who
--          may change the grants to users but not the read preset (policy,
--          public_list, member_writes: the group grants), which stays the
--          owner's to give.
create function storage.bucket_acl(target_bucket uuid)
returns table (owner_id uuid, policy text, member_writes boolean, acl text[])
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select b.owner_id, b.policy, b.member_writes, b.acl
  from storage.buckets b
  where b.id = target_bucket
    and (current_setting('role') = 'aerostore_service'
         or (storage.uid() is not null and storage.uid() = b.owner_id)
         or b.acl && storage.acl_keys('READ_ACP'))
$$;

create function storage.put_bucket_acl(target_bucket uuid, new_policy text, new_public_list boolean, new_member_writes boolean, new_acl text[])
returns text
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  me uuid := storage.uid();
  b record;
begin
  select bk.owner_id, bk.policy, bk.public_list, bk.member_writes, bk.acl, bk.object_ownership into b
  from storage.buckets bk where bk.id = target_bucket for update;
  if not found then return 'missing'; end if;
  if current_setting('role') <> 'aerostore_service' and me is distinct from b.owner_id then
    if not coalesce(b.acl && storage.acl_keys('WRITE_ACP'), false) then return 'denied'; end if;
    if (new_policy, new_public_list, new_member_writes) is distinct from (b.policy, b.public_list, b.member_writes) then
      return 'refused';
    end if;
  end if;
  if b.object_ownership = 'BucketOwnerEnforced' and new_acl is not null then return 'disabled'; end if;
  update storage.buckets set policy = new_policy, public_list = new_public_list, member_writes = new_member_writes, acl = new_acl
  where id = target_bucket;
  return 'ok';
end $$;
revoke execute on function storage.bucket_acl(uuid), storage.put_bucket_acl(uuid, text, boolean, boolean, text[]) from public;
grant execute on function storage.bucket_acl(uuid) to aerostore_anon, aerostore_authenticated, aerostore_service;
-- Changing it is a write: the server's (aerostore_writer), never a SQL session's.
grant execute on function storage.put_bucket_acl(uuid, text, boolean, boolean, text[]) to aerostore_writer, aerostore_service;

insert into storage.builtin_policies (table_name, policy_name)
  select tablename, policyname from pg_catalog.pg_policies where schemaname = 'storage'
on conflict do nothing;
