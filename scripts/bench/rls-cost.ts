// `npm run bench:rls`: what row-level security costs a request. The same
// aerostore serves PUT and GET of 4 KiB objects to two principals in turn:
//   root — the root key (service role: RLS's explicit `using (true)` policies);
//   user — an access key of an ordinary user (authenticated role: the
//          bucket-owner and object-owner policies are evaluated per row).
// Each principal writes and reads its own bucket, in interleaved rounds
// (root, user, user, root, ...), with the same client: node:http keep-alive,
// 16 concurrent clients, SigV4 with the body's SHA-256. The figure is the
// ratio user / root of requests per second (the issue's target: ≥ 0.9).
// A third principal, user-jwt, sends the same user's requests with
// `Authorization: Bearer` (a JWT instead of SigV4) for comparison.
// Object ACLs (migration 0021): user-jwt-acl writes into another private
// bucket of the user's with `x-amz-grant-read` to a second user and to
// AllUsers (the restrictive policy's storage.acl_allowed on every write),
// and two principals read those objects through their lists alone:
// grantee (the second user's access key; RLS's ACL term and
// storage.object_acls_apply per row) and anonymous (no credentials, as curl).
// Bucket policies (migration 0023): user-policy writes and reads its own
// bucket that carries a 20-statement bucket policy (policyStatements below:
// public-read prefixes, per-user folders, IP allow-lists, Referer and TLS
// conditions, Denies) — every row of it is evaluated by
// storage.bucket_policy_effect, for the Allows and the Denies that name the
// user (Principal "*" does).
// Operators' policies (migration 0022): supabase-user writes and reads its own
// folder of a bucket whose preset admits no user, admitted only by
// Supabase's example policies (SUPABASE_POLICIES, created in SQL): each of
// its PUTs is first tried in Postgres (storage.may_write_object), and every
// row is decided by all of those policies at once. They exist throughout the
// run, so every principal's rows meet them: the issue's realistic policy set
// is these plus user-policy's 20 statements.
//
// Flags: --quick (2 rounds instead of 5), --rounds N.
import { randomFillSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from '../../test/support/database.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  BenchFailure,
  checkSignerAgainstSmithy,
  cpuOfTree,
  createUserKey,
  describeFailure,
  EMPTY_SHA256,
  FastSigner,
  fmt,
  fmtMs,
  loadSummary,
  machineSummary,
  median,
  onInterrupt,
  percentile,
  reportServerFailure,
  runBenchmark,
  send,
  sha256Hex,
  table,
  type Target,
} from './lib.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log('usage: npm run bench:rls -- [--quick] [--rounds N]');
  process.exit(0);
}
const ROUNDS = flags.rounds ? Number(flags.rounds) : flags.quick ? 2 : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');

const SIZE = 4 * 1024;
const CONCURRENCY = 16;
const MAX_OPS = 20_000;
const SECONDS = 2;
const KEY_SPACE = 20_000;
const JWT_SECRET = 'bench-rls-jwt-secret-0123456789abcdef';

type Op = 'PUT' | 'GET';

/** Supabase's storage access-control examples (README "Your own policies"), on bucket bench-supabase. */
const SUPABASE_POLICIES = `
create policy "public folder" on storage.objects for select to public
  using (bucket_id = 'bench-supabase' and (storage.foldername(name))[1] = 'public');
create policy "own folder read" on storage.objects for select to authenticated
  using (bucket_id = 'bench-supabase' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "own folder upload" on storage.objects for insert to authenticated
  with check (bucket_id = 'bench-supabase' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "png only" on storage.objects for insert to authenticated
  with check (bucket_id = 'bench-cats' and storage.extension(name) = 'png');
create policy "inbox" on storage.objects for insert to authenticated with check (bucket_id = 'bench-inbox');
create policy "own update" on storage.objects for update to authenticated
  using ((select auth.uid()) = owner_id::uuid) with check ((select auth.uid()) = owner_id::uuid);
create policy "own delete" on storage.objects for delete to authenticated using ((select auth.uid()) = owner_id::uuid);
`;

/**
 * A realistic 20-statement bucket policy for `bucket`: none of its
 * statements matches the benchmark's keys (k<n>), so the user's access is
 * its ownership's, but each statement naming the principal and the action is
 * looked at for every row read or written.
 */
function policyStatements(bucket: string, otherUser: string): object[] {
  const arn = `arn:aws:s3:::${bucket}`;
  const statements: object[] = [
    { Sid: 'PublicAssets', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/assets/*` },
    { Sid: 'PublicDownloads', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: [`${arn}/downloads/*.zip`, `${arn}/downloads/*.tar.gz`] },
    { Sid: 'HotlinkGuard', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/media/*`, Condition: { StringLike: { 'aws:Referer': ['https://example.com/*', 'https://www.example.com/*'] } } },
    { Sid: 'OfficeOnly', Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:PutObject'], Resource: `${arn}/office/*`, Condition: { IpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '198.51.100.0/24'] } } },
    { Sid: 'OwnFolder', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::000000000000:user/${otherUser}` }, Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: `${arn}/home/\${aws:userid}/*` },
    { Sid: 'ListOwnFolder', Effect: 'Allow', Principal: { CanonicalUser: otherUser }, Action: 's3:ListBucket', Resource: arn, Condition: { StringLike: { 's3:prefix': 'home/${aws:userid}/*' } } },
    { Sid: 'DenyLocked', Effect: 'Deny', Principal: '*', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: `${arn}/locked/*` },
    { Sid: 'DenyInternalOutside', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/internal/*`, Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
    { Sid: 'DenyPlainHttpSecrets', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `${arn}/secrets/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    { Sid: 'DenyUntaggedUploads', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${arn}/tagged/*`, Condition: { Null: { 's3:RequestObjectTag/project': 'true' } } },
    { Sid: 'DenyPublicAcl', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${arn}/shared/*`, Condition: { StringEquals: { 's3:x-amz-acl': ['public-read', 'public-read-write'] } } },
    { Sid: 'Embargo', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/press/*`, Condition: { DateLessThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } },
    { Sid: 'CurlOnly', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/tools/*`, Condition: { StringLike: { 'aws:UserAgent': 'curl/*' } } },
    { Sid: 'ClassifiedByTag', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/*`, Condition: { StringEquals: { 's3:ExistingObjectTag/classification': 'secret' } } },
  ];
  for (let i = statements.length; i < 20; i++) {
    statements.push({ Sid: `Team${i}`, Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${arn}/teams/team-${i}/public/*` });
  }
  return statements;
}

interface Subject {
  name: string;
  bucket: string;
  target: Target;
  /** Extra headers on every request (the JWT bearer token). */
  headers: Record<string, string>;
  written: Set<number>;
  cursor: number;
  /** Reads only what another subject wrote (the ACL readers): no PUT round. */
  readsOnly?: boolean;
  /** Keys are written under this folder (the policy subject's own). */
  folder?: string;
}

interface Round {
  ops: number;
  elapsedMs: number;
  latencies: number[];
  /** CPU ms of the aerostore process and of its Postgres during the round. */
  nodeCpuMs: number;
  pgCpuMs: number;
}

async function runRound(s: Subject, op: Op, maxOps: number, seconds: number, pid: number): Promise<Round> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const readable = [...s.written];
  if (op === 'GET' && readable.length === 0) throw new BenchFailure(`${s.name}: nothing to GET`);
  const latencies: number[] = [];
  let issued = 0;
  const base = s.cursor;
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = cpuOfTree(pid);
  const t0 = performance.now();
  const worker = async () => {
    const body = randomFillSync(Buffer.allocUnsafe(SIZE));
    while (issued < maxOps && performance.now() < deadline) {
      const n = issued++;
      const slot = op === 'PUT' ? (base + n) % KEY_SPACE : readable[n % readable.length];
      const path = `/${s.bucket}/${s.folder ?? ''}k${slot}`;
      const t = performance.now();
      if (op === 'PUT') {
        randomFillSync(body, 0, 16); // unique content: no deduplication shortcut
        const r = await send(s.target, agent, 'PUT', path, { body, payloadHash: sha256Hex(body), headers: s.headers });
        if (r.status !== 200) throw new BenchFailure(`${s.name}: ${describeFailure('PUT', path, r)}`);
        s.written.add(slot);
      } else {
        const r = await send(s.target, agent, 'GET', path, { payloadHash: EMPTY_SHA256, headers: s.headers });
        if (r.status !== 200 || r.bytes !== SIZE) throw new BenchFailure(`${s.name}: ${describeFailure('GET', path, r)}`);
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu1 = cpuOfTree(pid);
  if (op === 'PUT') s.cursor = (base + issued) % KEY_SPACE;
  agent.destroy();
  return { ops: latencies.length, elapsedMs, latencies, nodeCpuMs: cpu1.root - cpu0.root, pgCpuMs: cpu1.descendants - cpu0.descendants };
}

async function main(): Promise<void> {
  let server: TestServer | undefined;
  onInterrupt(async () => server?.stop());
  try {
    console.log(`aerostore RLS cost benchmark — ${machineSummary()}`);
    console.log(`${ROUNDS} interleaved round(s) per principal; 4 KiB objects, ${CONCURRENCY} clients; ${loadSummary()} at start\n`);
    server = await startTestServer({ env: { AEROSTORE_JWT_SECRET: JWT_SECRET } });
    const base = new URL(server.url);
    const rootCreds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
    await checkSignerAgainstSmithy(rootCreds);
    const rootTarget: Target = { name: 'root', base, signer: new FastSigner(rootCreds) };

    const agent = new http.Agent({ keepAlive: false });
    const userId = randomUUID();
    const userCreds = await createUserKey(rootTarget, agent, userId);
    const userTarget: Target = { name: 'user', base, signer: new FastSigner(userCreds) };
    const granteeId = randomUUID();
    const granteeTarget: Target = { name: 'grantee', base, signer: new FastSigner(await createUserKey(rootTarget, agent, granteeId)) };
    const jwt = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(JWT_SECRET));

    const bearer = { authorization: `Bearer ${jwt}` };
    const granted = new Set<number>();
    const subjects: Subject[] = [
      { name: 'root', bucket: 'bench-root', target: rootTarget, headers: {}, written: new Set(), cursor: 0 },
      { name: 'user', bucket: 'bench-user', target: userTarget, headers: {}, written: new Set(), cursor: 0 },
      { name: 'user-jwt', bucket: 'bench-user', target: { ...userTarget, name: 'user-jwt', signer: null }, headers: bearer, written: new Set(), cursor: KEY_SPACE / 2 },
      {
        name: 'user-jwt-acl',
        bucket: 'bench-acl',
        target: { ...userTarget, name: 'user-jwt-acl', signer: null },
        headers: { ...bearer, 'x-amz-grant-read': `id="${granteeId}", uri="http://acs.amazonaws.com/groups/global/AllUsers"` },
        written: granted,
        cursor: 0,
      },
      { name: 'grantee', bucket: 'bench-acl', target: granteeTarget, headers: {}, written: granted, cursor: 0, readsOnly: true },
      { name: 'anonymous', bucket: 'bench-acl', target: { ...granteeTarget, name: 'anonymous', signer: null }, headers: {}, written: granted, cursor: 0, readsOnly: true },
      { name: 'user-policy', bucket: 'bench-policy', target: { ...userTarget, name: 'user-policy' }, headers: {}, written: new Set(), cursor: 0 },
      { name: 'supabase-user', bucket: 'bench-supabase', target: { ...userTarget, name: 'supabase-user' }, headers: {}, written: new Set(), cursor: 0, folder: `${userId}/` },
    ];
    const policyBucket = await send(rootTarget, agent, 'PUT', '/bench-supabase', { payloadHash: EMPTY_SHA256 });
    if (policyBucket.status !== 200) throw new BenchFailure(`root: ${describeFailure('PUT', '/bench-supabase', policyBucket)}`);
    const db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 1, onnotice: () => {} });
    try {
      await db.unsafe(SUPABASE_POLICIES);
    } finally {
      await db.end({ timeout: 5 });
    }
    for (const s of [subjects[0], subjects[1], { ...subjects[1], bucket: 'bench-acl' }, subjects[6]]) {
      const r = await send(s.target, agent, 'PUT', `/${s.bucket}`, { payloadHash: EMPTY_SHA256 });
      if (r.status !== 200) throw new BenchFailure(`${s.name}: ${describeFailure('PUT', `/${s.bucket}`, r)}`);
    }
    const policy = Buffer.from(JSON.stringify({ Version: '2012-10-17', Statement: policyStatements('bench-policy', granteeId) }));
    const put = await send(userTarget, agent, 'PUT', '/bench-policy', { query: { policy: '' }, body: policy, payloadHash: sha256Hex(policy) });
    if (put.status !== 204) throw new BenchFailure(`user-policy: ${describeFailure('PUT', '/bench-policy?policy', put)}`);

    const rows: string[][] = [];
    for (const op of ['PUT', 'GET'] as Op[]) {
      const active = subjects.filter((s) => op === 'GET' || !s.readsOnly);
      const rounds = new Map<string, Round[]>(active.map((s) => [s.name, []]));
      const pid = server.process.pid!;
      for (const s of active) await runRound(s, op, MAX_OPS / 4, SECONDS / 4, pid); // warm-up
      for (let i = 0; i < ROUNDS; i++) {
        const order = i % 2 === 0 ? active : [...active].reverse();
        for (const s of order) rounds.get(s.name)!.push(await runRound(s, op, MAX_OPS, SECONDS, pid));
      }
      const perOp = (name: string, f: (r: Round) => number) => {
        const rs = rounds.get(name)!;
        return rs.reduce((sum, r) => sum + f(r), 0) / rs.reduce((sum, r) => sum + r.ops, 0);
      };
      const rate = (name: string) => median(rounds.get(name)!.map((r) => r.ops / (r.elapsedMs / 1000)));
      const p99 = (name: string) => percentile(rounds.get(name)!.flatMap((r) => r.latencies).sort((a, b) => a - b), 0.99);
      for (const s of active) {
        rows.push([
          `${op} 4 KiB`,
          s.name,
          fmt(rate(s.name)),
          fmtMs(p99(s.name)),
          fmtMs(perOp(s.name, (r) => r.nodeCpuMs)),
          fmtMs(perOp(s.name, (r) => r.pgCpuMs)),
          fmt(rate(s.name) / rate('root'), 2),
        ]);
      }
    }
    console.log(table(['case', 'principal', 'ops/s (median of rounds)', 'p99 ms', 'node CPU ms/op', 'postgres CPU ms/op', 'ratio to root'], rows, 2));
    console.log(`\n${loadSummary()} at the end.`);
  } catch (err) {
    reportServerFailure(server);
    throw err;
  } finally {
    await server?.stop();
  }
}

runBenchmark(main);
