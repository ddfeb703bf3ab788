// What the blob store holds beside what the database says, for the sweeper
// and fsck: the store's listings (BlobStore, src/blobs/store.ts) merged with
// the rows, in orders that merge. Nothing here changes anything.
import type { BlobEntry, BlobStore, PartFile, StoreLocation } from '../blobs/store.ts';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';

export interface BlobRowInfo {
  sha256: string;
  size: number;
  ref_count: number;
}

/** One bucket's blob rows in sha256 order, a page at a time (keyset paging: no long-lived snapshot). */
export async function* blobRows(sql: Sql, bucketId: string, pageSize = 1000): AsyncGenerator<BlobRowInfo> {
  let after = '';
  for (;;) {
    const page = await readAs(sql, SERVICE, (tx) => tx<BlobRowInfo[]>`
      select sha256, size, ref_count from storage.blobs
      where bucket_id = ${bucketId} and sha256 > ${after} order by sha256 limit ${pageSize}`);
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1].sha256;
  }
}

/** `file`: where the store keeps the blob, when it has one. */
export type BlobPair =
  | { sha256: string; row: BlobRowInfo; file?: StoreLocation }
  | { sha256: string; row?: undefined; file: StoreLocation }
  | { stray: StoreLocation };

/**
 * Merges a bucket's blobs in the store with its blob rows, both in sha256
 * order: each content once, with its row, its file, or both. A row and a
 * file are read at different moments, so a lone one is only a candidate:
 * whoever acts on it looks again under the row's lock.
 */
export async function* pairBlobs(files: AsyncIterable<BlobEntry>, rows: AsyncIterable<BlobRowInfo>): AsyncGenerator<BlobPair> {
  const fileIt = files[Symbol.asyncIterator]();
  const rowIt = rows[Symbol.asyncIterator]();
  const nextFile = async (): Promise<{ sha256: string; location: StoreLocation } | undefined> => {
    for (;;) {
      const n = await fileIt.next();
      if (n.done) return undefined;
      if ('stray' in n.value) {
        strays.push(n.value.stray);
        continue;
      }
      return n.value;
    }
  };
  const strays: StoreLocation[] = [];
  let file = await nextFile();
  let row = (await rowIt.next()).value as BlobRowInfo | undefined;
  for (;;) {
    while (strays.length) yield { stray: strays.shift()! };
    if (!file && !row) return;
    if (file && (!row || file.sha256 < row.sha256)) {
      yield { sha256: file.sha256, file: file.location };
      file = await nextFile();
    } else if (row && (!file || row.sha256 < file.sha256)) {
      yield { sha256: row.sha256, row };
      row = (await rowIt.next()).value as BlobRowInfo | undefined;
    } else {
      yield { sha256: row!.sha256, row: row!, file: file!.location };
      file = await nextFile();
      row = (await rowIt.next()).value as BlobRowInfo | undefined;
    }
  }
}

/**
 * A bucket's multipart uploads in the store, whole: upload id → its part
 * files. Callers read the part rows after this (a part row commits only
 * after its file is in place), for all the bucket's uploads at once.
 */
export async function uploadsInStore(blobs: BlobStore, bucketId: string): Promise<{ uploads: Map<string, PartFile[]>; strays: StoreLocation[] }> {
  const uploads = new Map<string, PartFile[]>();
  const strays: StoreLocation[] = [];
  for await (const entry of blobs.listUploads(bucketId)) {
    if ('stray' in entry) strays.push(entry.stray);
    else uploads.set(entry.uploadId, entry.parts);
  }
  return { uploads, strays };
}
