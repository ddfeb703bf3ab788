-- Bucket policies and Block Public Access (issue 17 §5, §6;
-- docs/architecture.md "Bucket policies"; docs/security.md).
--
-- A bucket may carry an IAM policy document. The server validates it and
-- compiles it (src/core/bucket-policy.ts) into a normalised list of
-- statements, stored beside the document as sent; the functions below
-- evaluate that list against the current principal (storage.uid(), the
-- role) and the request's facts (request.context, set per transaction like
-- request.jwt.claims), and row-level security asks them for every object
-- row of a bucket that has a policy — so S3, /storage/v1 and SQL sessions
-- under the request roles agree. Explicit Deny beats Allow beats the
-- implicit deny, and a policy combines with the presets, ACLs and SQL
-- policies as S3 combines a bucket policy with ACLs: an Allow widens (an
-- extra permissive policy per command), a Deny refuses whatever else allows
-- (a restrictive policy per command), even the bucket owner's user. The
-- service role (the root key) is not subject to bucket policies, as an AWS
-- account's root user is not subject to its own bucket's policy: none of
-- these policies is written `to aerostore_service`.
--
-- Buckets without a policy pay nothing: every policy first asks whether the
-- row's bucket is in a list computed once per statement (an init plan), as
-- 0021's storage.acl_disabled_buckets() does.

-- The document as PutBucketPolicy sent it (GetBucketPolicy answers it), its
-- compiled statements, and whether S3 would call it public (GetBucketPolicyStatus,
-- RestrictPublicBuckets). `policy` is the read preset (0005): another thing.
alter table storage.buckets
  add column policy_document text,
  add column policy_statements jsonb,
  add column policy_public boolean not null default false,
  -- PutPublicAccessBlock's four flags, {"BlockPublicAcls": true, ...}; null:
  -- none set, the server-wide default (storage.public_access_default) applies.
  add column public_access_block jsonb,
  add constraint policy_compiled check ((policy_document is null) = (policy_statements is null));

-- The server-wide Block Public Access default (AEROSTORE_BLOCK_PUBLIC_ACCESS),
-- written by the server at start; one row.
create table storage.public_access_default (
  singleton boolean primary key default true check (singleton),
  block jsonb not null default '{}'
);
insert into storage.public_access_default default values;
alter table storage.public_access_default enable row level security;
alter table storage.public_access_default force row level security;
grant select, update on storage.public_access_default to aerostore_service;
create policy service_all on storage.public_access_default to aerostore_service using (true) with check (true);

-- The facts a condition reads, as the current transaction states them.
-- request.context is a JSON object the server sets beside
-- request.jwt.claims (src/db/session.ts): aws:SourceIp, aws:SecureTransport,
-- aws:Referer, aws:UserAgent and the request's s3: keys, keys in lower case.
-- Only request facts are taken from it: what identifies the principal
-- (aws:userid, aws:username, aws:PrincipalType) comes from the claims, the
-- clock from now(), an object's tags from its row — a session cannot assert
-- them. And a session that is not the server's (its login cannot become
-- aerostore_writer: an application's login, docs/security.md) is not
-- believed at all: what it states is dropped and aws:SecureTransport is
-- 'false' (its connection is not the server's TLS), so a condition on the
-- request fails closed there — an Allow on the source address, the TLS,
-- the Referer never matches, a Deny unless them always applies.
create function storage.policy_facts(object_tags jsonb) returns jsonb
language sql stable as $$
  with asserted as (
    select coalesce(nullif(current_setting('request.context', true), '')::jsonb, '{}') as ctx,
           pg_has_role(session_user, 'aerostore_writer', 'member') as trusted
  )
  select coalesce((select jsonb_object_agg(k, v) from jsonb_each(a.ctx) as e(k, v)
                   where a.trusted
                     and ((k like 's3:%' and k not like 's3:existingobjecttag/%')
                          or k in ('aws:sourceip', 'aws:securetransport', 'aws:referer', 'aws:useragent'))), '{}')
         || case when a.trusted then '{}'::jsonb else '{"aws:securetransport": "false"}'::jsonb end
         || jsonb_build_object(
              'aws:userid', coalesce(storage.uid()::text, 'anonymous'),
              'aws:principaltype', case when storage.uid() is null then 'Anonymous' else 'User' end,
              'aws:currenttime', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
              'aws:epochtime', floor(extract(epoch from now()))::bigint::text)
         || case when storage.uid() is null then '{}'::jsonb else jsonb_build_object('aws:username', storage.uid()::text) end
         || coalesce((select jsonb_object_agg('s3:existingobjecttag/' || lower(t.k), t.v) from jsonb_each(object_tags) as t(k, v)), '{}')
  from asserted a
$$;

-- One value against a condition's values, for the operator without its
-- negation (stringnotequals is not stringequals, and so on).
create function storage.policy_value_matches(op text, v text, vals text[]) returns boolean
language sql immutable as $$
  select case
    when op in ('stringequals', 'arnequals') then v = any(vals)
    when op = 'stringequalsignorecase' then lower(v) = any(vals)
    when op in ('stringlike', 'arnlike') then v like any(vals)
    when op = 'bool' then lower(v) = any(vals)
    when op like 'numeric%' then v ~ '^\s*-?\d+(\.\d+)?\s*$' and case op
      when 'numericequals' then v::numeric = any(vals::numeric[])
      when 'numericlessthan' then v::numeric < any(vals::numeric[])
      when 'numericlessthanequals' then v::numeric <= any(vals::numeric[])
      when 'numericgreaterthan' then v::numeric > any(vals::numeric[])
      when 'numericgreaterthanequals' then v::numeric >= any(vals::numeric[]) end
    when op like 'date%' then v ~ '^\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:?\d\d)?$' and case op
      when 'dateequals' then v::timestamptz = any(vals::timestamptz[])
      when 'datelessthan' then v::timestamptz < any(vals::timestamptz[])
      when 'datelessthanequals' then v::timestamptz <= any(vals::timestamptz[])
      when 'dategreaterthan' then v::timestamptz > any(vals::timestamptz[])
      when 'dategreaterthanequals' then v::timestamptz >= any(vals::timestamptz[]) end
    when op = 'ipaddress' then v ~ '^[0-9A-Fa-f:.]+$' and v::inet <<= any(vals::inet[])
    else false end
$$;

-- A statement's Condition block against the facts (IAM's rules: operators
-- and keys AND together, a key's values OR; a negated operator matches
-- none of them, and holds when the key is absent; …IfExists holds when it
-- is absent; ForAnyValue needs some request value to match, ForAllValues
-- every one (and holds for none); Null tests presence).
create function storage.policy_conditions_hold(conditions jsonb, facts jsonb, me uuid) returns boolean
language plpgsql stable as $$
declare
  c jsonb;
  op text;
  base text;
  fact jsonb;
  vals text[];
  reqvals text[];
  negated boolean;
begin
  for c in select * from jsonb_array_elements(conditions) loop
    op := c->>'op';
    fact := facts -> (c->>'key');
    if fact = 'null'::jsonb then fact := null; end if;
    if op = 'null' then
      if not ((fact is null)::text = any(array(select jsonb_array_elements_text(c->'values')))) then return false; end if;
      continue;
    end if;
    negated := op in ('stringnotequals', 'stringnotequalsignorecase', 'stringnotlike', 'numericnotequals', 'datenotequals',
                      'notipaddress', 'arnnotequals', 'arnnotlike');
    base := case op when 'notipaddress' then 'ipaddress' when 'stringnotequalsignorecase' then 'stringequalsignorecase'
                    else replace(op, 'not', '') end;
    reqvals := case when fact is null then '{}'::text[]
                    when jsonb_typeof(fact) = 'array' then array(select jsonb_array_elements_text(fact))
                    else array[fact #>> '{}'] end;
    if cardinality(reqvals) = 0 then
      if c->>'set' = 'all' then continue; end if;
      if c->>'set' = 'any' then return false; end if;
      if (c->>'ifExists')::boolean or negated then continue; end if;
      return false;
    end if;
    -- Policy variables in values (String* and Arn* operators).
    vals := array(select replace(replace(x, '${aws:userid}', coalesce(me::text, 'anonymous')),
                                 '${aws:username}', coalesce(me::text, '${aws:username}'))
                  from jsonb_array_elements_text(c->'values') x);
    if c->>'set' = 'all' then
      if exists (select 1 from unnest(reqvals) r where storage.policy_value_matches(base, r, vals) = negated) then return false; end if;
    elsif c->>'set' = 'any' then
      if not exists (select 1 from unnest(reqvals) r where storage.policy_value_matches(base, r, vals) <> negated) then return false; end if;
    elsif coalesce(storage.policy_value_matches(base, reqvals[1], vals), false) = negated then
      return false;
    end if;
  end loop;
  return true;
end $$;

-- Whether a compiled statement names the current principal and the action
-- (the parts that do not depend on the row).
create function storage.policy_statement_applies(s jsonb, me uuid, action text) returns boolean
language sql immutable as $$
  select (case when s->'principals' = 'null'::jsonb then true
               else coalesce(s->'principals' ? me::text, false) end) <> (s->>'notPrincipal')::boolean
     and exists (select 1 from jsonb_array_elements_text(s->'actions') p where action like p) <> (s->>'notAction')::boolean
$$;

-- The bucket's Block Public Access flags in force: its own, or else the server's.
create function storage.public_access_flag(own jsonb, flag text) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select coalesce((coalesce(own, (select d.block from storage.public_access_default d)) ->> flag)::boolean, false)
$$;

-- The policy's word on `action` (lower case, 's3:getobject') on `object_key`
-- (null: the bucket itself) for the current principal: 'deny' (an explicit
-- Deny matched), 'allow' (an Allow matched and no Deny), or null (no
-- statement matched, or no policy; the service role is not subject).
-- With RestrictPublicBuckets in force and a public policy, its Allows count
-- only for signed-in principals of this server (S3: only principals of the
-- bucket owner's account; this server is one account).
create function storage.bucket_policy_effect(target_bucket uuid, action text, object_key text, object_tags jsonb default '{}')
returns text
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
declare
  me uuid := storage.uid();
  b record;
  s jsonb;
  resource text := case when object_key is null then '' else '/' || object_key end;
  me_like text := replace(replace(replace(coalesce(me::text, 'anonymous'), '\', '\\'), '%', '\%'), '_', '\_');
  facts jsonb;
  allowed boolean := false;
  allows_count boolean;
begin
  if current_setting('role') = 'aerostore_service' then return null; end if;
  select bk.policy_statements, bk.policy_public, bk.public_access_block into b from storage.buckets bk where bk.id = target_bucket;
  if b.policy_statements is null then return null; end if;
  allows_count := not (me is null and b.policy_public and storage.public_access_flag(b.public_access_block, 'RestrictPublicBuckets'));
  for s in select * from jsonb_array_elements(b.policy_statements) loop
    if s->>'effect' = 'Allow' and (allowed or not allows_count) then continue; end if;
    if not storage.policy_statement_applies(s, me, action) then continue; end if;
    if not coalesce(exists (
         select 1 from jsonb_array_elements_text(s->'resources') p
         where resource like case when strpos(p, '${') = 0 then p
                                  -- no aws:username for an anonymous principal: the pattern matches nothing
                                  else replace(replace(p, '${aws:userid}', me_like),
                                               '${aws:username}', case when me is null then null else me_like end) end), false)
       <> (s->>'notResource')::boolean then
      continue;
    end if;
    if jsonb_array_length(s->'conditions') > 0 then
      if facts is null then facts := storage.policy_facts(object_tags); end if;
      if not storage.policy_conditions_hold(s->'conditions', facts, me) then continue; end if;
    end if;
    if s->>'effect' = 'Deny' then return 'deny'; end if;
    allowed := true;
  end loop;
  return case when allowed then 'allow' end;
end $$;

-- The buckets with a policy that has a statement of `effect` naming the
-- current principal and `action`: the only ones whose rows the policies
-- below evaluate. Called as (select storage.policy_buckets(...)), an init
-- plan computed once per statement.
create function storage.policy_buckets(effect text, action text) returns uuid[]
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select coalesce(array_agg(b.id), '{}') from storage.buckets b
  where b.policy_statements is not null
    and current_setting('role') <> 'aerostore_service'
    and exists (select 1 from jsonb_array_elements(b.policy_statements) s
                where s->>'effect' = effect and storage.policy_statement_applies(s, storage.uid(), action))
$$;

-- The buckets whose public ACL grants do not count (IgnorePublicAcls in force).
create function storage.public_acls_ignored_buckets() returns uuid[]
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select coalesce(array_agg(b.id), '{}') from storage.buckets b
  where storage.public_access_flag(b.public_access_block, 'IgnorePublicAcls')
$$;

-- IgnorePublicAcls: an object made readable by a public grant — its
-- bucket's read preset ('public' is the AllUsers READ grant, 'authenticated'
-- the AuthenticatedUsers one, core/acl.ts) or an AllUsers /
-- AuthenticatedUsers grant in its own list — is read only by those the
-- grant does not stand for: the bucket's owner, the object's owner, a user
-- the list names, or whom the bucket policy allows. Objects no public grant
-- reaches are left to the other policies (SQL policies included).
create function storage.readable_without_public_acls(target_bucket uuid, object_owner uuid, object_acl text[], object_key text, object_tags jsonb)
returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select coalesce((
    select not (b.policy in ('public', 'authenticated')
                or coalesce(object_acl && '{READ:AllUsers,FULL_CONTROL:AllUsers,READ:AuthenticatedUsers,FULL_CONTROL:AuthenticatedUsers}'::text[], false))
        or (storage.uid() is not null
            and (storage.uid() in (b.owner_id, object_owner)
                 or coalesce(object_acl && array['READ:' || storage.uid(), 'FULL_CONTROL:' || storage.uid()], false)))
        or storage.bucket_policy_effect(target_bucket, 's3:getobject', object_key, object_tags) = 'allow'
    from storage.buckets b where b.id = target_bucket), false)
$$;

-- Objects. Read is s3:GetObject; insert and update (an overwrite, a
-- retag) s3:PutObject — the writer owns what it writes, as S3's
-- ObjectWriter; delete s3:DeleteObject.
create policy bucket_policy_read on storage.objects for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_id = any ((select storage.policy_buckets('Allow', 's3:getobject'))::uuid[])
         and storage.bucket_policy_effect(objects.bucket_id, 's3:getobject', objects.key, objects.tags) = 'allow');
create policy bucket_policy_deny_read on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_id <> all ((select storage.policy_buckets('Deny', 's3:getobject'))::uuid[])
         or storage.bucket_policy_effect(objects.bucket_id, 's3:getobject', objects.key, objects.tags) is distinct from 'deny');
create policy ignore_public_acls on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_id <> all ((select storage.public_acls_ignored_buckets())::uuid[])
         or storage.readable_without_public_acls(objects.bucket_id, objects.owner_id, objects.acl, objects.key, objects.tags));

create policy bucket_policy_insert on storage.objects for insert to aerostore_authenticated
  with check (objects.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
              and objects.owner_id = (select storage.uid())
              and storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) = 'allow');
create policy bucket_policy_deny_insert on storage.objects as restrictive for insert to aerostore_authenticated
  with check (objects.bucket_id <> all ((select storage.policy_buckets('Deny', 's3:putobject'))::uuid[])
              or storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) is distinct from 'deny');
create policy bucket_policy_update on storage.objects for update to aerostore_authenticated
  using (objects.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
         and storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) = 'allow')
  with check (objects.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
              and objects.owner_id = (select storage.uid())
              and storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) = 'allow');
create policy bucket_policy_deny_update on storage.objects as restrictive for update to aerostore_authenticated
  using (objects.bucket_id <> all ((select storage.policy_buckets('Deny', 's3:putobject'))::uuid[])
         or storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) is distinct from 'deny')
  with check (objects.bucket_id <> all ((select storage.policy_buckets('Deny', 's3:putobject'))::uuid[])
              or storage.bucket_policy_effect(objects.bucket_id, 's3:putobject', objects.key, objects.tags) is distinct from 'deny');
create policy bucket_policy_delete on storage.objects for delete to aerostore_authenticated
  using (objects.bucket_id = any ((select storage.policy_buckets('Allow', 's3:deleteobject'))::uuid[])
         and storage.bucket_policy_effect(objects.bucket_id, 's3:deleteobject', objects.key, objects.tags) = 'allow');
create policy bucket_policy_deny_delete on storage.objects as restrictive for delete to aerostore_authenticated
  using (objects.bucket_id <> all ((select storage.policy_buckets('Deny', 's3:deleteobject'))::uuid[])
         or storage.bucket_policy_effect(objects.bucket_id, 's3:deleteobject', objects.key, objects.tags) is distinct from 'deny');

-- The writer's bookkeeping around an object write allowed by a policy: the
-- bucket's blobs, its events (as itself), its multipart uploads (as their
-- initiator) — in buckets whose policy allows the principal some write.
-- Only the server's writer writes these (migration 0015); the object row's
-- own policies above decide the write itself.
create policy bucket_policy_write on storage.blobs to aerostore_authenticated
  using (blobs.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
         or blobs.bucket_id = any ((select storage.policy_buckets('Allow', 's3:deleteobject'))::uuid[]))
  with check (blobs.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
              or blobs.bucket_id = any ((select storage.policy_buckets('Allow', 's3:deleteobject'))::uuid[]));
create policy bucket_policy_events on storage.events for insert to aerostore_authenticated
  with check ((events.bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[])
               or events.bucket_id = any ((select storage.policy_buckets('Allow', 's3:deleteobject'))::uuid[]))
              and events.actor->>'user_id' = (select storage.uid())::text);
create policy bucket_policy_uploads on storage.multipart_uploads to aerostore_authenticated
  using (owner_id = (select storage.uid()) and bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[]))
  with check (owner_id = (select storage.uid()) and bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[]));
create policy bucket_policy_completed on storage.completed_uploads to aerostore_authenticated
  using (owner_id = (select storage.uid()) and bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[]))
  with check (owner_id = (select storage.uid()) and bucket_id = any ((select storage.policy_buckets('Allow', 's3:putobject'))::uuid[]));

grant execute on function storage.policy_facts(jsonb), storage.policy_value_matches(text, text, text[]),
  storage.policy_conditions_hold(jsonb, jsonb, uuid), storage.policy_statement_applies(jsonb, uuid, text),
  storage.public_access_flag(jsonb, text), storage.bucket_policy_effect(uuid, text, text, jsonb),
  storage.policy_buckets(text, text), storage.public_acls_ignored_buckets(),
  storage.readable_without_public_acls(uuid, uuid, text[], text, jsonb)
  to aerostore_anon, aerostore_authenticated, aerostore_service;

-- Owned by the service role, as 0021's functions are: they read bucket rows
-- (and the default) the caller may not see.
grant create on schema storage to aerostore_service;
alter function storage.public_access_flag(jsonb, text) owner to aerostore_service;
alter function storage.bucket_policy_effect(uuid, text, text, jsonb) owner to aerostore_service;
alter function storage.policy_buckets(text, text) owner to aerostore_service;
alter function storage.public_acls_ignored_buckets() owner to aerostore_service;
alter function storage.readable_without_public_acls(uuid, uuid, text[], text, jsonb) owner to aerostore_service;
revoke create on schema storage from aerostore_service;
