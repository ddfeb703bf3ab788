// Starts a real aerostore process (embedded Postgres and all) for a test
// file, on a free port and a fresh data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestServer {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server wrote to stderr (its JSON log). */
  log(): string;
  /** SIGTERM and wait; the data directory is removed unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestServer(
  opts: {
    env?: Record<string, string>;
    dataDir?: string;
    nodeArgs?: string[];
    /** 'dist': the compiled server (`npm start`'s dist/main.js) instead of the sources through tsx. */
    entry?: 'src' | 'dist';
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'aerostore-test-')));
  // mkdtemp makes 0700 directories; as root the embedded Postgres runs as
  // 'postgres' and must be able to enter it.
  await chmod(dataDir, 0o755);
  const accessKeyId = 'AKIDTESTROOT0000001';
  const secretAccessKey = 'test-secret-key-0123456789abcdef';
  const entry = opts.entry === 'dist' ? [path.join(ROOT, 'dist/main.js')] : ['--import', 'tsx', path.join(ROOT, 'src/main.ts')];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry, '--port', '0'], {
    cwd: ROOT,
    env: {
      ...process.env,
      AEROSTORE_DATA_DIR: dataDir,
      AEROSTORE_ROOT_ACCESS_KEY: accessKeyId,
      AEROSTORE_ROOT_SECRET_KEY: secretAccessKey,
      AEROSTORE_LOG_LEVEL: 'info',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${stdout}\n${stderr}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /serving S3 at (http:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${stdout}\n${stderr}`));
    });
  });
  let url: string;
  try {
    url = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  child.stdout!.resume();
  return {
    url,
    accessKeyId,
    secretAccessKey,
    dataDir,
    process: child,
    log: () => stderr,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
