import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRateLimit, parseRateLimit, TokenBuckets } from './token-bucket.ts';

/** A clock the test moves by hand (milliseconds). */
function manualClock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** How many of `n` requests for `key` a bucket admits, at one instant. */
function admitted(buckets: TokenBuckets, key: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (buckets.tryTake(key).ok) ok++;
  return ok;
}

describe('TokenBuckets', () => {
  it('admits a burst at once, then the rate', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ rate: 10, burst: 50 }, { now: clock.now });
    assert.equal(admitted(buckets, 'url', 80), 50, 'the burst, then nothing');
    clock.advance(100);
    assert.equal(admitted(buckets, 'url', 5), 1, 'one token per 100 ms at 10/s');
    clock.advance(1_000);
    assert.equal(admitted(buckets, 'url', 20), 10, 'a second later: one second’s worth');
    clock.advance(60_000);
    assert.equal(admitted(buckets, 'url', 80), 50, 'never more than the burst however long it rested');
  });

  it('says how long until the next token, and a refusal takes nothing', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ rate: 2, burst: 1 }, { now: clock.now });
    assert.deepEqual(buckets.tryTake('k'), { ok: true });
    const refused = buckets.tryTake('k');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.retryAfterMs, 500);
    clock.advance(200);
    for (let i = 0; i < 10; i++) buckets.tryTake('k'); // refused: they must not push the next token further away
    assert.equal(buckets.waitMs('k'), 300);
    clock.advance(300);
    assert.equal(buckets.waitMs('k'), 0);
    assert.deepEqual(buckets.tryTake('k'), { ok: true });
  });

  it('keeps one bucket per key: draining one leaves the others whole', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ rate: 1, burst: 3 }, { now: clock.now });
    assert.equal(admitted(buckets, 'a', 10), 3);
    assert.equal(admitted(buckets, 'b', 10), 3);
    assert.equal(admitted(buckets, 'a', 1), 0);
  });

  it('keeps at most maxKeys keys: a flood of new keys evicts the least recently seen, never grows the map', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ rate: 1, burst: 2 }, { now: clock.now, maxKeys: 100 });
    assert.equal(admitted(buckets, 'hammered', 5), 2);
    for (let i = 0; i < 10_000; i++) buckets.tryTake(`address-${i}`);
    assert.equal(buckets.size, 100);
    // The drained key was pushed out, and starts again full: the price of bounded memory.
    assert.equal(admitted(buckets, 'hammered', 5), 2);
  });

  it('is exact under a fractional rate', () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ rate: 0.5, burst: 1 }, { now: clock.now });
    assert.equal(admitted(buckets, 'k', 3), 1);
    assert.equal(buckets.waitMs('k'), 2_000);
    clock.advance(1_999);
    assert.equal(admitted(buckets, 'k', 1), 0);
    clock.advance(1);
    assert.equal(admitted(buckets, 'k', 1), 1);
  });

  it('refuses a limit that admits nothing', () => {
    assert.throws(() => new TokenBuckets({ rate: 0, burst: 5 }), RangeError);
    assert.throws(() => new TokenBuckets({ rate: 1, burst: 0 }), RangeError);
  });
});

describe('parseRateLimit', () => {
  it('reads <rate>[:<burst>], a missing burst being one second’s worth', () => {
    assert.deepEqual(parseRateLimit('10:50'), { rate: 10, burst: 50 });
    assert.deepEqual(parseRateLimit('10'), { rate: 10, burst: 10 });
    assert.deepEqual(parseRateLimit('0.5'), { rate: 0.5, burst: 1 });
    assert.deepEqual(parseRateLimit('2.5'), { rate: 2.5, burst: 3 });
    assert.deepEqual(parseRateLimit(' 100:1 '), { rate: 100, burst: 1 });
  });

  it('reads 0 and off as no limit', () => {
    for (const off of ['0', 'off', 'OFF', '0.0']) assert.equal(parseRateLimit(off), null, off);
  });

  it('refuses anything else, saying what it takes', () => {
    for (const bad of ['', 'ten', '-1', '10:', ':5', '10:0', '10:2.5', '10/s', '1e3', '0:5', '10:50:1', '2000000', '1:9999999999']) {
      assert.throws(() => parseRateLimit(bad), Error, bad);
    }
    assert.throws(() => parseRateLimit('fast'), /requests per second/);
  });

  it('describes a limit for the logs', () => {
    assert.equal(describeRateLimit({ rate: 10, burst: 50 }), '10/s burst 50');
    assert.equal(describeRateLimit(null), 'off');
  });
});
