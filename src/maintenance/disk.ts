// Reading the local disk store's tree (src/blobs/store.ts DiskLayout) for the
// sweeper and fsck: what is there, in an order that can be merged with the
// database's rows. Nothing here changes anything.
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from '../db/connect.ts';
import { readAs, SERVICE } from '../db/session.ts';

const SHA256 = /^[0-9a-f]{64}$/;
const SHARD = /^[0-9a-f]{2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isBucketId = (name: string): boolean => UUID.test(name);

/** JavaScript's default string order is UTF-16 code units; for these ASCII names it is Postgres's COLLATE "C" order. */
const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A directory's entries by name; none when it does not exist (or went away meanwhile). */
export async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort(byName);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Milliseconds since the file's data last changed; undefined when it is gone. */
export async function idleMs(file: string): Promise<number | undefined> {
  try {
    return Date.now() - (await lstat(file)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The entries directly under a root (blobs/ or parts/): bucket directories and anything else. */
export async function bucketEntries(root: string): Promise<{ bucketIds: string[]; strays: string[] }> {
  const bucketIds: string[] = [];
  const strays: string[] = [];
  for (const e of await listDir(root)) {
    if (e.isDirectory() && isBucketId(e.name)) bucketIds.push(e.name);
    else strays.push(path.join(root, e.name));
  }
  return { bucketIds, strays };
}

export type BlobTreeEntry = { sha256: string; path: string } | { stray: string };

/**
 * One bucket's blob files in sha256 order — the order of the blobs table's
 * primary key — and anything in its tree not named like a blob (`stray`).
 * Only one shard directory is held in memory at a time.
 */
export async function* blobTree(blobsDir: string, bucketId: string): AsyncGenerator<BlobTreeEntry> {
  const bucketDir = path.join(blobsDir, bucketId);
  for (const a of await listDir(bucketDir)) {
    const aPath = path.join(bucketDir, a.name);
    if (!a.isDirectory() || !SHARD.test(a.name)) {
      yield { stray: aPath };
      continue;
    }
    for (const b of await listDir(aPath)) {
      const bPath = path.join(aPath, b.name);
      if (!b.isDirectory() || !SHARD.test(b.name)) {
        yield { stray: bPath };
        continue;
      }
      for (const f of await listDir(bPath)) {
        const fPath = path.join(bPath, f.name);
        if (f.isFile() && SHA256.test(f.name) && f.name.startsWith(a.name + b.name)) yield { sha256: f.name, path: fPath };
        else yield { stray: fPath };
      }
    }
  }
}

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

export type BlobPair =
  | { sha256: string; row: BlobRowInfo; file?: string }
  | { sha256: string; row?: undefined; file: string }
  | { stray: string };

/**
 * Merges a bucket's blob files with its blob rows, both in sha256 order: each
 * content once, with its row, its file, or both. A row and a file are read at
 * different moments, so a lone one is only a candidate: whoever acts on it
 * looks again under the row's lock.
 */
export async function* pairBlobs(files: AsyncIterable<BlobTreeEntry>, rows: AsyncIterable<BlobRowInfo>): AsyncGenerator<BlobPair> {
  const fileIt = files[Symbol.asyncIterator]();
  const rowIt = rows[Symbol.asyncIterator]();
  const nextFile = async (): Promise<{ sha256: string; path: string } | undefined> => {
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
  const strays: string[] = [];
  let file = await nextFile();
  let row = (await rowIt.next()).value as BlobRowInfo | undefined;
  for (;;) {
    while (strays.length) yield { stray: strays.shift()! };
    if (!file && !row) return;
    if (file && (!row || file.sha256 < row.sha256)) {
      yield { sha256: file.sha256, file: file.path };
      file = await nextFile();
    } else if (row && (!file || row.sha256 < file.sha256)) {
      yield { sha256: row.sha256, row };
      row = (await rowIt.next()).value as BlobRowInfo | undefined;
    } else {
      yield { sha256: row!.sha256, row: row!, file: file!.path };
      file = await nextFile();
      row = (await rowIt.next()).value as BlobRowInfo | undefined;
    }
  }
}

/** Regular files directly in `dir` (the temp directory), with how long each has been idle. */
export async function filesIn(dir: string): Promise<Array<{ path: string; idleMs: number }>> {
  const out: Array<{ path: string; idleMs: number }> = [];
  for (const e of await listDir(dir)) {
    if (!e.isFile()) continue;
    const p = path.join(dir, e.name);
    const idle = await idleMs(p);
    if (idle !== undefined) out.push({ path: p, idleMs: idle });
  }
  return out;
}

/** A bucket's part files: upload id → file names (refs are `<bucket>/<upload>/<name>`, relative to parts/). */
export async function partTree(partsDir: string, bucketId: string): Promise<{ uploads: Map<string, string[]>; strays: string[] }> {
  const uploads = new Map<string, string[]>();
  const strays: string[] = [];
  const bucketDir = path.join(partsDir, bucketId);
  for (const u of await listDir(bucketDir)) {
    if (!u.isDirectory()) {
      strays.push(path.join(bucketDir, u.name));
      continue;
    }
    const names: string[] = [];
    for (const f of await listDir(path.join(bucketDir, u.name))) {
      if (f.isFile()) names.push(f.name);
      else strays.push(path.join(bucketDir, u.name, f.name));
    }
    uploads.set(u.name, names);
  }
  return { uploads, strays };
}

/** The part row reference of a file under parts/, as storePart records it (BlobStore.keepPart). */
export const partRef = (bucketId: string, uploadId: string, name: string): string => path.join(bucketId, uploadId, name);
