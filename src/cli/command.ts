// What the subcommands (`aerostore keys|scan|fsck|audit|sql`) share: usage errors
// (exit 2 with the usage text), the server's configuration from the flags
// they leave over, the database of that configuration, and the report of a
// failure (exit 1: the message alone when it is one the command expects,
// the stack otherwise).
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { CliDatabaseError, openDatabase, type CliDatabase } from './database.ts';

/** Wrong invocation: exit 2 with the usage text. */
export class UsageError extends Error {}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  env: process.env,
};

export interface CliCommand<Invocation extends { configArgs: string[] }, Io extends CliIo = CliIo> {
  /** As typed after `aerostore`. */
  name: string;
  usage: string;
  /** Whether running it with no arguments is a usage error (print the usage, exit 2). */
  needsArguments: boolean;
  /** Throws UsageError; leaves the server's own flags in configArgs. */
  parse(argv: readonly string[]): Invocation;
  run(inv: Invocation, ctx: { config: Config; db: CliDatabase; io: Io; log: Logger }): Promise<number>;
  /**
   * Work that needs no open database (`aerostore sql --url`): runs before it
   * is opened; an exit code ends the command there, undefined goes on to run.
   */
  early?(inv: Invocation, ctx: { config: Config; io: Io }): Promise<number | undefined>;
  /** Failures whose message says it all (bad input, a missing bucket): reported without a stack. */
  expected?: ReadonlyArray<abstract new (...args: never[]) => Error>;
}

/** Runs a subcommand; resolves to the process exit code. */
export async function runCommand<Invocation extends { configArgs: string[] }, Io extends CliIo>(
  cmd: CliCommand<Invocation, Io>,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  const bare = argv.length === 0 && cmd.needsArguments;
  if (bare || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    (bare ? io.err : io.out)(cmd.usage);
    return bare ? 2 : 0;
  }
  let inv: Invocation;
  let config: Config;
  try {
    inv = cmd.parse(argv);
    config = loadConfig(io.env, inv.configArgs);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    io.err(`aerostore ${cmd.name}: ${err.message}\n\n${cmd.usage}`);
    return 2;
  }
  // Only the embedded Postgres logs here, and only what needs attention.
  const log = pino({ level: 'warn', base: undefined }, pino.destination(2));
  let db: CliDatabase | undefined;
  try {
    const done = await cmd.early?.(inv, { config, io });
    if (done !== undefined) return done;
    db = await openDatabase(config, log);
    return await cmd.run(inv, { config, db, io, log });
  } catch (err) {
    if (err instanceof CliDatabaseError || (cmd.expected ?? []).some((type) => err instanceof type)) {
      io.err(`aerostore ${cmd.name}: ${(err as Error).message}`);
      return 1;
    }
    io.err(`aerostore ${cmd.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    await db?.close();
  }
}
