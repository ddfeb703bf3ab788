/** A byte range of a blob's plaintext, as HTTP Range names one. */
export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP Range. */
  end: number;
}
