// `aerostore keys ...`: access keys managed directly on the database, for
// bootstrapping and for when no admin client is at hand. Revoking here
// reaches running servers too: the revocation's pg_notify goes to all of
// them (principals/access-keys.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.ts';
import {
  AccessKeyInputError,
  accessKeyFields,
  createAccessKey,
  describeIssues,
  listAccessKeys,
  revokeAccessKey,
  type AccessKey,
  type CreatedAccessKey,
  type NewAccessKey,
} from '../principals/access-keys.ts';
import { MasterKey } from '../principals/master-key.ts';
import { SecretBox } from '../principals/secret-box.ts';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';
import { CliDatabaseError, type CliDatabase } from './database.ts';

export const KEYS_USAGE = `usage:
  aerostore keys create --user <uuid> [--role authenticated|service] [--name <text>] [--json]
  aerostore keys list [--json]
  aerostore keys revoke <id>

Works directly on the database of the configured data directory
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL); the server's other
flags and environment variables apply as well. The secret of a new key is
shown once, by create; <id> is the key's id (a uuid), as list shows it.`;

/** A parsed command line; configArgs are the server settings left for loadConfig. */
type Invocation = { json: boolean; configArgs: string[] } & (
  | { command: 'create'; newKey: NewAccessKey }
  | { command: 'list' }
  | { command: 'revoke'; id: string }
);

const CreateFlags = z.object({ user: accessKeyFields.userId, role: accessKeyFields.role, name: accessKeyFields.name });
const OWN_FLAGS = { create: ['user', 'role', 'name'], list: [], revoke: [] } as const;

function parseInvocation(argv: readonly string[]): Invocation {
  const [command, ...rest] = argv;
  if (command !== 'create' && command !== 'list' && command !== 'revoke') {
    throw new UsageError(command === undefined ? 'a command is needed' : `unknown command: ${command}`);
  }
  const own: readonly string[] = OWN_FLAGS[command];
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const configArgs: string[] = [];
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    const [, name, inline] = m;
    if (name === 'json' && command !== 'revoke') {
      if (inline !== undefined) throw new UsageError('--json takes no value');
      json = true;
    } else if (own.includes(name)) {
      const value = inline ?? rest[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      if (flags.has(name)) throw new UsageError(`--${name} given twice`);
      flags.set(name, value);
    } else {
      // A server setting with its value; loadConfig rejects what it does not know.
      configArgs.push(arg);
      if (inline === undefined && i + 1 < rest.length) configArgs.push(rest[++i]);
    }
  }
  if (command === 'revoke') {
    if (positional.length !== 1) throw new UsageError('revoke needs exactly one <id>');
    return { command, id: positional[0], json, configArgs };
  }
  if (positional.length) throw new UsageError(`unexpected argument(s): ${positional.join(' ')}`);
  if (command === 'list') return { command, json, configArgs };
  // Checked before the database is opened (which may mean starting it).
  if (!flags.has('user')) throw new UsageError('create needs --user <uuid>');
  const parsed = CreateFlags.safeParse(Object.fromEntries(flags));
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error, { user: '--user', role: '--role', name: '--name' }));
  const { user, role, name } = parsed.data;
  return { command, newKey: { userId: user, role, name }, json, configArgs };
}

/**
 * The key the server will open secrets with. Only next to the embedded
 * database may a missing <data>/master.key be created (the server will load
 * that same file); with DATABASE_URL a new key in a possibly wrong data
 * directory would seal secrets no server can read.
 */
async function loadMasterKey(config: Config, db: CliDatabase): Promise<MasterKey> {
  if (!config.masterKey && !db.embedded && !existsSync(path.join(config.dataDir, 'master.key'))) {
    throw new CliDatabaseError(
      `no master key: set AEROSTORE_MASTER_KEY (or --master-key), or --data-dir to the server's data directory ` +
        `(${path.join(config.dataDir, 'master.key')} does not exist)`,
    );
  }
  return MasterKey.load(config.dataDir, config.masterKey);
}

function describeCreated(key: CreatedAccessKey): string {
  return [
    `Created access key for user ${key.user_id} (role ${key.role}${key.name ? `, name ${JSON.stringify(key.name)}` : ''}):`,
    `  id:                ${key.id}`,
    `  access key id:     ${key.access_key_id}`,
    `  secret access key: ${key.secret_access_key}`,
    'The secret is shown only this once: store it now.',
  ].join('\n');
}

function table(keys: readonly AccessKey[]): string {
  if (keys.length === 0) return 'no active access keys';
  const header = ['ID', 'ACCESS KEY ID', 'ROLE', 'USER ID', 'CREATED', 'NAME'];
  const rows = keys.map((k) => [k.id, k.access_key_id, k.role, k.user_id, k.created_at, k.name]);
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col].length)));
  return [header, ...rows].map((r) => r.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n');
}

async function run(inv: Invocation, config: Config, db: CliDatabase, io: CliIo): Promise<number> {
  switch (inv.command) {
    case 'create': {
      const box = new SecretBox((await loadMasterKey(config, db)).derive('access-key-secrets'));
      const key = await createAccessKey(db.sql, box, inv.newKey);
      io.out(inv.json ? JSON.stringify(key) : describeCreated(key));
      return 0;
    }
    case 'list': {
      const keys = await listAccessKeys(db.sql);
      io.out(inv.json ? JSON.stringify(keys, null, 2) : table(keys));
      return 0;
    }
    case 'revoke': {
      const { id } = inv;
      if (!(await revokeAccessKey(db.sql, id))) {
        io.err(`aerostore keys: no active access key with id ${id} (see: aerostore keys list)`);
        return 1;
      }
      io.out(`revoked access key ${id}; running servers refuse it from now on`);
      return 0;
    }
  }
}

/** Runs `aerostore keys <argv...>`; resolves to the process exit code. */
export function runKeysCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return runCommand(
    {
      name: 'keys',
      usage: KEYS_USAGE,
      needsArguments: true,
      parse: parseInvocation,
      run: (inv, { config, db, io: out }) => run(inv, config, db, out),
      expected: [AccessKeyInputError],
    },
    argv,
    io,
  );
}
