// `aerostore sql` (src/cli/sql.ts): its statement splitter and printers on
// their own, then on a real server's embedded Postgres — -c, --json, errors
// and the exit status, statements from stdin and -f, --url, --role/--user
// under row-level security, the built-in shell fed line by line, a child
// process as a user runs it — and last with the server stopped: the
// embedded Postgres started for the command and stopped after it, and
// --url refused.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { runSqlCli, type SqlIo } from '../src/cli/sql.ts';
import { formatExpanded, formatMessage, formatTable, splitStatements } from '../src/cli/sql-text.ts';
import { runAerostoreSql } from './support/aerostore-sql.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf } from './support/principals.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { S3RawClient } from './support/signer.ts';

describe('the statement splitter', () => {
  const texts = (input: string) => splitStatements(input).statements.map((s) => s.text);

  it('ends statements at semicolons outside quotes, comments, parentheses and blocks', () => {
    assert.deepEqual(texts(`select 1; select 'a;b', "c;d" from t;`), [`select 1`, `select 'a;b', "c;d" from t`]);
    assert.deepEqual(texts(`select 'it''s; here'; select E'\\'; still'; select 2;`), [`select 'it''s; here'`, `select E'\\'; still'`, `select 2`]);
    assert.deepEqual(texts(`select 1 -- a comment; not a statement\n; /* a /* nested; */ comment; */ select 2;`), [
      `select 1 -- a comment; not a statement`,
      `/* a /* nested; */ comment; */ select 2`,
    ]);
    const fn = `create function f() returns int language plpgsql as $body$ begin return 1; end $body$`;
    assert.deepEqual(texts(`${fn}; do $$ begin perform 1; end $$;`), [fn, `do $$ begin perform 1; end $$`]);
    const atomic = `create function g() returns int language sql begin atomic select 1; select case when true then 2 end; end`;
    assert.deepEqual(texts(`${atomic}; select 3;`), [atomic, `select 3`]);
    assert.deepEqual(texts(`begin; select 1; commit;`), [`begin`, `select 1`, `commit`]);
    assert.deepEqual(texts(`create rule r as on insert to t do also (select 1; select 2);`), [
      `create rule r as on insert to t do also (select 1; select 2)`,
    ]);
    assert.deepEqual(texts(`select $1, a$b; ;; -- only a comment\n;`), [`select $1, a$b`]);
  });

  it('keeps what follows the last semicolon, and says what is left open', () => {
    assert.deepEqual(splitStatements('select 1; select').rest, ' select');
    assert.equal(splitStatements('select 1; select').restHasContent, true);
    assert.equal(splitStatements('select 1; -- done\n').restHasContent, false);
    assert.equal(splitStatements("select 'abc").open, "'");
    assert.equal(splitStatements('select "abc').open, '"');
    assert.equal(splitStatements('do $x$ begin').open, '$');
    assert.equal(splitStatements('select /* abc').open, '/*');
    assert.equal(splitStatements('select (1').open, '(');
    assert.equal(splitStatements('select 1').open, '');
  });

  it('numbers each statement by the line it starts on', () => {
    const { statements } = splitStatements('select 1;\n\n  select\n  2;  select 3;\n', 10);
    assert.deepEqual(
      statements.map((s) => [s.line, s.text]),
      [
        [10, 'select 1'],
        [12, 'select\n  2'],
        [13, 'select 3'],
      ],
    );
  });
});

describe('the printers', () => {
  const cols = [
    { name: 'id', type: 23 },
    { name: 'name', type: 25 },
  ];

  it('print tables as psql does: centred headers, numbers right, NULL as nothing, + for more lines', () => {
    assert.equal(
      formatTable(cols, [
        ['1', 'alice'],
        ['10', null],
        ['7', 'two\nlines'],
      ]),
      [' id | name', '----+-------', '  1 | alice', ' 10 |', '  7 | two  +', '    | lines', '(3 rows)'].join('\n'),
    );
    assert.equal(formatTable(cols, []), [' id | name', '----+------', '(0 rows)'].join('\n'));
    assert.equal(
      formatExpanded(cols, [['1', 'alice']]),
      ['-[ RECORD 1 ]', 'id   | 1', 'name | alice'].join('\n'),
    );
  });

  it('print errors in Postgres words, pointing at the position', () => {
    const statement = { text: 'select\n  nope from t', line: 4 };
    assert.equal(
      formatMessage({ severity: 'ERROR', message: 'column "nope" does not exist', position: '10', hint: 'Perhaps you meant "note".' }, statement),
      ['ERROR:  column "nope" does not exist', 'LINE 5:   nope from t', '          ^', 'HINT:  Perhaps you meant "note".'].join('\n'),
    );
  });
});

describe('aerostore sql on a server', () => {
  const A = randomUUID();
  const B = randomUUID();
  let srv: TestServer;

  /** Runs the command in this process; out is everything written to standard output, in order. */
  async function sql(argv: string[], opts: { input?: string; interactive?: boolean } = {}): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    const err: string[] = [];
    const io: SqlIo = {
      out: (t) => (out += t + '\n'),
      err: (t) => err.push(t),
      env: { AEROSTORE_DATA_DIR: srv.dataDir },
      stdin: Readable.from(opts.input === undefined ? [] : [opts.input]),
      stdout: new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString();
          done();
        },
      }),
      interactive: opts.interactive ?? false,
      terminal: false,
    };
    const code = await runSqlCli(argv, io);
    return { code, out, err: err.join('\n') };
  }

  /** `node --import tsx src/main.ts sql ...` as a user runs it, stdin from `input`. */
  const child = (argv: string[], input = '') => runAerostoreSql(srv.dataDir, argv, input);

  before(async () => {
    srv = await startTestServer();
    const root = new S3RawClient(srv.url, srv);
    // A's bucket and B's, both private: each user sees only its own.
    for (const [id, bucket] of [
      [A, 'sql-a'],
      [B, 'sql-b'],
    ] as const) {
      const user = new S3RawClient(srv.url, credentialsOf(await createAccessKey(root, id)));
      for (const req of [
        { method: 'PUT', path: `/${bucket}` },
        { method: 'PUT', path: `/${bucket}/hello.txt`, body: `hello from ${bucket}` },
      ]) {
        const res = await user.send(req);
        assert.equal(res.status, 200, res.body.toString());
      }
    }
  });

  after(async () => {
    await srv?.stop();
  });

  it('-c runs a statement and prints its rows as a table', async () => {
    const pid = (await readFile(path.join(srv.dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0];
    const r = await sql(['-c', 'select count(*) from storage.buckets']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, [' count', '-------', '     2', '(1 row)', '', ''].join('\n'));
    // Through the server's own Postgres: no other was started on its data directory.
    assert.equal((await readFile(path.join(srv.dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0], pid);
  });

  it('-c runs several statements in order, on one session, and prints each one`s result', async () => {
    const r = await sql([
      '-c',
      `create temp table notes (id int, body text); insert into notes values (1, 'one'), (2, 'two');
       update notes set body = upper(body) where id = 2; select * from notes order by id`,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, ['CREATE TABLE', 'INSERT 0 2', 'UPDATE 1', ' id | body', '----+------', '  1 | one', '  2 | TWO', '(2 rows)', '', ''].join('\n'));
  });

  it('--json prints rows as JSON', async () => {
    const r = await sql(['--json', '-c', `select name, policy, 3::int8 as n, '{"k": [1]}'::jsonb as j from storage.buckets order by name`]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), [
      { name: 'sql-a', policy: 'private', n: 3, j: { k: [1] } },
      { name: 'sql-b', policy: 'private', n: 3, j: { k: [1] } },
    ]);
  });

  it('an SQL error: Postgres`s message with the position, exit status 1, nothing after it runs', async () => {
    const r = await sql(['-c', 'select 1;\nselect name from storage.nope;\ncreate table public.never_made (x int)']);
    assert.equal(r.code, 1);
    assert.equal(r.err, ['ERROR:  relation "storage.nope" does not exist', 'LINE 2: select name from storage.nope', '                         ^'].join('\n'));
    assert.match(r.out, /\(1 row\)/);
    const made = await sql(['--json', '-c', `select to_regclass('public.never_made') as t`]);
    assert.deepEqual(JSON.parse(made.out), [{ t: null }]);
  });

  it('reads statements from stdin when it is not a terminal, and from -f', async () => {
    const script = [
      '-- policies.sql',
      'create table public.moderators (user_id uuid primary key, bucket_id uuid);',
      'grant select on public.moderators to aerostore_authenticated;',
      `create policy moderators_read on storage.objects for select to aerostore_authenticated`,
      `  using (exists (select 1 from public.moderators m where m.user_id = storage.uid() and m.bucket_id = objects.bucket_uuid));`,
      `insert into public.moderators select '${B}', id from storage.buckets where name = 'sql-a';`,
    ].join('\n');
    const r = await sql([], { input: script });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, ['CREATE TABLE', 'GRANT', 'CREATE POLICY', 'INSERT 0 1', ''].join('\n'));
    // B, a moderator of A's bucket now, reads its objects.
    const seen = await sql(['--user', B, '--json', '-c', 'select key from storage.objects order by bucket_id, key']);
    assert.equal(seen.code, 0, seen.err);
    assert.equal(JSON.parse(seen.out).length, 2);
    const file = path.join(srv.dataDir, 'undo.sql');
    await writeFile(file, 'drop policy moderators_read on storage.objects;\ndrop table public.moderators;\nselect nope;\n');
    const undo = await sql(['-f', file]);
    assert.equal(undo.code, 1);
    assert.equal(undo.out, 'DROP POLICY\nDROP TABLE\n');
    // Lines are the file's.
    assert.match(undo.err, /^ERROR: {2}column "nope" does not exist\nLINE 3: select nope\n/);
    assert.equal((await sql(['-f', path.join(srv.dataDir, 'missing.sql')])).err, `aerostore sql: cannot read ${path.join(srv.dataDir, 'missing.sql')}: ENOENT`);
  });

  it('--role authenticated --user X sees only the rows RLS shows X; --role anon none of a private bucket', async () => {
    const names = async (...argv: string[]) => {
      const r = await sql([...argv, '--json', '-c', 'select b.name as bucket, o.key from storage.objects o join storage.buckets b on b.id = o.bucket_uuid order by 1']);
      assert.equal(r.code, 0, r.err);
      return (JSON.parse(r.out) as { bucket: string; key: string }[]).map((o) => `${o.bucket}/${o.key}`);
    };
    assert.deepEqual(await names(), ['sql-a/hello.txt', 'sql-b/hello.txt']);
    assert.deepEqual(await names('--role', 'authenticated', '--user', A), ['sql-a/hello.txt']);
    assert.deepEqual(await names('--user', B), ['sql-b/hello.txt']);
    assert.deepEqual(await names('--role', 'anon'), []);
    const who = await sql(['--user', A, '--json', '-c', `select current_user as role, storage.uid() as uid`]);
    assert.deepEqual(JSON.parse(who.out), [{ role: 'aerostore_authenticated', uid: A }]);
    // SQL clients under a user's claims read; they do not write.
    const write = await sql(['--user', A, '-c', `delete from storage.objects`]);
    assert.equal(write.code, 1);
    assert.match(write.err, /^ERROR: {2}permission denied for table objects/);
  });

  it('usage errors: exit status 2 with the usage', async () => {
    for (const argv of [['--role', 'authenticated'], ['--user', 'not-a-uuid'], ['--role', 'root'], ['--url', '-c', 'select 1'], ['stray']]) {
      const r = await sql(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^aerostore sql: .*\n\nusage:/s);
    }
  });

  it('--url prints a connection string that connects, on stdout alone', async () => {
    const r = await sql(['--url']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const url = r.out.trim();
    assert.equal(url, await embeddedDatabaseUrl(srv.dataDir));
    const client = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await client`select count(*)::int as n from storage.buckets`;
      assert.equal(row.n, 2);
    } finally {
      await client.end({ timeout: 1 });
    }
  });

  it('the built-in shell: prompts, statements over several lines, \\x, unknown commands, \\q', async () => {
    const input = ['select 1 as one,', `  'two' as two;`, '\\x', 'select 3 as three; select', '4 as four;', '\\nope', `select 'a`, `b' as ab;`, '\\q', 'select 5;', ''].join('\n');
    const r = await sql(['--no-psql'], { input, interactive: true });
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'aerostore=# aerostore-#  one | two',
        '-----+-----',
        '   1 | two',
        '(1 row)',
        '',
        'aerostore=# Expanded display is on.',
        'aerostore=# -[ RECORD 1 ]',
        'three | 3',
        '',
        'aerostore-# -[ RECORD 1 ]',
        'four | 4',
        '',
        `aerostore=# aerostore=# aerostore'# -[ RECORD 1 ]`,
        'ab | a+',
        '   | b',
        '',
        'aerostore=# ',
      ].join('\n'),
    );
    assert.match(r.err, /^aerostore sql: the running server's embedded Postgres \(.*\), as postgres\./);
    assert.match(r.err, /invalid command \\nope\nTry \\\? for help\./);
  });

  it('the shell as a user: its prompt, and Ctrl-D (the end of input) ends it', async () => {
    const r = await sql(['--user', A], { input: 'select count(*) as n from storage.buckets;\n', interactive: true });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, ['aerostore:authenticated=>  n', '---', ' 1', '(1 row)', '', 'aerostore:authenticated=> '].join('\n'));
  });

  it('as a child process: main.ts sql -c, stdin from a pipe, the exit status of an error', async () => {
    const c = await child(['--json', '-c', 'select name from storage.buckets order by name']);
    assert.equal(c.code, 0, c.err);
    assert.deepEqual(JSON.parse(c.out), [{ name: 'sql-a' }, { name: 'sql-b' }]);
    const piped = await child([], 'select 40 + 2 as answer;\n');
    assert.equal(piped.code, 0, piped.err);
    assert.equal(piped.out, ' answer\n--------\n     42\n(1 row)\n\n');
    const failed = await child(['-c', 'select 1/0']);
    assert.equal(failed.code, 1);
    assert.equal(failed.err.trim(), 'ERROR:  division by zero');
  });

  it('with the server stopped: the embedded Postgres runs for the command alone; --url refuses', async () => {
    await srv.stop({ keepData: true });
    const pidFile = path.join(srv.dataDir, 'pg', 'postmaster.pid');
    assert.equal(existsSync(pidFile), false);
    try {
      const r = await sql(['--json', '-c', 'select count(*) as n from storage.buckets']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), [{ n: 2 }]);
      assert.equal(existsSync(pidFile), false, 'stopped after the command');
      const url = await sql(['--url']);
      assert.equal(url.code, 1);
      assert.equal(url.out, '');
      assert.match(url.err, /^aerostore sql: the embedded Postgres of .* is not running: start the server/);
    } finally {
      await rm(srv.dataDir, { recursive: true, force: true });
    }
  });
});
