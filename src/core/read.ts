// The read rules both APIs share (S3 GetObject/HeadObject/CopyObject and
// /storage/v1 downloads): byte ranges as S3 applies RFC 9110, entity-tag
// lists and HTTP dates in conditional requests. One definition, so the two
// APIs cannot drift apart.
import type { IncomingHttpHeaders } from 'node:http';
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

/** The conditional-request headers of a read (RFC 9110 §13.1), as sent. */
export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
  /** Named in a failure's Condition before the header's name (CopyObject's x-amz-copy-source-). */
  prefix?: string;
}

export function readConditionsOf(headers: IncomingHttpHeaders): ReadConditions {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);
  return {
    ifMatch: one(headers['if-match']),
    ifNoneMatch: one(headers['if-none-match']),
    ifModifiedSince: one(headers['if-modified-since']),
    ifUnmodifiedSince: one(headers['if-unmodified-since']),
  };
}

/**
 * Conditional reads, in the order of RFC 9110 §13.2.2: If-Match, else
 * If-Unmodified-Since (PreconditionFailed, 412); then If-None-Match, else
 * If-Modified-Since: the one returned says the object is not modified (a
 * GET answers 304; a copy source's is one more 412). Last-Modified has
 * one-second resolution on the wire, so compare at that.
 */
export function notModified(c: ReadConditions, object: { etag: string; updated_at: Date }): 'If-None-Match' | 'If-Modified-Since' | undefined {
  const modified = Math.floor(object.updated_at.getTime() / 1000) * 1000;
  const fail = (condition: string) => new DomainError('PreconditionFailed', undefined, { Condition: (c.prefix ?? '') + condition });
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, object.etag)) throw fail('If-Match');
  } else {
    const since = httpDate(c.ifUnmodifiedSince);
    if (since !== undefined && modified > since) throw fail('If-Unmodified-Since');
  }
  if (c.ifNoneMatch !== undefined) return etagListMatches(c.ifNoneMatch, object.etag) ? 'If-None-Match' : undefined;
  const since = httpDate(c.ifModifiedSince);
  return since !== undefined && modified <= since ? 'If-Modified-Since' : undefined;
}
