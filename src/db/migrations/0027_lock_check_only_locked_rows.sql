-- Migration 0025's object-lock rule queued a commit-time check for every
-- overwrite and delete of any object (an upsert always sets `version`), in
-- every bucket, locked or not. Only a row that was held or retained can
-- need it: the triggers now say so, and the check runs for those alone.
drop trigger objects_locked_version_kept on storage.objects;
drop trigger object_versions_locked_version_kept on storage.object_versions;
create constraint trigger objects_locked_version_kept after delete or update of version on storage.objects
  deferrable initially deferred for each row when (old.legal_hold or old.retain_until is not null)
  execute function storage.locked_version_kept();
create constraint trigger object_versions_locked_version_kept after delete or update of version on storage.object_versions
  deferrable initially deferred for each row when (old.legal_hold or old.retain_until is not null)
  execute function storage.locked_version_kept();
