-- The same rules as migrations 0028 and 0029, with fewer subplans.
--
-- Postgres sets up every subplan of a statement's policies each time the
-- statement runs, whether or not its row ever reaches them: each `(select
-- …)` costs a few µs of executor start-up per statement, which is a
-- noticeable share of a one-row GET (≈ 130 µs of Postgres time). 0028 and
-- 0029 added six to every read (a bucket's named-user grants as an init
-- plan; aerostore.writing in two restrictive policies and a permissive
-- policy of four): +30 % per lookup (scripts/bench/rls-cost.ts). Here:
--   - a bucket's grants are matched inline (storage.acl_keys is an
--     inlined SQL function), reached only when nothing cheaper admitted;
--   - aerostore.writing empties the arrays the two restrictive read
--     policies already compute, instead of being asked beside them;
--   - the rows a write may see by the bucket policy (its s3:PutObject and
--     s3:DeleteObject Allows) come from policy_allow_read's own rules,
--     which storage.select_allow_rules widens in write transactions.

drop policy member_read on storage.objects;
create policy member_read on storage.objects for select to aerostore_authenticated
  using ((select storage.uid()) is not null
         and (owner = (select storage.uid())
              or exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                         and (b.policy in ('public', 'authenticated') or b.owner_id = (select storage.uid())
                              or b.acl && storage.acl_keys('READ')))
              or (objects.acl && (select storage.acl_keys('READ'))
                  and objects.bucket_uuid <> all ((select storage.acl_disabled_buckets())::uuid[]))));

drop policy member_insert on storage.objects;
create policy member_insert on storage.objects for insert to aerostore_authenticated
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                      and (b.owner_id = (select storage.uid()) or b.member_writes or b.acl && storage.acl_keys('WRITE'))
                      and (objects.owner = (select storage.uid())
                           or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner is not distinct from b.owner_id))));

drop policy member_update on storage.objects;
create policy member_update on storage.objects for update to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                 and (b.owner_id = (select storage.uid())
                      or ((b.member_writes or b.acl && storage.acl_keys('WRITE'))
                          and objects.owner = (select storage.uid())))))
  with check (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                      and (b.owner_id = (select storage.uid())
                           or ((b.member_writes or b.acl && storage.acl_keys('WRITE'))
                               and (objects.owner = (select storage.uid())
                                    or (b.object_ownership = 'BucketOwnerPreferred' and objects.owner is not distinct from b.owner_id))))));

drop policy member_delete on storage.objects;
create policy member_delete on storage.objects for delete to aerostore_authenticated
  using (exists (select 1 from storage.buckets b where b.id = objects.bucket_uuid
                 and (b.owner_id = (select storage.uid())
                      or ((b.member_writes or b.acl && storage.acl_keys('WRITE'))
                          and objects.owner = (select storage.uid())))));

drop policy policy_deny_read on storage.objects;
create policy policy_deny_read on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f
                                      where f.has_policy and not storage.writing())::uuid[])
         or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:getobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));

drop policy ignore_public_acls on storage.objects;
create policy ignore_public_acls on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using ((objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f
                                       where f.ignore_public_acls and not storage.writing())::uuid[])
          and not ((select coalesce((d.block ->> 'IgnorePublicAcls')::boolean, false) and not storage.writing() from storage.public_access_default d)
                   and objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f
                                                  where f.ignore_public_acls is not null)::uuid[])))
         or storage.readable_without_public_acls(objects.bucket_uuid, objects.owner, objects.acl, objects.key, objects.tags));

-- The Allow rules that show a row: s3:GetObject's; in a write transaction
-- also those of the writes it may make (0029), so that the upsert or delete
-- that an Allow of s3:PutObject or s3:DeleteObject admits can see its row.
create function storage.select_allow_rules() returns storage.policy_rule[]
language sql stable as $$
  select case when storage.writing()
              then storage.policy_rules('s3:getobject', 'Allow') || storage.policy_rules('s3:putobject', 'Allow')
                   || storage.policy_rules('s3:deleteobject', 'Allow')
              else storage.policy_rules('s3:getobject', 'Allow') end
$$;
grant execute on function storage.select_allow_rules() to aerostore_anon, aerostore_authenticated, aerostore_service;

drop policy policy_allow_write_select on storage.objects;
delete from storage.builtin_policies where table_name = 'objects' and policy_name = 'policy_allow_write_select';
drop policy policy_allow_read on storage.objects;
create policy policy_allow_read on storage.objects for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
         and storage.policy_rules_match((select storage.select_allow_rules()), objects.bucket_uuid, objects.key, objects.tags));
