-- How a multipart upload's object checksum is formed (x-amz-checksum-type):
-- FULL_OBJECT (the checksum of all the bytes; CRC algorithms only) or
-- COMPOSITE (the checksum of the parts' checksums, suffixed "-N").
alter table storage.multipart_uploads
  add column checksum_type text check (checksum_type in ('FULL_OBJECT', 'COMPOSITE'));
