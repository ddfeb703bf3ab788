// Crash safety, the short form that runs with `npm test` (the full run is
// `npm run test:crash`, scripts/crash.ts): rounds of concurrent writes ended
// by SIGKILL of the server, then of the server and its Postgres; after each
// restart every acknowledged write is there, nothing half-written, metadata
// and files agree; after a final sweep no orphan is left. Then the same in a
// versioned bucket, where every acknowledged version must survive too, and
// with lifecycle passes interrupted as well (no locked version removed).
// test/support/crash-harness.ts has the model and the checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashRounds } from './support/crash-harness.ts';
import { sweepOnce } from './support/sweep.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);

describe('crash safety under SIGKILL', () => {
  for (const killPostgres of [false, true]) {
    it(`${ROUNDS} rounds, killing the server${killPostgres ? ' and its Postgres' : ''}: nothing acknowledged is lost`, { timeout: ROUNDS * 30_000 }, async () => {
      const s = await runCrashRounds({ rounds: ROUNDS, killPostgres }, sweepOnce);
      assert.ok(s.acknowledged > ROUNDS * 5, `only ${s.acknowledged} writes acknowledged`);
      assert.deepEqual(s.problems, []);
      assert.equal(s.lost, 0);
      assert.equal(s.orphansAfterSweep, 0);
    });
  }
  const versionedRounds = Math.max(3, Math.ceil(ROUNDS / 2));
  it(`${versionedRounds} rounds in a versioned bucket, killing the server and its Postgres: no acknowledged version lost`, { timeout: versionedRounds * 30_000 }, async () => {
    const s = await runCrashRounds({ rounds: versionedRounds, killPostgres: true, versioned: true }, sweepOnce);
    assert.ok(s.acknowledged > versionedRounds * 5, `only ${s.acknowledged} writes acknowledged`);
    assert.deepEqual(s.problems, []);
    assert.equal(s.lost, 0);
    assert.equal(s.orphansAfterSweep, 0);
  });
  it(`${versionedRounds} rounds with lifecycle passes running through the kills: no locked version removed, nothing left behind`, { timeout: versionedRounds * 30_000 }, async () => {
    const s = await runCrashRounds({ rounds: versionedRounds, killPostgres: true, lifecycle: true }, sweepOnce);
    assert.ok(s.acknowledged > versionedRounds * 5, `only ${s.acknowledged} writes acknowledged`);
    assert.deepEqual(s.problems, []);
    assert.equal(s.lost, 0);
    assert.equal(s.orphansAfterSweep, 0);
  });
});
