-- Who may read a bucket's objects: private (owners only, the default),
-- authenticated (any signed-in principal) or public (anyone). S3 canned
-- ACLs map onto it (src/core/acl.ts); the principals issue enforces it.
alter table storage.buckets
  add column policy text not null default 'private'
  check (policy in ('private', 'authenticated', 'public'));
