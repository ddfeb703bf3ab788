-- A principal's object lookup in one statement (issue 17 §8: a user's GET
-- within 10 % of the root key's).
--
-- A read as a principal was four statements on the wire — BEGIN, the
-- settings, the SELECT, COMMIT — pipelined in one round trip but each
-- parsed, bound, executed and answered; the root key's read is one. This
-- function sets the same settings transaction-locally and then selects, so
-- a GET's lookup is one statement in its own implicit transaction: the
-- settings end with it, as they end with COMMIT (nothing stays on the
-- pooled connection). The SELECT inside is planned under the role just
-- set — plpgsql's cached plan is re-planned when the role differs, as
-- row-level security requires — so the rows are exactly those the policies
-- give that principal.
--
-- Its plan is generic (plan_cache_mode below): planning this SELECT with
-- every policy folded in costs ≈ 2 ms, executing it ≈ 0.1 ms, and with the
-- default mode Postgres priced the generic plan above the custom one and so
-- planned afresh on every call. The generic plan is the unique index on
-- (bucket_uuid, key) whatever the parameters; it is planned once per
-- connection and role.
--
-- It grants nothing: setting `role` is checked against the session's login
-- as SET ROLE is (an application's login cannot become aerostore_writer or
-- aerostore_service through it), and the claims and request facts are
-- settings any session may set itself (docs/security.md "Request facts in
-- SQL sessions").
create function storage.read_objects_as(
  as_role text, claims text, context text, actor text, client_address text,
  in_bucket uuid, keys text[]
) returns setof storage.objects
language plpgsql volatile
set plan_cache_mode = force_generic_plan
as $$
begin
  perform set_config('role', as_role, true), set_config('request.jwt.claims', claims, true),
    set_config('request.context', context, true),
    set_config('aerostore.actor', actor, true), set_config('aerostore.client_address', client_address, true);
  return query select o.* from storage.objects o where o.bucket_uuid = in_bucket and o.key = any(keys);
end
$$;

revoke all on function storage.read_objects_as(text, text, text, text, text, uuid, text[]) from public;
-- The request pool's sessions start as aerostore_anon (src/db/session.ts).
grant execute on function storage.read_objects_as(text, text, text, text, text, uuid, text[]) to aerostore_anon;

-- The write trial (migration 0022) plans its insert under every insert and
-- update policy in the same way: once per connection and role, not per PUT.
alter function storage.may_write_object(uuid, text, text, uuid, text[], text, bigint, jsonb, boolean)
  set plan_cache_mode = force_generic_plan;
