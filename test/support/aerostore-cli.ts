// An `aerostore <command>` run as an operator runs it: a child process on a
// server's data directory (its Postgres, beside the running server), with a
// minute to finish.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './server.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `via: 'bin'` runs it as `npx aerostore` does (bin/aerostore.js: the compiled
 * dist/ when it is fresh); by default the sources run through tsx.
 */
export function runAerostore(
  dataDir: string,
  args: readonly string[],
  env: Record<string, string> = {},
  opts: { via?: 'tsx' | 'bin' } = {},
): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, AEROSTORE_DATA_DIR: dataDir, ...env };
  delete childEnv.DATABASE_URL;
  const entry = opts.via === 'bin' ? [path.join(ROOT, 'bin/aerostore.js')] : ['--import', 'tsx', path.join(ROOT, 'src/main.ts')];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
