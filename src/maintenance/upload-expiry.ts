// Abandoned multipart uploads (AEROSTORE_MULTIPART_EXPIRY_DAYS): their rows
// and part files are removed once they are older than the expiry, hourly in
// each process, and by the sweeper (sweeper.ts) as part of its pass. The
// records of completed uploads (storage.completed_uploads, which answer a
// retried CompleteMultipartUpload) go once they are as old.
import type { Services } from '../core/services.ts';
import { asPrincipal, SERVICE } from '../db/session.ts';

/** Deletes uploads initiated more than `days` days ago, and their part files, and completion records as old. Returns how many uploads. */
export async function expireUploads(storage: Services, days: number): Promise<number> {
  const gone = await asPrincipal(storage.sql, SERVICE, (tx) => tx<{ id: string; bucket_id: string }[]>`
    delete from storage.multipart_uploads where initiated_at < now() - ${days}::float8 * interval '1 day'
    returning id, bucket_id`);
  for (const u of gone) {
    await storage.blobs.removeUpload(u.bucket_id, u.id).catch((err) => {
      storage.log.warn({ err, uploadId: u.id }, 'could not remove the part files of an expired upload');
    });
  }
  if (gone.length) storage.log.info({ count: gone.length, days }, 'expired abandoned multipart uploads');
  await asPrincipal(storage.sql, SERVICE, (tx) => tx`
    delete from storage.completed_uploads where completed_at < now() - ${days}::float8 * interval '1 day'`);
  return gone.length;
}

/**
 * Runs expireUploads now and every `everyMs` (hourly by default) on an
 * unref'd timer: it never keeps the process alive, and shutdown waits for a
 * run in progress (Services.background). Returns a function that stops it.
 */
export function scheduleUploadExpiry(
  storage: Services,
  days: number,
  // At least four runs per expiry period, so a short period (tests) is honoured too.
  everyMs = Math.max(250, Math.min(60 * 60 * 1000, (days * 86_400_000) / 4)),
): () => void {
  const run = () => {
    const job = expireUploads(storage, days)
      .catch((err) => storage.log.warn({ err }, 'multipart upload expiry failed; retried at the next run'))
      .finally(() => storage.background.delete(job));
    storage.background.add(job);
  };
  const first = setTimeout(run, Math.min(1000, everyMs));
  const timer = setInterval(run, everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
