-- Upload rules per bucket (the /storage/v1 API's bucket settings): the
-- largest object in bytes (null: the server's default) and the MIME types
-- allowed, as `type/subtype` or `type/*` patterns (null: any type).
alter table storage.buckets
  add column file_size_limit bigint check (file_size_limit > 0),
  add column allowed_mime_types text[];
