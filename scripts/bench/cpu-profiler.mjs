// Preloaded into the server by the benchmarks' `--cpu-prof DIR` (node's own
// --cpu-prof is refused in NODE_OPTIONS). SIGUSR2 starts a V8 CPU profile
// through node:inspector; the next SIGUSR2 stops it and writes
// DIR/CPU.<pid>.<n>.cpuprofile. The benchmark sends the signals around each
// measured phase and renames the files after the phase.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.AEROSTORE_BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let running = false;
  let n = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      session.post('Profiler.start');
      running = true;
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `CPU.${process.pid}.${++n}.cpuprofile`);
      writeFileSync(file + '.tmp', JSON.stringify(result.profile));
      renameSync(file + '.tmp', file);
    });
  });
}
