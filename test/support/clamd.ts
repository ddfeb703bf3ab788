// A real clamd for tests and benchmarks, offline: its own clamd.conf in a
// temp directory, a TCP socket on a free 127.0.0.1 port and a local socket,
// and a one-line database that detects the EICAR test string (ClamAV ships
// no signatures of its own; ../shared/FIELD-NOTES.md "ClamAV offline").
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CLAMD_BINARY = '/usr/sbin/clamd';

/**
 * The 68-byte EICAR anti-virus test file. Assembled at run time so that this
 * source file is not itself flagged by a scanner on a developer's machine.
 */
export const EICAR = Buffer.from(['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!', '$H+H*'].join(''), 'latin1');

/** What clamd reports for EICAR with the database below. */
export const EICAR_SIGNATURE = 'Custom.Eicar-Test-Signature.UNOFFICIAL';

export interface TestClamd {
  /** AEROSTORE_CLAMD for the TCP socket. */
  tcp: string;
  /** AEROSTORE_CLAMD for the local (unix) socket. */
  socket: string;
  dir: string;
  /** Lines clamd logged for scanned streams (`LogClean yes`): one per scan, clean or not. */
  scans(): Promise<string[]>;
  /** SIGKILL: clamd vanishes mid-whatever, as in a crash. */
  kill(): Promise<void>;
  /** Starts clamd again on the same sockets and database. */
  restart(): Promise<void>;
  /** SIGTERM, wait, and remove the directory. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ClamdLimits {
  /** StreamMaxLength: a longer INSTREAM is refused outright. */
  stream: string;
  /** MaxFileSize and MaxScanSize: content beyond them is reported as Heuristics.Limits.Exceeded. */
  file: string;
}

/**
 * Raised together (StreamMaxLength alone would let larger streams through
 * unscanned as OK), and anything beyond them reported, never OK.
 */
const DEFAULT_LIMITS: ClamdLimits = { stream: '200M', file: '200M' };

function clamdConf(dir: string, port: number, limits: ClamdLimits): string {
  return [
    `DatabaseDirectory ${path.join(dir, 'db')}`,
    `TemporaryDirectory ${path.join(dir, 'tmp')}`,
    `LocalSocket ${path.join(dir, 'clamd.sock')}`,
    `TCPSocket ${port}`,
    'TCPAddr 127.0.0.1',
    'Foreground yes',
    `PidFile ${path.join(dir, 'clamd.pid')}`,
    `LogFile ${path.join(dir, 'clamd.log')}`,
    'LogClean yes',
    'SelfCheck 0',
    `StreamMaxLength ${limits.stream}`,
    `MaxFileSize ${limits.file}`,
    `MaxScanSize ${limits.file}`,
    'AlertExceedsMax yes',
    '',
  ].join('\n');
}

/** Answers `zPING\0` with PONG: loaded and accepting scans. */
export function pingClamd(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('close', () => resolve(reply.startsWith('PONG')));
    socket.on('error', () => {});
  });
}

async function waitReady(child: ChildProcess, port: number, dir: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await pingClamd(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(path.join(dir, 'clamd.log'), 'utf8').catch(() => '');
      throw new Error(`clamd exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    if (Date.now() > deadline) throw new Error('clamd did not answer PING in 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startTestClamd(opts: { limits?: ClamdLimits } = {}): Promise<TestClamd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-clamd-'));
  await mkdir(path.join(dir, 'db'));
  await mkdir(path.join(dir, 'tmp'));
  const hex = EICAR.toString('hex');
  await writeFile(path.join(dir, 'db', 'custom.ndb'), `Custom.Eicar-Test-Signature:0:*:${hex}\n`);
  const port = await freePort();
  const conf = path.join(dir, 'clamd.conf');
  await writeFile(conf, clamdConf(dir, port, opts.limits ?? DEFAULT_LIMITS));

  let child: ChildProcess;
  const launch = async () => {
    child = spawn(CLAMD_BINARY, ['--config-file', conf], { stdio: 'ignore' });
    try {
      await waitReady(child, port, dir);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  };
  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    tcp: `tcp://127.0.0.1:${port}`,
    socket: path.join(dir, 'clamd.sock'),
    dir,
    async scans() {
      const log = await readFile(path.join(dir, 'clamd.log'), 'utf8');
      return log.split('\n').filter((line) => /stream\(.*\): .*(OK|FOUND)$/.test(line));
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart() {
      await launch();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
