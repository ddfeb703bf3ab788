// Key ranges in S3's order: keys are `text COLLATE "C"`, compared as UTF-8
// bytes, so "every key under a prefix" is one index range. A module of its
// own, for the listings (core/list.ts, core/folder-list.ts) and the audit
// trail's query (events/audit.ts), which the core reaches through the
// download log and so cannot import a listing without an import cycle.

/**
 * The smallest string greater than every string that starts with `p`, in
 * UTF-8 byte order: `p` with its last code point incremented (UTF-8 keeps
 * code point order). undefined when no such string exists (empty, or all
 * U+10FFFF).
 */
export function prefixEnd(p: string): string | undefined {
  const cps = Array.from(p);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return cps.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

/** UTF-16 code unit → its place in code point (so UTF-8 byte) order: surrogates sort after U+E000–U+FFFF. */
const inCodePointOrder = (u: number) => (u < 0xd800 ? u : u < 0xe000 ? u + 0x2000 : u - 0x800);

/**
 * Compares two keys in UTF-8 byte order (Postgres's "C" collation) without
 * encoding them: UTF-16 order is code point order except where a surrogate
 * meets U+E000–U+FFFF, which the first differing unit settles.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return inCodePointOrder(x) - inCodePointOrder(y);
  }
  return a.length - b.length;
}
