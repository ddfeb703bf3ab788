// `aerostore sql` run as a user runs it: a child process beside a server's
// data directory, stdin from `input`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './server.ts';

export function runAerostoreSql(dataDir: string, argv: string[], input = ''): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'sql', ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, AEROSTORE_DATA_DIR: dataDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdin.end(input);
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, out, err })));
}
