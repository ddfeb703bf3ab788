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
-- Four flags, read by the policies below in every statement (no secret).
grant select on storage.public_access_default to aerostore_anon, aerostore_authenticated;
create policy anyone_reads on storage.public_access_default for select to aerostore_anon, aerostore_authenticated using (true);

-- Which buckets have a policy, and which set IgnorePublicAcls themselves:
-- the guards every policy below starts with read it, as a plain subquery
-- computed once per statement (an init plan), so that rows of other buckets
-- cost one array lookup and no function call. Kept by a trigger on buckets;
-- readable by the request roles (bucket ids and two flags, no names).
create table storage.bucket_access_flags (
  bucket_id           uuid primary key references storage.buckets(id) on delete cascade,
  has_policy          boolean not null,
  -- The bucket's own IgnorePublicAcls; null: it has no settings of its own
  -- (the server's default decides).
  ignore_public_acls  boolean
);
alter table storage.bucket_access_flags enable row level security;
alter table storage.bucket_access_flags force row level security;
grant select, insert, update, delete on storage.bucket_access_flags to aerostore_service;
grant select on storage.bucket_access_flags to aerostore_anon, aerostore_authenticated;
create policy service_all on storage.bucket_access_flags to aerostore_service using (true) with check (true);
create policy anyone_reads on storage.bucket_access_flags for select to aerostore_anon, aerostore_authenticated using (true);

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
create function storage.policy_facts() returns jsonb
language plpgsql stable as $$
declare
  ctx jsonb := coalesce(nullif(current_setting('request.context', true), '')::jsonb, '{}');
  me uuid := storage.uid();
  stated jsonb := '{"aws:securetransport": "false"}';
begin
  if pg_has_role(session_user, 'aerostore_writer', 'member') then
    stated := coalesce((select jsonb_object_agg(k, v) from jsonb_each(ctx) as e(k, v)
                        where (k like 's3:%' and k not like 's3:existingobjecttag/%')
                           or k in ('aws:sourceip', 'aws:securetransport', 'aws:referer', 'aws:useragent')), '{}');
  end if;
  return stated || jsonb_build_object(
      'aws:userid', coalesce(me::text, 'anonymous'),
      'aws:principaltype', case when me is null then 'Anonymous' else 'User' end,
      'aws:currenttime', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'aws:epochtime', floor(extract(epoch from now()))::bigint::text)
    || case when me is null then '{}'::jsonb else jsonb_build_object('aws:username', me::text) end;
end $$;

-- An object's tags as condition facts (s3:ExistingObjectTag/<key>): from
-- its row, never from what a session states.
create function storage.policy_tag_facts(object_tags jsonb) returns jsonb
language plpgsql immutable as $$
begin
  return coalesce((select jsonb_object_agg('s3:existingobjecttag/' || lower(t.k), t.v) from jsonb_each(object_tags) as t(k, v)), '{}');
end $$;
-- One request value against one of a condition's values, for the operator
-- without its negation (stringnotequals is stringequals, and so on). One
-- expression: the planner inlines it into its caller.
create function storage.policy_value_matches(op text, v text, val text) returns boolean
language sql immutable as $$
  select case
    when op in ('stringequals', 'arnequals') then v = val
    when op = 'stringequalsignorecase' then lower(v) = val
    when op in ('stringlike', 'arnlike') then v like val
    when op = 'bool' then lower(v) = val
    when op like 'numeric%' then v ~ '^\s*-?\d+(\.\d+)?\s*$' and case op
      when 'numericequals' then v::numeric = val::numeric
      when 'numericlessthan' then v::numeric < val::numeric
      when 'numericlessthanequals' then v::numeric <= val::numeric
      when 'numericgreaterthan' then v::numeric > val::numeric
      when 'numericgreaterthanequals' then v::numeric >= val::numeric end
    when op like 'date%' then v ~ '^\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:?\d\d)?$' and case op
      when 'dateequals' then v::timestamptz = val::timestamptz
      when 'datelessthan' then v::timestamptz < val::timestamptz
      when 'datelessthanequals' then v::timestamptz <= val::timestamptz
      when 'dategreaterthan' then v::timestamptz > val::timestamptz
      when 'dategreaterthanequals' then v::timestamptz >= val::timestamptz end
    when op = 'ipaddress' then v ~ '^[0-9A-Fa-f:.]+$' and v::inet <<= val::inet
    else false end
$$;

-- A request value against all of a condition's values (they OR), policy
-- variables in them filled in (${aws:userid}, ${aws:username}).
create function storage.policy_values_match(op text, v text, vals jsonb, me uuid) returns boolean
language plpgsql immutable as $$
declare
  val text;
begin
  for i in 0 .. jsonb_array_length(vals) - 1 loop
    val := vals ->> i;
    if strpos(val, '${') > 0 then
      val := replace(replace(val, '${aws:userid}', coalesce(me::text, 'anonymous')), '${aws:username}', coalesce(me::text, '${aws:username}'));
    end if;
    if coalesce(storage.policy_value_matches(op, v, val), false) then return true; end if;
  end loop;
  return false;
end $$;

-- A statement's Condition block against the facts (IAM's rules: operators
-- and keys AND together, a key's values OR; a negated operator matches
-- none of them, and holds when the key is absent; …IfExists holds when it
-- is absent; ForAnyValue needs some request value to match, ForAllValues
-- every one (and holds for none); Null tests presence). Written with
-- simple expressions only (no queries), which plpgsql evaluates fast.
create function storage.policy_conditions_hold(conditions jsonb, facts jsonb, me uuid) returns boolean
language plpgsql stable as $$
declare
  c jsonb;
  op text;
  base text;
  fact jsonb;
  negated boolean;
  n int;
  matched boolean;
begin
  for k in 0 .. jsonb_array_length(conditions) - 1 loop
    c := conditions -> k;
    op := c ->> 'op';
    fact := facts -> (c ->> 'key');
    if fact = 'null'::jsonb then fact := null; end if;
    if op = 'null' then
      if not ((c -> 'values') @> to_jsonb((fact is null)::text)) then return false; end if;
      continue;
    end if;
    negated := op in ('stringnotequals', 'stringnotequalsignorecase', 'stringnotlike', 'numericnotequals', 'datenotequals',
                      'notipaddress', 'arnnotequals', 'arnnotlike');
    base := case op when 'notipaddress' then 'ipaddress' else replace(op, 'not', '') end;
    n := case when fact is null then 0 when jsonb_typeof(fact) = 'array' then jsonb_array_length(fact) else 1 end;
    if n = 0 then
      if c ->> 'set' = 'all' then continue; end if;
      if c ->> 'set' = 'any' then return false; end if;
      if (c ->> 'ifExists')::boolean or negated then continue; end if;
      return false;
    end if;
    if jsonb_typeof(fact) <> 'array' then
      -- One value (a set qualifier on it reads it as a set of one).
      if storage.policy_values_match(base, fact #>> '{}', c -> 'values', me) = negated then return false; end if;
      continue;
    end if;
    matched := c ->> 'set' = 'all';
    for i in 0 .. n - 1 loop
      if c ->> 'set' = 'all' then
        if storage.policy_values_match(base, fact ->> i, c -> 'values', me) = negated then matched := false; exit; end if;
      elsif storage.policy_values_match(base, fact ->> i, c -> 'values', me) <> negated then
        matched := true;
        exit;
      end if;
    end loop;
    if not matched then return false; end if;
  end loop;
  return true;
end $$;

-- The bucket's Block Public Access flags in force: its own, or else the server's.
create function storage.public_access_flag(own jsonb, flag text) returns boolean
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
begin
  if own is null then select d.block into own from storage.public_access_default d; end if;
  return coalesce((own ->> flag)::boolean, false);
end $$;

-- The compiled statements, one row each, expanded from
-- buckets.policy_statements by a trigger so that finding the statements that
-- name a principal and an action is a plain query over arrays, not a walk
-- through JSON. The server's bookkeeping: only the service role reads it
-- (the functions below, security definer).
create table storage.bucket_policy_statements (
  bucket_id     uuid not null references storage.buckets(id) on delete cascade,
  position      int not null,
  deny          boolean not null,
  -- Canonical ids; null: anyone ("*").
  principals    text[],
  not_principal boolean not null,
  -- LIKE patterns over lower-case action names.
  actions       text[] not null,
  not_action    boolean not null,
  -- LIKE patterns over '' (the bucket) or '/<key>'; ${aws:userid} and
  -- ${aws:username} are filled in per principal (has_variables).
  resources     text[] not null,
  not_resource  boolean not null,
  has_variables boolean not null,
  -- The Condition block (storage.policy_conditions_hold); null: none.
  conditions    jsonb,
  -- Whether a condition reads the object's tags (s3:ExistingObjectTag/…).
  needs_tags    boolean not null,
  -- When every condition reads only the object's tags (and no variable):
  -- what they decide for an object without tags, known in advance; null
  -- otherwise.
  untagged_holds boolean,
  primary key (bucket_id, position)
);
alter table storage.bucket_policy_statements enable row level security;
alter table storage.bucket_policy_statements force row level security;
grant select, insert, update, delete on storage.bucket_policy_statements to aerostore_service;
create policy service_all on storage.bucket_policy_statements to aerostore_service using (true) with check (true);

create function storage.expand_bucket_policy() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  delete from storage.bucket_access_flags where bucket_id = new.id;
  if new.policy_statements is not null or new.public_access_block is not null then
    insert into storage.bucket_access_flags
    values (new.id, new.policy_statements is not null, (new.public_access_block ->> 'IgnorePublicAcls')::boolean);
  end if;
  if tg_op = 'UPDATE' and new.policy_statements is not distinct from old.policy_statements then return null; end if;
  delete from storage.bucket_policy_statements where bucket_id = new.id;
  if new.policy_statements is not null then
    insert into storage.bucket_policy_statements
    select new.id, e.n::int, e.s->>'effect' = 'Deny',
           case when e.s->'principals' = 'null'::jsonb then null
                else array(select jsonb_array_elements_text(e.s->'principals')) end,
           (e.s->>'notPrincipal')::boolean,
           array(select jsonb_array_elements_text(e.s->'actions')), (e.s->>'notAction')::boolean,
           array(select jsonb_array_elements_text(e.s->'resources')), (e.s->>'notResource')::boolean,
           strpos((e.s->'resources')::text, '${') > 0,
           case when jsonb_array_length(e.s->'conditions') > 0 then e.s->'conditions' end,
           strpos(lower((e.s->'conditions')::text), '"s3:existingobjecttag/') > 0,
           case when jsonb_array_length(e.s->'conditions') > 0
                     and strpos((e.s->'conditions')::text, '${') = 0
                     and not exists (select 1 from jsonb_array_elements(e.s->'conditions') c
                                     where c->>'key' not like 's3:existingobjecttag/%')
                then storage.policy_conditions_hold(e.s->'conditions', '{}', null) end
    from jsonb_array_elements(new.policy_statements) with ordinality as e(s, n);
  end if;
  return null;
end $$;
create trigger buckets_policy_expanded after insert or update of policy_statements, public_access_block on storage.buckets
  for each row execute function storage.expand_bucket_policy();

-- The rules a statement of SQL evaluates rows against: the statements of
-- `effect` in bucket policies that name the current principal and
-- `action`, with their resources' policy variables filled in — computed
-- once per SQL statement (policies call it as (select
-- storage.policy_rules(...)), an init plan), so that each row only matches
-- its key against a few patterns. The conditions of a rule whose resource
-- is the whole bucket ("/*", or a NotResource) are decided here, once —
-- it is dropped if they fail, kept without them if they hold — and, when
-- they read the object's tags, decided here for untagged objects
-- (holds_untagged) and per row for tagged ones; a narrower rule's
-- conditions are decided per row, only for the rows its resource matches. With RestrictPublicBuckets in force and a public policy, its
-- Allows count only for signed-in principals of this server (S3: only
-- principals of the bucket owner's account; this server is one account).
-- The service role is not subject: no rules; nor are a bucket owner's own
-- buckets' Allows, which widen nothing for it. `only_bucket` limits it to
-- one bucket (bucket_policy_effect).
create type storage.policy_rule as (
  bucket_id uuid,
  resources text[],
  not_resource boolean,
  -- Conditions left to decide per row (they read the object's tags); null: none.
  conditions jsonb,
  -- What they decide for an object without tags; null: not decided yet.
  holds_untagged boolean,
  -- The request's facts; null: not fetched yet (storage.policy_facts()).
  facts jsonb
);

create function storage.policy_rules(action text, effect text, only_bucket uuid default null) returns storage.policy_rule[]
language plpgsql stable security definer set search_path = pg_catalog, pg_temp set plan_cache_mode = force_generic_plan as $$
declare
  me uuid := storage.uid();
  me_like text := replace(replace(replace(coalesce(me::text, 'anonymous'), '\', '\\'), '%', '\%'), '_', '\_');
  facts jsonb;
  s record;
  rules storage.policy_rule[] := '{}';
begin
  if current_setting('role') = 'aerostore_service' then return rules; end if;
  for s in
    select st.bucket_id, st.conditions, st.needs_tags, st.untagged_holds, st.not_resource,
           case when not st.has_variables then st.resources
                -- A variable without a value (aws:username when anonymous)
                -- leaves a pattern that matches nothing: dropped.
                else array_remove(array(select replace(replace(p, '${aws:userid}', me_like),
                                                       '${aws:username}', case when me is null then null else me_like end)
                                        from unnest(st.resources) p), null) end as resources
    from storage.bucket_policy_statements st join storage.buckets b on b.id = st.bucket_id
    where st.deny = (effect = 'Deny') and (only_bucket is null or st.bucket_id = only_bucket)
      and (st.principals is null or coalesce(me::text = any (st.principals), false)) <> st.not_principal
      and (action like any (st.actions)) <> st.not_action
      and not (effect = 'Allow' and me is null and b.policy_public
               and storage.public_access_flag(b.public_access_block, 'RestrictPublicBuckets'))
      -- An Allow widens nothing for the bucket's owner (its reads, writes
      -- and deletes are its own already): its queries skip them.
      and not (effect = 'Allow' and me is not null and b.owner_id is not distinct from me)
    order by st.bucket_id, st.position
  loop
    if s.conditions is null then
      rules := rules || row(s.bucket_id, s.resources, s.not_resource, null, true, null)::storage.policy_rule;
      continue;
    end if;
    if s.untagged_holds is not null then
      -- Conditions on the object's tags alone: no request facts; known for untagged objects.
      rules := rules || row(s.bucket_id, s.resources, s.not_resource, s.conditions, s.untagged_holds, '{}')::storage.policy_rule;
      continue;
    end if;
    if not (s.not_resource or s.resources && '{%,/%}'::text[]) then
      -- A narrow resource: most rows do not match it; decided for those
      -- that do (the request's facts fetched then: facts null).
      rules := rules || row(s.bucket_id, s.resources, s.not_resource, s.conditions, null, null)::storage.policy_rule;
      continue;
    end if;
    if facts is null then facts := storage.policy_facts(); end if;
    if s.needs_tags then
      rules := rules || row(s.bucket_id, s.resources, s.not_resource, s.conditions,
                            storage.policy_conditions_hold(s.conditions, facts, me), facts)::storage.policy_rule;
    elsif storage.policy_conditions_hold(s.conditions, facts, me) then
      -- Every row (or every but a few): decided once here.
      rules := rules || row(s.bucket_id, s.resources, s.not_resource, null, true, null)::storage.policy_rule;
    end if;
  end loop;
  return rules;
end $$;

-- The Deny rules naming the current principal, for the restrictive
-- policies: storage.policy_rules(action, 'Deny') as a view, which the
-- planner folds into the statement (no function call, no query of its own
-- to plan: the init plan that reads it costs a fraction of the function's).
-- Owned by aerostore_service, as the functions are, so it reads the
-- statements of every bucket; it shows a session only the statements that
-- name its own principal. Rules whose conditions read only the request are
-- decided here when their resource is the whole bucket, as in
-- policy_rules. A security barrier: no caller predicate runs before its own
-- filter, so none can see a row it does not show.
create view storage.policy_deny_rules with (security_barrier = true) as
  select st.actions, st.not_action,
         row(st.bucket_id,
             case when not st.has_variables then st.resources
                  else array_remove(array(select replace(replace(p, '${aws:userid}',
                                                                 replace(replace(replace(coalesce(storage.uid()::text, 'anonymous'), '\', '\\'), '%', '\%'), '_', '\_')),
                                                         '${aws:username}',
                                                         replace(replace(replace(storage.uid()::text, '\', '\\'), '%', '\%'), '_', '\_'))
                                          from unnest(st.resources) p), null) end,
             st.not_resource,
             case when st.conditions is null or (st.untagged_holds is null and not st.needs_tags and st.broad) then null
                  else st.conditions end,
             case when st.conditions is null then true
                  when st.untagged_holds is not null then st.untagged_holds
                  when st.broad and st.needs_tags then storage.policy_conditions_hold(st.conditions, storage.policy_facts(), storage.uid())
                  when st.broad then true end,
             case when st.untagged_holds is not null then '{}'::jsonb
                  when st.broad and st.needs_tags then storage.policy_facts() end)::storage.policy_rule as rule
  from (select s.*, (s.not_resource or s.resources && '{%,/%}'::text[]) as broad from storage.bucket_policy_statements s) st
  where st.deny
    and (st.principals is null or coalesce(storage.uid()::text = any (st.principals), false)) <> st.not_principal
    -- A whole-bucket rule whose conditions read only the request and fail: no rule.
    and (st.conditions is null or st.untagged_holds is not null or st.needs_tags or not st.broad
         or storage.policy_conditions_hold(st.conditions, storage.policy_facts(), storage.uid()));

-- Whether one of `rules` matches the row: its bucket, its key (null: the
-- bucket itself) against the resources, then the conditions.
create function storage.policy_rules_match(rules storage.policy_rule[], target_bucket uuid, object_key text, object_tags jsonb)
returns boolean
language plpgsql stable as $$
declare
  r storage.policy_rule;
  resource text := coalesce('/' || object_key, '');
begin
  foreach r in array rules loop
    if r.bucket_id = target_bucket
       and (resource like any (r.resources)) <> r.not_resource
       and (r.conditions is null
            or case when coalesce(object_tags, '{}') = '{}'
                    then coalesce(r.holds_untagged,
                                  storage.policy_conditions_hold(r.conditions, coalesce(r.facts, storage.policy_facts()), storage.uid()))
                    else storage.policy_conditions_hold(r.conditions, coalesce(r.facts, storage.policy_facts()) || storage.policy_tag_facts(object_tags),
                                                        storage.uid()) end) then
      return true;
    end if;
  end loop;
  return false;
end $$;

-- The policy's word on `action` (lower case, 's3:getobject') on `object_key`
-- (null: the bucket itself) for the current principal: 'deny' (an explicit
-- Deny matched), 'allow' (an Allow matched and no Deny), or null (no
-- statement matched, or no policy; the service role is not subject). The
-- S3 front end asks it before an operation (s3/policy-precheck.ts); SQL
-- sessions may too.
create function storage.bucket_policy_effect(target_bucket uuid, action text, object_key text, object_tags jsonb default '{}')
returns text
language plpgsql stable as $$
begin
  if storage.policy_rules_match(storage.policy_rules(action, 'Deny', target_bucket), target_bucket, object_key, object_tags) then
    return 'deny';
  end if;
  if storage.policy_rules_match(storage.policy_rules(action, 'Allow', target_bucket), target_bucket, object_key, object_tags) then
    return 'allow';
  end if;
  return null;
end $$;

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
-- ObjectWriter; delete s3:DeleteObject. The permissive ones skip the
-- principal's own buckets (an Allow widens nothing for their owner, and
-- Postgres may try these before the built-in ones): their guard reads the
-- buckets the principal owns — which it sees, through the buckets' own
-- policies — before any rule is made. The restrictive ones look only at the
-- Deny rules naming the principal.
create policy policy_allow_read on storage.objects for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
         and storage.policy_rules_match((select storage.policy_rules('s3:getobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_deny_read on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:getobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));
create policy ignore_public_acls on storage.objects as restrictive for select to aerostore_anon, aerostore_authenticated
  using ((objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.ignore_public_acls)::uuid[])
          and not ((select coalesce((d.block ->> 'IgnorePublicAcls')::boolean, false) from storage.public_access_default d)
                   and objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f
                                                  where f.ignore_public_acls is not null)::uuid[])))
         or storage.readable_without_public_acls(objects.bucket_uuid, objects.owner, objects.acl, objects.key, objects.tags));

create policy policy_allow_insert on storage.objects for insert to aerostore_authenticated
  with check (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
              and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
              and objects.owner = (select storage.uid())
              and storage.policy_rules_match((select storage.policy_rules('s3:putobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_deny_insert on storage.objects as restrictive for insert to aerostore_authenticated
  with check (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
              or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:putobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_allow_update on storage.objects for update to aerostore_authenticated
  using (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
         and storage.policy_rules_match((select storage.policy_rules('s3:putobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags))
  with check (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
              and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
              and objects.owner = (select storage.uid())
              and storage.policy_rules_match((select storage.policy_rules('s3:putobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_deny_update on storage.objects as restrictive for update to aerostore_authenticated
  using (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:putobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags))
  with check (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
              or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:putobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_allow_delete on storage.objects for delete to aerostore_authenticated
  using (objects.bucket_uuid = any ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         and objects.bucket_uuid <> all ((select coalesce(array_agg(ob.id), '{}') from storage.buckets ob where ob.owner_id = (select storage.uid()))::uuid[])
         and storage.policy_rules_match((select storage.policy_rules('s3:deleteobject', 'Allow')), objects.bucket_uuid, objects.key, objects.tags));
create policy policy_deny_delete on storage.objects as restrictive for delete to aerostore_authenticated
  using (objects.bucket_uuid <> all ((select coalesce(array_agg(f.bucket_id), '{}') from storage.bucket_access_flags f where f.has_policy)::uuid[])
         or not storage.policy_rules_match((select coalesce(array_agg(r.rule), '{}') from storage.policy_deny_rules r where ('s3:deleteobject' like any (r.actions)) <> r.not_action), objects.bucket_uuid, objects.key, objects.tags));

-- The writer's bookkeeping around an object write allowed by a policy (the
-- bucket's blobs, its events, its multipart uploads and their completion
-- records) needs nothing here: migration 0022 lets the server's writer keep
-- it for any object write the row's own policies admit.

grant usage on type storage.policy_rule to aerostore_anon, aerostore_authenticated, aerostore_service;
grant select on storage.policy_deny_rules to aerostore_anon, aerostore_authenticated, aerostore_service;
grant execute on function storage.policy_facts(), storage.policy_tag_facts(jsonb), storage.policy_value_matches(text, text, text), storage.policy_values_match(text, text, jsonb, uuid),
  storage.policy_conditions_hold(jsonb, jsonb, uuid),
  storage.public_access_flag(jsonb, text), storage.policy_rules(text, text, uuid),
  storage.policy_rules_match(storage.policy_rule[], uuid, text, jsonb), storage.bucket_policy_effect(uuid, text, text, jsonb),
  storage.readable_without_public_acls(uuid, uuid, text[], text, jsonb)
  to aerostore_anon, aerostore_authenticated, aerostore_service;

-- Owned by the service role, as 0021's functions are: they read bucket rows
-- (and the default) the caller may not see.
grant create on schema storage to aerostore_service;
alter function storage.public_access_flag(jsonb, text) owner to aerostore_service;
alter function storage.policy_rules(text, text, uuid) owner to aerostore_service;
alter function storage.expand_bucket_policy() owner to aerostore_service;
alter view storage.policy_deny_rules owner to aerostore_service;
alter function storage.readable_without_public_acls(uuid, uuid, text[], text, jsonb) owner to aerostore_service;
revoke create on schema storage from aerostore_service;
revoke execute on function storage.expand_bucket_policy() from public;

-- The policies above ship with aerostore: register them (migration 0022), so
-- that storage.custom_policies_apply does not take them for an operator's —
-- a bucket policy widens a listing through its own pre-check
-- (s3/policy-precheck.ts), not as "some policy applies to this role".
insert into storage.builtin_policies (table_name, policy_name)
  select tablename, policyname from pg_catalog.pg_policies where schemaname = 'storage'
  on conflict do nothing;
