// `aerostore audit ...`: the audit trail (events/audit.ts), directly on the
// database, as GET /admin/v1/audit shows it — for an operator without an
// admin client, or a compliance export (--json).
import { SERVICE } from '../db/session.ts';
import { InvalidAuditQuery, parseAuditQuery, queryAudit, type AuditRecord } from '../events/audit.ts';
import { processIo, runCommand, UsageError, type CliIo } from './command.ts';
import type { CliDatabase } from './database.ts';

export const AUDIT_USAGE = `usage:
  aerostore audit [--actor <user id | access key id | anonymous>] [--bucket <name>] [--prefix <key prefix>]
                  [--since <time>] [--until <time>] [--action upload|download|delete]
                  [--limit <n>] [--cursor <cursor>] [--json]

The uploads, downloads and deletions on record, newest first: when, what,
who and from where. <time> is ISO 8601 (2026-12-07, 2026-12-07T10:00:00Z)
or an age (90s, 15m, 24h, 7d). --limit: records per page (default 100, at
most 1000); when there are more, the cursor of the next page is printed
(on stderr). --json prints the page as GET /admin/v1/audit answers it.

Works directly on the database of the configured data directory
(--data-dir / AEROSTORE_DATA_DIR, or DATABASE_URL).`;

const OWN_FLAGS = ['actor', 'bucket', 'prefix', 'since', 'until', 'action', 'limit', 'cursor'];

type Invocation = { params: Record<string, string>; json: boolean; configArgs: string[] };

function parseInvocation(argv: readonly string[]): Invocation {
  const params: Record<string, string> = {};
  const configArgs: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) throw new UsageError(`unexpected argument: ${argv[i]}`);
    const [, name, inline] = m;
    if (name === 'json') {
      if (inline !== undefined) throw new UsageError('--json takes no value');
      json = true;
    } else if (OWN_FLAGS.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      if (name in params) throw new UsageError(`--${name} given twice`);
      params[name] = value;
    } else {
      // A server setting with its value; loadConfig rejects what it does not know.
      configArgs.push(argv[i]);
      if (inline === undefined && i + 1 < argv.length) configArgs.push(argv[++i]);
    }
  }
  try {
    parseAuditQuery(params);
  } catch (err) {
    if (err instanceof InvalidAuditQuery) throw new UsageError(err.message);
    throw err;
  }
  return { params, json, configArgs };
}

/** Who, in one word or two: the user id (or anonymous, or service), with the access key that signed. */
function who(actor: Record<string, unknown>): string {
  const name = typeof actor.user_id === 'string' ? actor.user_id : actor.role === 'service' ? 'service' : String(actor.kind);
  return typeof actor.access_key_id === 'string' ? `${name} (${actor.access_key_id})` : name;
}

/** One line per record: time, action, who, from where, what. */
export function describeRecord(r: AuditRecord): string {
  const what = `${r.bucket}/${r.key}` + (r.size === null ? '' : ` ${r.size} bytes`) + (typeof r.detail.range === 'string' ? ` range ${r.detail.range}` : '');
  return [r.at, r.action.padEnd(8), who(r.actor), r.address ?? '-', what].join('  ');
}

async function run(inv: Invocation, db: CliDatabase, io: CliIo): Promise<number> {
  // As the service role: the operator's tool, on the operator's database, sees every record.
  // Times relative to now are read now, not when the flags were checked.
  const page = await queryAudit(db.sql, SERVICE, parseAuditQuery(inv.params));
  if (inv.json) {
    io.out(JSON.stringify(page, null, 2));
    return 0;
  }
  for (const record of page.records) io.out(describeRecord(record));
  if (page.records.length === 0) io.err('no records');
  if (page.next_cursor) io.err(`more: --cursor ${page.next_cursor}`);
  return 0;
}

/** Runs `aerostore audit <argv...>`; resolves to the process exit code. */
export function runAuditCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return runCommand({ name: 'audit', usage: AUDIT_USAGE, needsArguments: false, parse: parseInvocation, run: (inv, { db, io: out }) => run(inv, db, out) }, argv, io);
}
