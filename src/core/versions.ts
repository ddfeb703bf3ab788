// PLACEHOLDER on branch `lifecycle` only: the signature of deleteVersions as
// the versioning work on main is writing it (issue 18 §1), so that the
// lifecycle pass can be written against it. Main's src/core/versions.ts
// replaces this file whole when the branches meet.
import type { Principal } from '../principals/principal.ts';
import { DomainError } from './errors.ts';
import type { DeletionOptions } from './delete-objects.ts';
import type { Services } from './services.ts';

export interface VersionRef {
  key: string;
  versionId: string;
}

export interface VersionDeletions {
  deleted: { key: string; versionId: string; deleteMarker: boolean }[];
  errors: { key: string; versionId: string; code: string; message: string }[];
}

/** Deletes versions (and delete markers) by id: not on this branch yet. */
export async function deleteVersions(
  _storage: Services,
  _bucketName: string,
  _refs: readonly VersionRef[],
  _principal: Principal,
  _opts: { bypassGovernance?: boolean } & DeletionOptions = {},
): Promise<VersionDeletions> {
  throw new DomainError('NotSupported', 'Deleting versions by id arrives with the versioning work on main.');
}
