// What each bucket holds, for the operator (GET /admin/v1/buckets/stats, the
// console's bucket list): its objects, the bytes they name, and the bytes the
// content-addressed store keeps for them. Versions count: a noncurrent
// version is bytes a client can read back. Deduplication saves the
// difference between what the versions name and what the blobs hold
// (the same content stored once per bucket, DESIGN.md "Blobs").
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';

export interface BucketStats {
  name: string;
  /** Current objects (one per key). */
  objects: number;
  /** Their bytes. */
  bytes: number;
  /** Noncurrent versions and their bytes (delete markers have none). */
  noncurrent_versions: number;
  noncurrent_bytes: number;
  /** Bytes of the distinct contents the versions reference, as kept on disk. */
  stored_bytes: number;
  /** bytes + noncurrent_bytes − stored_bytes: what deduplication saved. */
  dedup_savings: number;
}

/** Every bucket's figures, computed in one statement as the service role. */
export async function bucketStats(sql: Sql): Promise<BucketStats[]> {
  const rows = await readAs(sql, SERVICE, (tx) => tx<Record<keyof BucketStats, string>[]>`
    select b.name,
      coalesce(o.objects, 0) as objects, coalesce(o.bytes, 0) as bytes,
      coalesce(v.versions, 0) as noncurrent_versions, coalesce(v.bytes, 0) as noncurrent_bytes,
      coalesce(s.bytes, 0) as stored_bytes
    from storage.buckets b
    left join (select bucket_uuid, count(*) as objects, sum(size) as bytes from storage.objects group by bucket_uuid) o on o.bucket_uuid = b.id
    left join (select bucket_uuid, count(*) as versions, sum(size) as bytes from storage.object_versions where not delete_marker group by bucket_uuid) v
      on v.bucket_uuid = b.id
    left join (select bucket_id, sum(size) as bytes from storage.blobs where ref_count > 0 group by bucket_id) s on s.bucket_id = b.id
    order by b.name`);
  return rows.map((r) => {
    const n = (k: keyof BucketStats) => Number(r[k]);
    const stats = {
      name: r.name,
      objects: n('objects'),
      bytes: n('bytes'),
      noncurrent_versions: n('noncurrent_versions'),
      noncurrent_bytes: n('noncurrent_bytes'),
      stored_bytes: n('stored_bytes'),
    };
    return { ...stats, dedup_savings: Math.max(0, stats.bytes + stats.noncurrent_bytes - stats.stored_bytes) };
  });
}
