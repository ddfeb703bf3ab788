// Token buckets, one per key, for the rate limits (http/rate-limit.ts).
//
// A key's bucket holds up to `burst` tokens and gains `rate` a second; a
// request takes one, and a request that finds less than one is refused (and
// takes nothing). So a key may send `burst` requests at once after a quiet
// spell and `rate` a second for as long as it likes.
//
// Memory is bounded: the buckets live in an LRU of `maxKeys` entries, so a
// flood of distinct keys (addresses, made-up tokens) evicts the least recently
// seen instead of growing the map. An evicted key starts again with a full
// bucket, which is exact for any key idle for burst/rate seconds (its bucket
// would be full again anyway); it loosens the limit only for a key still
// draining while more than `maxKeys` others were seen since.
//
// Pure: the clock is injected (monotonic milliseconds), nothing else is read.
import { LRUCache } from 'lru-cache';

export interface RateLimit {
  /** Tokens gained per second: the sustained rate a key may keep up. */
  rate: number;
  /** The bucket's size: how many requests a key may send at once after a quiet spell. */
  burst: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (the clock's milliseconds). */
  at: number;
}

export interface TokenBucketOptions {
  /** Keys kept at most; the least recently used go first. */
  maxKeys?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

/** Keys per limit: about 25 MB at most (measured), and exact unless over 100,000 keys are active within one refill period. */
export const DEFAULT_MAX_KEYS = 100_000;

/** Floating-point slack when comparing a refilled bucket with one token. */
const EPSILON = 1e-9;

export class TokenBuckets {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly now: () => number;

  constructor(
    readonly limit: RateLimit,
    { maxKeys = DEFAULT_MAX_KEYS, now = () => performance.now() }: TokenBucketOptions = {},
  ) {
    if (!(limit.rate > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs a positive rate and a burst of at least 1');
    this.buckets = new LRUCache({ max: maxKeys });
    this.now = now;
  }

  /** Milliseconds until `key` has a token: 0 when it has one now. Takes nothing. */
  waitMs(key: string): number {
    const tokens = this.tokensOf(key, this.now());
    return tokens >= 1 - EPSILON ? 0 : ((1 - tokens) / this.limit.rate) * 1000;
  }

  /** Takes one of `key`'s tokens (call after waitMs said 0). */
  take(key: string): void {
    const at = this.now();
    this.buckets.set(key, { tokens: Math.max(0, this.tokensOf(key, at) - 1), at });
  }

  /** Takes a token when there is one; otherwise the milliseconds until there is. */
  tryTake(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const wait = this.waitMs(key);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    this.take(key);
    return { ok: true };
  }

  /** Keys tracked now (for the metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private tokensOf(key: string, at: number): number {
    const b = this.buckets.get(key);
    if (!b) return this.limit.burst;
    return Math.min(this.limit.burst, b.tokens + (Math.max(0, at - b.at) / 1000) * this.limit.rate);
  }
}

const RATE_LIMIT = /^(\d+(?:\.\d+)?)(?::(\d+))?$/;
/** Beyond any one process's reach; a typo (an extra 0 or three) is still caught by the burst's bound. */
const MAX_RATE = 1_000_000;
const MAX_BURST = 1_000_000_000;

/**
 * A limit as the AEROSTORE_RATE_LIMIT_* settings write it:
 * `<requests per second>[:<burst>]` (`10`, `0.5`, `10:50`); the burst is one
 * second's worth (at least 1) when not given. `0` or `off`: no limit (null).
 * Throws a message fit for the configuration error.
 */
export function parseRateLimit(text: string): RateLimit | null {
  const t = text.trim().toLowerCase();
  if (t === 'off') return null;
  const m = RATE_LIMIT.exec(t);
  if (!m) throw new Error('<requests per second>[:<burst>], e.g. 10 or 10:50 (0 or off: no limit)');
  const rate = Number(m[1]);
  if (rate === 0) {
    if (m[2] !== undefined) throw new Error('a rate of 0 turns the limit off and takes no burst');
    return null;
  }
  if (rate > MAX_RATE) throw new Error(`at most ${MAX_RATE} requests per second`);
  const burst = m[2] === undefined ? Math.max(1, Math.ceil(rate)) : Number(m[2]);
  if (burst < 1) throw new Error('the burst is at least 1');
  if (burst > MAX_BURST) throw new Error(`the burst is at most ${MAX_BURST}`);
  return { rate, burst };
}

/** `10/s burst 50`, or `off`: for logs. */
export function describeRateLimit(limit: RateLimit | null): string {
  return limit ? `${limit.rate}/s burst ${limit.burst}` : 'off';
}
