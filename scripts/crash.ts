// `npm run test:crash`: the crash harness in full (test/support/crash-harness.ts).
// Rounds of concurrent S3 writes (PUT, overwrite, DELETE, copy, multipart)
// ended by SIGKILL — of the server, then of the server and its embedded
// Postgres — each followed by a restart and a check of every key against
// what was acknowledged; then one sweep and a count of orphans. Prints the
// figures docs/reliability.md records; exits 1 on any loss or leftover.
//
// Flags: --rounds N (per mode, default 200), --mode server|postgres|both (default both),
// --versioned (a versioned bucket: every acknowledged version must survive; clients also delete past versions),
// --lifecycle (versioned, with object lock, and lifecycle passes running through the kills: no locked version removed).
import { parseArgs } from 'node:util';
import { runCrashRounds, type CrashSummary } from '../test/support/crash-harness.ts';
import { sweepOnce } from '../test/support/sweep.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    mode: { type: 'string', default: 'both' },
    versioned: { type: 'boolean', default: false },
    lifecycle: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run test:crash -- [--rounds N] [--mode server|postgres|both] [--versioned] [--lifecycle]');
  process.exit(0);
}
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
const modes = flags.mode === 'both' ? [false, true] : [flags.mode === 'postgres'];

let failed = false;
for (const killPostgres of modes) {
  const what = `${killPostgres ? 'server + Postgres' : 'server'}${flags.lifecycle ? ' (versioned, lifecycle)' : flags.versioned ? ' (versioned)' : ''}`;
  const started = Date.now();
  console.log(`\nSIGKILL of the ${what}, ${rounds} rounds`);
  const s: CrashSummary = await runCrashRounds(
    { rounds, killPostgres, versioned: flags.versioned, lifecycle: flags.lifecycle, log: (line) => process.stdout.write(`  ${line}\n`) },
    sweepOnce,
  );
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(`\n| killed | rounds | writes acknowledged | in flight at the kill | of which landed | lost | orphans after the sweep | minutes |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|`);
  console.log(`| ${what} | ${s.rounds} | ${s.acknowledged} | ${s.inflightAtKill} | ${s.inflightLanded} | ${s.lost} | ${s.orphansAfterSweep} | ${minutes} |`);
  if (s.problems.length > 0) {
    failed = true;
    console.log(`\n${s.problems.length} problems:\n${s.problems.slice(0, 50).join('\n')}`);
  }
}
process.exit(failed ? 1 : 0);
