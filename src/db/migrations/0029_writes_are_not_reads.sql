-- A write is not a read (issue 17 §5; found by test/access-cube.test.ts).
--
-- Postgres holds a write statement to the SELECT policies too: an upsert's
-- conflicting row, the rows a DELETE or UPDATE finds, and whatever RETURNING
-- returns must all be visible. So a bucket policy's Deny of s3:GetObject,
-- or IgnorePublicAcls, which only take away reads, also stopped the owner
-- overwriting the denied object (403) and deleting it (a DELETE that found
-- nothing: 204, and the object still there); and a user the policy lets
-- s3:PutObject a key it may not s3:GetObject could write it new but not
-- overwrite it. On S3 each action is its own permission.
--
-- The server's write transactions (src/db/session.ts asPrincipal) now say
-- so, with the transaction-local setting aerostore.writing, and under it:
--   - the two restrictive read policies step aside: the write statements'
--     own policies (insert, update, delete, and their Denies) decide;
--   - a row the bucket policy lets the principal overwrite or delete is
--     visible to the statement that does it.
-- Only aerostore_writer's transactions count: SQL sessions cannot act as it
-- (migration 0015) and write nothing, so setting aerostore.writing in one
-- changes nothing. Reads never run in a write transaction.
create function storage.writing() returns boolean
language sql stable parallel safe as $$
  select current_user = 'aerostore_writer' and coalesce(current_setting('aerostore.writing', true), '') = 'on'
$$;
grant execute on function storage.writing() to aerostore_anon, aerostore_authenticated, aerostore_service;

drop policy policy_deny_read on storage.objects;
create policy policy_deny_read on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using ((select storage.writing())
         or objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:getobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));

drop policy ignore_public_acls on storage.objects;
create policy ignore_public_acls on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using ((select storage.writing())
         or (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.ignore_public_acls)::uuid[])
             and not ((select coalesce((d.block ->> 'IgnorePublicAcls')::boolean, false) from storage.public_access_default d)
                      and objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f
                                                     where f.ignore_public_acls is not null)::uuid[])))
         or storage.readable_without_public_acls(objects.bucket_uuid, objects.owner, objects.acl, objects.key, objects.tags));

create policy policy_allow_write_select on storage.objects for select to aerostore_authenticated
  using ((select storage.writing())
         and objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
         and (storage.policy_rules_match((select storage.policy_rules('s3:putobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags)
              or storage.policy_rules_match((select storage.policy_rules('s3:deleteobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags)));

insert into storage.builtin_policies (table_name, policy_name)
  select tablename, policyname from pg_catalog.pg_policies where schemaname = 'storage'
on conflict do nothing;
