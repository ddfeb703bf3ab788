// Real clients as principals other than the root key: two users, A and B,
// each with an access key of role `authenticated` made through the admin API
// (POST /admin/v1/keys, signed with the root key), or with a JWT traded for
// temporary credentials at the STS endpoint (AssumeRoleWithWebIdentity).
// Bucket settings change through the admin API too
// (PATCH /admin/v1/buckets/{name}: policy, member_writes, public_list).
//
//   aws-cli-user         aws-cli as A and as B: private, then `authenticated`, then `public`
//   rclone-user          rclone as A and as B: private, own bucket, member writes
//   boto3-sts            boto3: assume_role_with_web_identity, then S3 with the session credentials;
//                        ACL grants from A to B (GrantRead, get/put_object_acl)
//   sdk-js-web-identity  AWS SDK for JavaScript v3: fromWebToken credentials on an S3Client
//
// The JWTs are HS256 with the server's AEROSTORE_JWT_SECRET: run.ts starts
// its server with conformanceJwtSecret(); against a server already running
// (--endpoint), export that server's AEROSTORE_JWT_SECRET before the run.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { fromWebToken } from '@aws-sdk/credential-providers';
import { randomBytes, randomUUID } from 'node:crypto';
import { access, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { encodeKey, S3RawClient, type RawResponse } from '../test/support/signer.ts';
import {
  CheckFailed,
  assert,
  assertEqual,
  clientEnv,
  recordTranscript,
  run,
  runFails,
  runOk,
  sha256,
  shellQuote,
  writeAwsConfig,
  writeFileDeep,
  writeRcloneConfig,
  type RunResult,
  type Scenario,
  type ScenarioContext,
  type ServerInfo,
} from './lib.ts';

// ---------------------------------------------------------------- principals

let jwtSecret: string | undefined;

/**
 * The HS256 secret the conformance server verifies JWTs with: the
 * environment's AEROSTORE_JWT_SECRET when set (a server already running),
 * else 32 random bytes made once per run.
 */
export function conformanceJwtSecret(): string {
  return (jwtSecret ??= process.env.AEROSTORE_JWT_SECRET || randomBytes(32).toString('base64url'));
}

/** A Supabase-style token: HS256, `{ sub, role }`, expiring in an hour unless `expiresAt` (unix seconds) says otherwise. */
export async function mintJwt(sub: string, opts: { role?: string; expiresAt?: number; secret?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: opts.role ?? 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(Math.min(now, opts.expiresAt ?? now))
    .setExpirationTime(opts.expiresAt ?? now + 3600)
    .sign(new TextEncoder().encode(opts.secret ?? conformanceJwtSecret()));
}

export interface User {
  userId: string;
  /** The server, with this user's access key in place of the root key. */
  server: ServerInfo;
}

export interface BucketSettings {
  policy?: 'private' | 'authenticated' | 'public';
  member_writes?: boolean;
  public_list?: boolean;
}

/** The admin API (/admin/v1), signed with the root key. */
class Admin {
  private readonly root: S3RawClient;

  constructor(private readonly server: ServerInfo) {
    this.root = new S3RawClient(server.url, server, server.region);
  }

  private async send(method: string, apiPath: string, body: unknown, expected: number): Promise<unknown> {
    const text = JSON.stringify(body);
    const res = await this.root.send({ method, path: `/admin/v1${apiPath}`, headers: { 'content-type': 'application/json' }, body: text });
    recordTranscript({ command: `${method} /admin/v1${apiPath} ${text}`, detail: describeResponse(res) });
    if (res.status !== expected) throw new CheckFailed(`${method} /admin/v1${apiPath}: expected ${expected}, got ${res.status}: ${res.body.toString()}`);
    return JSON.parse(res.body.toString());
  }

  /** A new user id with an access key of role `authenticated`. */
  async user(name: string): Promise<User> {
    const userId = randomUUID();
    const key = (await this.send('POST', '/keys', { user_id: userId, name: `conformance ${name}` }, 201)) as {
      access_key_id: string;
      secret_access_key: string;
      role: string;
    };
    assertEqual(key.role, 'authenticated', `role of ${name}'s new key`);
    return { userId, server: { ...this.server, accessKeyId: key.access_key_id, secretAccessKey: key.secret_access_key } };
  }

  async bucket(name: string, settings: BucketSettings): Promise<void> {
    const row = (await this.send('PATCH', `/buckets/${encodeURIComponent(name)}`, settings, 200)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(settings)) assertEqual(row[k], v, `${k} of bucket ${name} after the PATCH`);
  }
}

function describeResponse(res: RawResponse): string {
  return `HTTP ${res.status}\n${Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${res.body.toString().slice(0, 2000)}`;
}

/** A plain request without any credentials, as a browser or curl would send it. */
async function anonymous(method: string, url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { method });
  const body = Buffer.from(await res.arrayBuffer());
  recordTranscript({ command: `fetch ${method} ${url} (no credentials)`, detail: `HTTP ${res.status}\n\n${body.toString().slice(0, 2000)}` });
  return { status: res.status, body };
}

const errorCodeOf = (xml: Buffer | string) => /<Code>([^<]+)<\/Code>/.exec(xml.toString())?.[1];

/** A refusal in a client's stderr: S3's code, or the bare status a HEAD gets (no body to carry a code). */
function assertDenied(r: RunResult, what: string, pattern = /AccessDenied|\(403\)|Forbidden/): void {
  assert(pattern.test(r.stderr + r.stdout), `${what}: expected AccessDenied, got:\n${r.stderr}${r.stdout}`);
}

// ---------------------------------------------------------------- aws-cli

const AWS = '/usr/bin/aws';

export const awsCliUserScenario: Scenario = {
  name: 'aws-cli-user',
  async unavailable() {
    return access(AWS).then(
      () => undefined,
      () => `${AWS} is missing: apt-get install -y awscli`,
    );
  },
  async run(ctx) {
    const { work, small, server } = ctx;
    const admin = new Admin(server);
    const bucketA = `${ctx.bucket}-a`;
    const bucketB = `${ctx.bucket}-b`;
    const key = 'docs/file.bin';
    const smallBytes = await readFile(small.path);

    const [a, b] = await ctx.step('admin API: access keys for users A and B (role authenticated)', async () => {
      const users = [await admin.user('A'), await admin.user('B')];
      ctx.note(`A = ${users[0].userId} (${users[0].server.accessKeyId}), B = ${users[1].userId} (${users[1].server.accessKeyId})`);
      return users;
    });
    const cli = async (who: string, user: User) => {
      const dir = path.join(work, who);
      const env = clientEnv(path.join(dir, 'home'), await writeAwsConfig(dir, user.server));
      const args = (more: string[]) => ['--endpoint-url', server.url, ...more];
      return {
        ok: (...more: string[]) => runOk(AWS, args(more), { env, cwd: work }),
        fails: (...more: string[]) => runFails(AWS, args(more), { env, cwd: work }),
      };
    };
    const awsA = await cli('a', a);
    const awsB = await cli('b', b);
    const listed = (out: string) => out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).pop());

    await ctx.step('A: aws s3 mb (private), cp up, ls', async () => {
      await awsA.ok('s3', 'mb', `s3://${bucketA}`);
      await awsA.ok('s3', 'cp', '--no-progress', small.path, `s3://${bucketA}/${key}`);
      const r = await awsA.ok('s3', 'ls', '--recursive', `s3://${bucketA}`);
      assertEqual(listed(r.stdout), [key], `A's listing of ${bucketA}`);
      assert(listed((await awsA.ok('s3', 'ls')).stdout).includes(bucketA), `${bucketA} missing from A's aws s3 ls`);
    });

    await ctx.step("B: aws s3 mb its own bucket; aws s3 ls shows it and not A's private bucket", async () => {
      await awsB.ok('s3', 'mb', `s3://${bucketB}`);
      const names = listed((await awsB.ok('s3', 'ls')).stdout);
      assert(names.includes(bucketB), `${bucketB} missing from B's aws s3 ls: ${names.join(', ')}`);
      assert(!names.includes(bucketA), `B's aws s3 ls shows A's private bucket ${bucketA}`);
    });

    const bCannotWrite = async () => {
      assertDenied(await awsB.fails('s3', 'cp', '--no-progress', small.path, `s3://${bucketA}/x`), 'B: aws s3 cp file s3://A/x', /AccessDenied/);
      assertDenied(await awsB.fails('s3', 'rm', `s3://${bucketA}/${key}`), 'B: aws s3 rm s3://A/file', /AccessDenied/);
      // Still there, unchanged, and nothing new.
      const r = await awsA.ok('s3', 'ls', '--recursive', `s3://${bucketA}`);
      assertEqual(listed(r.stdout), [key], `A's listing of ${bucketA} after B's attempts`);
      assertEqual(sha256(await download(awsA, bucketA, key, work)), small.sha256, "A's object after B's attempts");
    };

    await ctx.step("B on A's private bucket: ls, download, upload and rm all AccessDenied", async () => {
      assertDenied(await awsB.fails('s3', 'ls', `s3://${bucketA}`), 'B: aws s3 ls s3://A', /AccessDenied/);
      // aws s3 cp starts a download with HeadObject: a bodiless 403.
      assertDenied(await awsB.fails('s3', 'cp', `s3://${bucketA}/${key}`, '-'), 'B: aws s3 cp s3://A/file -');
      assertDenied(await awsB.fails('s3api', 'get-object', '--bucket', bucketA, '--key', key, path.join(work, 'nothing')), 'B: s3api get-object', /AccessDenied/);
      await bCannotWrite();
    });

    await ctx.step("service makes A's bucket `authenticated`: B lists and downloads it", async () => {
      await admin.bucket(bucketA, { policy: 'authenticated' });
      const r = await awsB.ok('s3', 'ls', '--recursive', `s3://${bucketA}`);
      assertEqual(listed(r.stdout), [key], `B's listing of ${bucketA}`);
      assertEqual(sha256(await download(awsB, bucketA, key, work)), small.sha256, 'bytes B downloaded');
      const names = listed((await awsB.ok('s3', 'ls')).stdout);
      ctx.note(`B's aws s3 ls now ${names.includes(bucketA) ? 'shows' : 'does not show'} A's authenticated bucket`);
    });

    await ctx.step("`authenticated`: B still cannot upload into or delete from A's bucket", bCannotWrite);

    await ctx.step('service makes it `public`: unsigned GET of the object gives its bytes; unsigned list refused', async () => {
      await admin.bucket(bucketA, { policy: 'public' });
      const get = await anonymous('GET', `${server.url}/${bucketA}/${encodeKey(key)}`);
      assertEqual(get.status, 200, 'status of the unsigned GET');
      assertEqual(sha256(get.body), sha256(smallBytes), 'bytes of the unsigned GET');
      for (const list of [`${server.url}/${bucketA}`, `${server.url}/${bucketA}?list-type=2`]) {
        const r = await anonymous('GET', list);
        assertEqual([r.status, errorCodeOf(r.body)], [403, 'AccessDenied'], `unsigned list ${list} (public_list off)`);
      }
      const put = await anonymous('PUT', `${server.url}/${bucketA}/anonymous.txt`);
      assertEqual([put.status, errorCodeOf(put.body)], [403, 'AccessDenied'], 'unsigned PUT into the public bucket');
      await bCannotWrite();
    });

    await ctx.step('A and B remove their objects and buckets', async () => {
      await awsA.ok('s3', 'rm', `s3://${bucketA}/${key}`);
      await awsA.ok('s3', 'rb', `s3://${bucketA}`);
      await awsB.ok('s3', 'rb', `s3://${bucketB}`);
    });
  },
};

/** `aws s3 cp s3://bucket/key <file>` and the file's bytes. */
async function download(aws: { ok: (...args: string[]) => Promise<RunResult> }, bucket: string, key: string, work: string): Promise<Buffer> {
  const file = path.join(work, `dl-${randomUUID()}`);
  try {
    await aws.ok('s3', 'cp', '--no-progress', `s3://${bucket}/${key}`, file);
    return await readFile(file);
  } finally {
    await rm(file, { force: true });
  }
}

// ---------------------------------------------------------------- rclone

const RCLONE = 'rclone';

export const rcloneUserScenario: Scenario = {
  name: 'rclone-user',
  async unavailable() {
    const r = await run(RCLONE, ['version']).catch(() => undefined);
    return r?.code === 0 ? undefined : 'rclone is missing: apt-get install -y rclone';
  },
  async run(ctx) {
    const { work, server } = ctx;
    const admin = new Admin(server);
    const bucketA = `${ctx.bucket}-a`;
    const bucketB = `${ctx.bucket}-b`;

    const [a, b] = await ctx.step('admin API: access keys for users A and B (role authenticated)', async () => {
      const users = [await admin.user('A'), await admin.user('B')];
      ctx.note(`A = ${users[0].userId}, B = ${users[1].userId}`);
      return users;
    });
    const client = async (who: string, user: User) => {
      const config = await writeRcloneConfig(path.join(work, who), user.server);
      // AWS_CA_BUNDLE breaks rclone 1.60 over http (clientEnv drops AWS_* anyway).
      const env = clientEnv(path.join(work, who, 'home'), { AWS_CA_BUNDLE: undefined });
      const args = (more: string[]) => ['--config', config, '--retries', '1', '--low-level-retries', '1', ...more];
      return {
        ok: (...more: string[]) => runOk(RCLONE, args(more), { env, cwd: work }),
        fails: (...more: string[]) => runFails(RCLONE, args(more), { env, cwd: work }),
        run: (...more: string[]) => run(RCLONE, args(more), { env, cwd: work }),
      };
    };
    const rcloneA = await client('a', a);
    const rcloneB = await client('b', b);
    const lines = (s: string) => s.split('\n').filter(Boolean).sort();

    // Three small text files per user (rclone cat goes through a UTF-8 pipe), distinct names and bytes.
    const tree = async (who: string) => {
      const dir = path.join(work, `${who}-files`);
      const files: Record<string, string> = {};
      for (const name of [`${who}-1.txt`, `${who}-2.txt`, `sub/${who}-3.txt`]) {
        const data = `${who}: ${randomBytes(100 + name.length * 37).toString('hex')}\n`;
        await writeFileDeep(path.join(dir, name), data);
        files[name] = sha256(data);
      }
      return { dir, files, names: Object.keys(files).sort() };
    };
    const filesA = await tree('a');
    const filesB = await tree('b');
    const aFile = filesA.names[0];

    const assertAIntact = async (extra: string[] = []) => {
      const r = await rcloneA.ok('lsf', '-R', '--files-only', `aero:${bucketA}`);
      assertEqual(lines(r.stdout), [...filesA.names, ...extra].sort(), `A's listing of ${bucketA}`);
      for (const name of filesA.names) {
        const cat = await rcloneA.ok('cat', `aero:${bucketA}/${name}`);
        assertEqual(sha256(cat.stdout), filesA.files[name], `bytes of A's ${name}`);
      }
    };

    await ctx.step("A: rclone copy a directory into its own (new) bucket, lsf", async () => {
      await rcloneA.ok('copy', filesA.dir, `aero:${bucketA}`);
      await assertAIntact();
    });

    await ctx.step("B: rclone lsf of A's private bucket fails", async () => {
      assertDenied(await rcloneB.fails('lsf', `aero:${bucketA}`), 'B: rclone lsf aero:A');
    });

    await ctx.step("B: rclone copy into A's private bucket fails; A's files untouched", async () => {
      assertDenied(await rcloneB.fails('copy', filesB.dir, `aero:${bucketA}`), 'B: rclone copy dir aero:A');
      await assertAIntact();
    });

    await ctx.step('B: rclone copy into its own bucket and lsf work', async () => {
      await rcloneB.ok('copy', filesB.dir, `aero:${bucketB}`);
      const r = await rcloneB.ok('lsf', '-R', '--files-only', `aero:${bucketB}`);
      assertEqual(lines(r.stdout), filesB.names, `B's listing of ${bucketB}`);
    });

    await ctx.step("service turns member writes on: B uploads new files into A's bucket", async () => {
      await admin.bucket(bucketA, { member_writes: true });
      await rcloneB.ok('copy', filesB.dir, `aero:${bucketA}/from-b`);
      const mine = await rcloneB.ok('lsf', '-R', '--files-only', `aero:${bucketA}`);
      // A private bucket: a member sees its own objects only.
      assertEqual(lines(mine.stdout), filesB.names.map((n) => `from-b/${n}`), `B's listing of ${bucketA} (its own objects)`);
      await assertAIntact(filesB.names.map((n) => `from-b/${n}`));
    });

    await ctx.step("member writes: B's rclone deletefile of A's file fails, and a blind overwrite of it too", async () => {
      const del = await rcloneB.fails('deletefile', `aero:${bucketA}/${aFile}`);
      ctx.note(`rclone deletefile: ${del.stderr.split('\n').find((l) => /ERROR|Failed/.test(l))?.trim() ?? del.stderr.trim()}`);
      const over = await rcloneB.run('copyto', path.join(filesB.dir, filesB.names[0]), `aero:${bucketA}/${aFile}`);
      if (over.code === 0) ctx.note('rclone copyto over A\'s key exited 0 (checked below that A\'s bytes are intact)');
      else ctx.note(`rclone copyto over A's key: ${over.stderr.split('\n').find((l) => /ERROR|Failed/.test(l))?.trim() ?? over.stderr.trim()}`);
      await assertAIntact(filesB.names.map((n) => `from-b/${n}`));
    });

    await ctx.step("member writes on an `authenticated` bucket: B sees A's file, deletefile still fails", async () => {
      await admin.bucket(bucketA, { policy: 'authenticated' });
      const cat = await rcloneB.ok('cat', `aero:${bucketA}/${aFile}`);
      assertEqual(sha256(cat.stdout), filesA.files[aFile], `bytes of A's ${aFile} read by B`);
      assertDenied(await rcloneB.fails('deletefile', `aero:${bucketA}/${aFile}`), "B: rclone deletefile of A's file");
      await assertAIntact(filesB.names.map((n) => `from-b/${n}`));
    });

    await ctx.step("member writes: B overwrites and deletes its own objects in A's bucket", async () => {
      const mine = `aero:${bucketA}/from-b/${filesB.names[0]}`;
      const fresh = path.join(work, 'b-fresh.txt');
      await writeFileDeep(fresh, `b, again: ${randomBytes(40).toString('hex')}\n`);
      await rcloneB.ok('copyto', fresh, mine);
      assertEqual((await rcloneB.ok('cat', mine)).stdout, await readFile(fresh, 'utf8'), "B's overwritten object");
      await rcloneB.ok('deletefile', mine);
      await assertAIntact(filesB.names.slice(1).map((n) => `from-b/${n}`));
    });

    await ctx.step('A and B purge their buckets', async () => {
      await rcloneA.ok('purge', `aero:${bucketA}`);
      await rcloneB.ok('purge', `aero:${bucketB}`);
    });
  },
};

// ---------------------------------------------------------------- STS clients

/** B's private bucket with one object, made with B's key (the setup of the STS scenarios). */
async function privateBucketOfB(ctx: ScenarioContext, admin: Admin): Promise<{ a: User; b: User; bucketB: string; keyB: string }> {
  return ctx.step("admin API: users A and B; B makes a private bucket with an object", async () => {
    const a = await admin.user('A');
    const b = await admin.user('B');
    const bucketB = `${ctx.bucket}-b`;
    const keyB = 'secret.txt';
    const asB = new S3RawClient(b.server.url, b.server, b.server.region);
    for (const [p, body] of [[`/${bucketB}`, ''], [`/${bucketB}/${keyB}`, "B's secret\n"]] as const) {
      const res = await asB.send({ method: 'PUT', path: p, body });
      recordTranscript({ command: `PUT ${p} as B`, detail: describeResponse(res) });
      assertEqual(res.status, 200, `PUT ${p} as B`);
    }
    ctx.note(`A = ${a.userId}, B = ${b.userId}`);
    return { a, b, bucketB, keyB };
  });
}

async function removeBucketOfB(ctx: ScenarioContext, b: User, bucketB: string, keyB: string): Promise<void> {
  await ctx.step("B removes its bucket", async () => {
    const asB = new S3RawClient(b.server.url, b.server, b.server.region);
    for (const p of [`/${bucketB}/${keyB}`, `/${bucketB}`]) {
      const res = await asB.send({ method: 'DELETE', path: p });
      recordTranscript({ command: `DELETE ${p} as B`, detail: describeResponse(res) });
      assertEqual(res.status, 204, `DELETE ${p} as B`);
    }
  });
}

const PYTHON = '/usr/bin/python3';
const BOTO3_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'principals_boto3.py');

export const boto3StsScenario: Scenario = {
  name: 'boto3-sts',
  async unavailable() {
    if (!(await access(PYTHON).then(() => true, () => false))) return `${PYTHON} is missing`;
    const r = await run(PYTHON, ['-c', 'import boto3']);
    return r.code === 0 ? undefined : 'boto3 is missing: apt-get install -y python3-boto3';
  },
  async run(ctx) {
    const { work, server } = ctx;
    const admin = new Admin(server);
    const { a, b, bucketB, keyB } = await privateBucketOfB(ctx, admin);
    const now = Math.floor(Date.now() / 1000);
    const args = {
      url: server.url,
      region: server.region,
      bucket: `${ctx.bucket}-a`,
      otherBucket: bucketB,
      otherKey: keyB,
      userId: a.userId,
      token: await mintJwt(a.userId),
      expiredToken: await mintJwt(a.userId, { expiresAt: now - 120 }),
      forgedToken: await mintJwt(a.userId, { secret: randomBytes(32).toString('base64url') }),
      otherUserId: b.userId,
      otherAccessKeyId: b.server.accessKeyId,
      otherSecretAccessKey: b.server.secretAccessKey,
    };
    const env = clientEnv(path.join(work, 'home'));
    let r: RunResult | undefined;
    await ctx.step(`run ${path.basename(BOTO3_SCRIPT)}`, async () => {
      r = await run(PYTHON, [BOTO3_SCRIPT, JSON.stringify(args)], { env, cwd: work, timeoutMs: 60_000 });
    });
    await replayPythonSteps(ctx, r!, shellQuote([PYTHON, BOTO3_SCRIPT, '<args json>']));
    await removeBucketOfB(ctx, b, bucketB, keyB);
  },
};

/** Turns the script's "::ok" / "::note" / "::failed" lines into the runner's steps (as boto3.ts does). */
async function replayPythonSteps(ctx: ScenarioContext, r: RunResult, command: string): Promise<void> {
  for (const line of r.stdout.split('\n')) {
    const ok = /^::ok (.*) (\d+)$/.exec(line);
    const note = /^::note (.*)$/.exec(line);
    const failed = /^::failed (.*)$/.exec(line);
    if (ok) await ctx.step(`${ok[1]}  [${ok[2]} ms in python]`, async () => undefined);
    else if (note) ctx.note(note[1]);
    else if (failed) {
      await ctx.step(failed[1], async () => {
        recordTranscript({ command, code: r.code, stdout: r.stdout.split('\n').filter((l) => !l.startsWith('::')).join('\n'), stderr: r.stderr });
        throw new CheckFailed(`boto3 step failed (traceback and last request in stderr below): ${failed[1]}`);
      });
    }
  }
  if (r.code !== 0) {
    await ctx.step('boto3 script exit status', async () => {
      recordTranscript({ command, code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
      throw new Error(`script exited with ${r.code ?? r.signal}`);
    });
  }
}

export const sdkJsWebIdentityScenario: Scenario = {
  name: 'sdk-js-web-identity',
  async run(ctx) {
    const { server } = ctx;
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const admin = new Admin(server);
    const { a, b, bucketB, keyB } = await privateBucketOfB(ctx, admin);
    const bucket = `${ctx.bucket}-a`;
    const key = 'web/identity.txt';
    const body = `written by ${a.userId} with web-identity credentials\n`;

    // fromWebToken's STS client takes clientConfig as its own configuration
    // (@aws-sdk/credential-provider-web-identity spreads it into
    // getDefaultRoleAssumerWithWebIdentity, which spreads it into new STSClient).
    const credentials = fromWebToken({
      roleArn: 'arn:aws:iam::000000000000:role/web',
      roleSessionName: 'conformance-sdk-js',
      webIdentityToken: await mintJwt(a.userId),
      durationSeconds: 900,
      clientConfig: { endpoint: server.url, region: server.region },
    });
    const client = new S3Client({ endpoint: server.url, region: server.region, credentials, forcePathStyle: true });
    client.middlewareStack.add(
      (next, context) => async (args: any) => {
        const req = args.request;
        const command = `S3Client.send(${context.commandName})`;
        recordTranscript({ command, detail: `> ${req.method} ${req.path}\n${Object.entries(req.headers).map(([k, v]) => `> ${k}: ${v}`).join('\n')}` });
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'conformanceRecorder' },
    );
    const denied = async (what: string, p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (e instanceof S3ServiceException) {
          assertEqual([e.name, e.$metadata.httpStatusCode], ['AccessDenied', 403], what);
          return;
        }
        throw e;
      }
      throw new CheckFailed(`${what} succeeded but should be AccessDenied`);
    };

    try {
      await ctx.step('fromWebToken: AssumeRoleWithWebIdentity at the server gives ASIA credentials with a session token', async () => {
        const c = await credentials();
        assert(/^ASIA[A-Z2-7]{16}$/.test(c.accessKeyId), `AccessKeyId ${c.accessKeyId}`);
        assert(!!c.sessionToken && !!c.secretAccessKey, 'SessionToken and SecretAccessKey');
        const left = (c.expiration!.getTime() - Date.now()) / 1000;
        assert(left > 800 && left <= 905, `Expiration ${c.expiration?.toISOString()} is not ~900 s away`);
      });

      await ctx.step("as A: CreateBucket, PutObject, GetObject, ListObjectsV2", async () => {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(body) }));
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        assertEqual(await got.Body!.transformToString(), body, 'GetObject body');
        const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        assertEqual(list.Contents?.map((o) => o.Key), [key], 'ListObjectsV2 keys');
      });

      await ctx.step("as A: B's private bucket is AccessDenied (GetObject, ListObjectsV2, PutObject, DeleteObject)", async () => {
        await denied('GetObject in B\'s bucket', client.send(new GetObjectCommand({ Bucket: bucketB, Key: keyB })));
        await denied('ListObjectsV2 of B\'s bucket', client.send(new ListObjectsV2Command({ Bucket: bucketB })));
        await denied('PutObject into B\'s bucket', client.send(new PutObjectCommand({ Bucket: bucketB, Key: 'from-a.txt', Body: Buffer.from('x') })));
        await denied('DeleteObject in B\'s bucket', client.send(new DeleteObjectCommand({ Bucket: bucketB, Key: keyB })));
      });

      await ctx.step('as A: DeleteObject, DeleteBucket', async () => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      });
    } finally {
      client.destroy();
    }
    await removeBucketOfB(ctx, b, bucketB, keyB);
  },
};

export const PRINCIPAL_SCENARIOS: Scenario[] = [awsCliUserScenario, rcloneUserScenario, boto3StsScenario, sdkJsWebIdentityScenario];
