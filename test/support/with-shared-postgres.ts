// Runs a command (the test runner) beside one embedded Postgres that its test
// files share (test/support/shared-postgres.ts), and stops and removes that
// Postgres when the command ends — passed, failed, or interrupted:
//
//   node --import tsx test/support/with-shared-postgres.ts node --import tsx --test <files>
//
// The command gets AEROSTORE_TEST_DATABASE_URL (the migrated template) and
// exits with the command's status. If the variable is already set (an
// outer wrapper, or a Postgres of your own), the command runs on that one.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { startTestCluster, TEST_DATABASE_ENV } from './shared-postgres.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-shared-postgres.ts <command> [args…]');
  process.exit(2);
}

const cluster = process.env[TEST_DATABASE_ENV] ? undefined : await startTestCluster();
const env = cluster ? { ...process.env, [TEST_DATABASE_ENV]: cluster.templateUrl } : process.env;
const child = spawn(command, args, { stdio: 'inherit', env });
// Ctrl-C reaches the whole process group (the runner and Postgres alike);
// a signal sent to this process alone is passed on. Either way, this process
// stays until the command has ended, to stop Postgres after it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
const status = await new Promise<number>((resolve) => {
  child.once('error', (err) => {
    console.error(`with-shared-postgres: ${err.message}`);
    resolve(127);
  });
  child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
});
await cluster?.stop();
process.exit(status);
