-- The additional checksum of each part a multipart object was assembled
-- from, in part order (base64, the upload's algorithm; null when the upload
-- used none, and for a single PUT): GetObjectAttributes lists them in
-- ObjectParts, beside the part sizes of objects.parts.
alter table storage.objects add column part_checksums jsonb;
