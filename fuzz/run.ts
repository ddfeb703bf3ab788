// `npm run fuzz [-- target...]`: runs each fuzz target (fuzz/<target>.fuzz.ts)
// for FUZZ_SECONDS (default 25; CI keeps the whole run under two minutes,
// set it higher locally) in its own process, with a heap cap (a memory blow-up
// is a crash, not a slow machine) and a watchdog (a parser stuck in a
// synchronous loop cannot be interrupted from inside). FUZZ_SEED replays.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { FUZZ_DIR } from './harness.ts';

const TARGETS = ['chunked', 'sigv4', 'xml', 'headers'];
const seconds = Number(process.env.FUZZ_SECONDS ?? 25);
const HEAP_MB = 512;
const targets = process.argv.slice(2).length ? process.argv.slice(2) : TARGETS;

let failed = false;
for (const target of targets) {
  if (!TARGETS.includes(target)) throw new Error(`unknown fuzz target ${target}: ${TARGETS.join(', ')}`);
  const started = Date.now();
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', path.join(FUZZ_DIR, `${target}.fuzz.ts`)], {
      stdio: 'inherit',
      env: { ...process.env, FUZZ_SECONDS: String(seconds) },
    });
    const watchdog = setTimeout(() => {
      console.error(`✖ ${target}: still running ${seconds + 60} s after it started: a hang (replay with the seed it printed)`);
      child.kill('SIGKILL');
    }, (seconds + 60) * 1000);
    child.on('exit', (c, signal) => {
      clearTimeout(watchdog);
      resolve(c ?? signal ?? 'unknown');
    });
  });
  if (code !== 0) {
    failed = true;
    console.error(`✖ ${target} failed (${code}) after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
process.exit(failed ? 1 : 0);
