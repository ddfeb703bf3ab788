// The File Storage Blueprint's file record: an object as the blueprint's
// applications read it (GET /storage/v1/file/..., the upload and sign
// responses, and SQL's storage.files view of migration 0016, which shows the
// same fields under the objects table's row-level security).

/** What a record is made of: an objects row (core/objects.ts ObjectRow) has it all. */
export interface FileRow {
  id: string;
  key: string;
  filename: string | null;
  content_type: string | null;
  size: number;
  sha256: string;
  owner_id: string | null;
  updated_at: Date;
  scan_status: 'pending' | 'clean' | 'infected' | 'unscanned';
}

export interface FileRecord {
  file_id: string;
  bucket: string;
  key: string;
  /** The original file name: a form part's filename, a Content-Disposition filename sent with the upload, else the key's last segment. */
  filename: string;
  content_type: string;
  size_bytes: number;
  checksum_sha256: string;
  /** Where the bytes live: the blob backend in use. */
  storage_provider: 'local';
  /** Presigned, when asked for. */
  upload_url?: string;
  download_url?: string;
  /** The uploader's user id; null when the service role (or a key without a user) wrote it. */
  uploaded_by: string | null;
  /** ISO 8601: when this content was written (an overwrite is a new upload). */
  uploaded_at: string;
  scan_status: FileRow['scan_status'];
}

/** A key's last segment: the name a file without a stored one goes by (storage.file_name in SQL). */
export function fileNameOf(row: Pick<FileRow, 'filename' | 'key'>): string {
  return row.filename ?? row.key.slice(row.key.lastIndexOf('/') + 1);
}

export function fileRecordOf(bucket: string, o: FileRow, urls: { upload_url?: string; download_url?: string } = {}): FileRecord {
  return {
    file_id: o.id,
    bucket,
    key: o.key,
    filename: fileNameOf(o),
    content_type: o.content_type ?? 'application/octet-stream',
    size_bytes: o.size,
    checksum_sha256: o.sha256,
    storage_provider: 'local',
    ...urls,
    uploaded_by: o.owner_id,
    uploaded_at: o.updated_at.toISOString(),
    scan_status: o.scan_status,
  };
}

/**
 * The filename a Content-Disposition names (RFC 6266: `filename*` in RFC
 * 8187's charset''percent-encoding wins over `filename`), without any path;
 * undefined when it names none or cannot be read.
 */
export function dispositionFileName(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  let name: string | undefined;
  const extended = /(?:^|;)\s*filename\*\s*=\s*([^;]*)/i.exec(disposition);
  if (extended) {
    const m = /^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/.exec(extended[1].trim());
    if (m && /^utf-8$/i.test(m[1])) {
      try {
        name = decodeURIComponent(m[2]);
      } catch {
        name = undefined;
      }
    }
  }
  if (name === undefined) {
    const plain = /(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/i.exec(disposition);
    if (plain) {
      const v = plain[1].trim();
      name = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
    }
  }
  const base = name?.replace(/^.*[\\/]/, '').trim();
  return base ? base : undefined;
}
