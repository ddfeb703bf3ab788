-- Signed upload URLs are good for one upload (src/storage-api/signed-urls.ts).
-- The token itself is kept nowhere; its id (jti) is recorded here when an
-- upload with it begins, so a second upload with the same token is refused,
-- and removed again if that upload fails. A row matters only until its token
-- expires (an expired token is refused anyway): expired rows are deleted as
-- new ones arrive. Only the server, as the service role, reads or writes it.
create table storage.signed_upload_tokens (
  id          text collate "C" primary key,
  expires_at  timestamptz not null
);
create index signed_upload_tokens_by_expiry on storage.signed_upload_tokens (expires_at);

grant select, insert, delete on storage.signed_upload_tokens to aerostore_service;
alter table storage.signed_upload_tokens enable row level security;
alter table storage.signed_upload_tokens force row level security;
create policy service_all on storage.signed_upload_tokens to aerostore_service using (true) with check (true);
