// The read rules both APIs share (S3 GetObject/HeadObject/CopyObject and
// /storage/v1 downloads): byte ranges as S3 applies RFC 9110, entity-tag
// lists and HTTP dates in conditional requests. One definition, so the two
// APIs cannot drift apart.
import type { ByteRange } from '../blobs/store.ts';
import { DomainError } from './errors.ts';

/**
 * One byte range per RFC 9110 §14.1.2. S3 serves a single range; a header it
 * cannot parse, or one with several ranges, is ignored (the whole object is
 * sent), while a well-formed range that starts past the end is 416. An empty
 * object has no byte to range over: S3 ignores Range on it and sends it whole.
 * The 416 is a DomainError (InvalidRange): /storage/v1 parses Range here too.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header || size === 0) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new DomainError('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) });
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw new DomainError('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) });
  return { start, end };
}

/** Entity tags compared strongly, quotes optional (clients differ). */
export function etagListMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^"|"$/g, '');
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
    return tag === '*' || tag === bare;
  });
}

export function httpDate(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : t;
}
