// Trimming runs of given characters off the ends of client input, without a
// regular expression: an unanchored /x+$/ rescans a long run from each of its
// characters (quadratic), and the lookbehind form that keeps it linear in V8
// is flagged by the ReDoS checker on some runs (src/regex-safety.test.ts).
// A loop from each end is linear, and plainly so.

/** `value` without the characters of `chars` at its end (and, with `start`, at its start too). */
export function trimChars(value: string, chars: string, opts: { start?: boolean } = {}): string {
  let end = value.length;
  while (end > 0 && chars.includes(value[end - 1])) end--;
  let start = 0;
  if (opts.start) while (start < end && chars.includes(value[start])) start++;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
