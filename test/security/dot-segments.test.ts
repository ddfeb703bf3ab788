// Issue 13, finding 1: one request has one path. The bytes the client sent
// (and signed) decide which application answers, who is authenticated and
// which bucket and key are meant. A URL parser (WHATWG, as @hono/node-server
// uses it) resolves `..` and `%2e%2e`, turns `\` into `/` and Hono decodes
// `%61`; SigV4 for S3 normalises nothing. Before the fix, a root-presigned
// GET for the key `uploads/../../admin/v1/keys`, sent as is, was answered by
// the admin API with the list of every access key, and a presigned DELETE
// revoked one.
//
// Requests go out with node:http (which sends the path as given, unlike
// fetch) or a bare socket; paths with encoded dots are signed over the
// canonical URI the server computes (decoded once, re-encoded), as an
// attacker would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { rawRequest, requestHead } from '../support/raw-http.ts';
import { errorCode, xmlValue } from '../support/s3-xml.ts';
import { encodeKey, S3RawClient, sendRaw, type RawResponse } from '../support/signer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const DOMAIN = 's3.aerostore.test';
const BUCKET = 'dots';
const HEADLINE_KEY = 'uploads/../../admin/v1/keys';
const STORED = 'the object stored under a literal dot-dot key';

let srv: TestServer;
let root: S3RawClient;
let victim: { id: string; access_key_id: string; secret_access_key: string };

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_DOMAIN: DOMAIN } });
  root = new S3RawClient(srv.url, srv);
  const made = await root.send({ method: 'PUT', path: `/${BUCKET}` });
  assert.equal(made.status, 200, made.body.toString());
  const key = await root.send({
    method: 'POST',
    path: '/admin/v1/keys',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: randomUUID(), name: 'victim' }),
  });
  assert.equal(key.status, 201, key.body.toString());
  victim = JSON.parse(key.body.toString()) as typeof victim;
});

after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(srv?.log());
  await srv?.stop();
});

/** The path SigV4 signs for a wire path: decoded once and re-encoded, never normalised (S3's rule). */
const canonicalPath = (wire: string): string => encodeKey(decodeURIComponent(wire));

interface Options {
  presign?: boolean;
  host?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** Signs `wire` with the root key (the service role) and sends it exactly as written. */
async function signed(method: string, wire: string, opts: Options = {}): Promise<RawResponse> {
  const canonical = canonicalPath(wire);
  const s = await root.sign({
    method,
    path: canonical,
    headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
    body: opts.body,
    presignExpiresIn: opts.presign ? 300 : undefined,
  });
  return sendRaw(root.base, method, wire + s.path.slice(canonical.length), s.headers, opts.body);
}

const both = async (method: string, wire: string, opts: Options = {}): Promise<RawResponse[]> => [
  await signed(method, wire, opts),
  await signed(method, wire, { ...opts, presign: true }),
];

const describeRes = (wire: string, res: RawResponse) => `${wire} → ${res.status} ${res.headers['content-type'] ?? ''} ${res.body.toString().slice(0, 300)}`;

/** An answer of the S3 protocol (its request id, XML or no body), never a service API's JSON, never a key listing. */
function assertS3Answer(wire: string, res: RawResponse): void {
  assert.ok(res.headers['x-amz-request-id'], `not an S3 answer: ${describeRes(wire, res)}`);
  assert.doesNotMatch(String(res.headers['content-type'] ?? ''), /json/, describeRes(wire, res));
  assert.ok(!res.body.toString().includes(victim.access_key_id), `key listed: ${describeRes(wire, res)}`);
}

/** A JSON error of the service APIs' shape, with this status and code. */
function assertJsonError(wire: string, res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status, describeRes(wire, res));
  assert.match(String(res.headers['content-type']), /^application\/json/, describeRes(wire, res));
  assert.equal(res.headers['x-amz-request-id'], undefined, describeRes(wire, res));
  const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
  assert.deepEqual(body.statusCode, String(status));
  assert.equal(body.error, code, describeRes(wire, res));
}

async function victimKeyIsActive(): Promise<void> {
  const list = await root.send({ method: 'GET', path: '/admin/v1/keys' });
  assert.equal(list.status, 200, list.body.toString());
  assert.ok((JSON.parse(list.body.toString()) as Array<{ id: string }>).some((k) => k.id === victim.id), 'the victim key was revoked');
  const asVictim = await new S3RawClient(srv.url, { accessKeyId: victim.access_key_id, secretAccessKey: victim.secret_access_key }).send({ method: 'GET', path: '/' });
  assert.equal(asVictim.status, 200, asVictim.body.toString());
}

// Spellings of the same dot-dot key: raw, %2e-encoded in either case, half-encoded.
const SPELLINGS = [
  'uploads/../../admin/v1/keys',
  'uploads/%2e%2e/%2e%2e/admin/v1/keys',
  'uploads/%2E%2e/%2e%2E/admin/v1/keys',
  'uploads/.%2e/%2e./admin/v1/keys',
];

describe('a key with dot segments is a key in its bucket (S3)', () => {
  it('a root-presigned GET for uploads/../../admin/v1/keys is S3 NoSuchKey for that key, not the key list', async () => {
    for (const res of await both('GET', `/${BUCKET}/${HEADLINE_KEY}`)) {
      assertS3Answer(HEADLINE_KEY, res);
      assert.equal(res.status, 404, describeRes(HEADLINE_KEY, res));
      assert.equal(errorCode(res.body), 'NoSuchKey');
      assert.equal(xmlValue(res.body.toString(), 'Key'), HEADLINE_KEY);
    }
  });

  it('stored under that literal key, every spelling of it returns the object’s bytes', async () => {
    const put = await signed('PUT', `/${BUCKET}/${HEADLINE_KEY}`, { body: STORED });
    assert.equal(put.status, 200, put.body.toString());
    for (const spelling of SPELLINGS) {
      for (const res of await both('GET', `/${BUCKET}/${spelling}`)) {
        assertS3Answer(spelling, res);
        assert.equal(res.status, 200, describeRes(spelling, res));
        assert.equal(res.body.toString(), STORED);
      }
    }
    // The listing names the key as stored.
    const list = await root.send({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: 'uploads/' } });
    assert.equal(xmlValue(list.body.toString(), 'Key'), HEADLINE_KEY);
  });

  it('a root-presigned DELETE for x/../../admin/v1/keys/<id> revokes nothing', async () => {
    for (const wire of [
      `/${BUCKET}/x/../../admin/v1/keys/${victim.id}`,
      `/${BUCKET}/x/%2e%2e/%2e%2e/admin/v1/keys/${victim.id}`,
      `/${BUCKET}/..%2f..%2fadmin/v1/keys/${victim.id}`,
    ]) {
      for (const res of await both('DELETE', wire)) {
        assertS3Answer(wire, res);
        assert.equal(res.status, 204, describeRes(wire, res));
      }
    }
    await victimKeyIsActive();
  });

  it('dot segments at the root are S3 paths too (bucket "..", ".", or a bucket and a key)', async () => {
    for (const wire of ['/../admin/v1/keys', '/%2e%2e/admin/v1/keys', '/./admin/v1/keys', '/%2e/admin/v1/keys', `/${BUCKET}/../admin/v1/keys`, `/${BUCKET}/..`, '/..', '/.']) {
      for (const res of await both('GET', wire)) assertS3Answer(wire, res);
    }
    for (const res of await both('DELETE', `/../admin/v1/keys/${victim.id}`)) assertS3Answer('DELETE /../admin/v1/keys/<id>', res);
    await victimKeyIsActive();
  });
});

describe('the service APIs route on the path as sent', () => {
  const DOTTED = (prefix: string, tail: string) => [
    `${prefix}/${tail}/../${tail}`,
    `${prefix}/x/../${tail}`,
    `${prefix}/x/%2e%2e/${tail}`,
    `${prefix}/x/%2E%2e/${tail}`,
    `${prefix}/x/.%2e/${tail}`,
    `${prefix}/./${tail}`,
    `${prefix}/%2e/${tail}`,
    `${prefix}/${tail}/..`,
    `${prefix}/${tail}/.`,
    `${prefix}/..`,
    `${prefix}/../../${BUCKET}/${HEADLINE_KEY}`,
  ];

  it('/admin/v1: a dot segment is a name no route has (JSON 404), signed or presigned; nothing is listed or revoked', async () => {
    for (const wire of DOTTED('/admin/v1', 'keys')) {
      for (const res of await both('GET', wire)) {
        assertJsonError(wire, res, 404, 'NotFound');
        assert.ok(!res.body.toString().includes(victim.access_key_id), describeRes(wire, res));
      }
    }
    for (const wire of [`/admin/v1/x/../keys/${victim.id}`, `/admin/v1/keys/x/%2e%2e/${victim.id}`, `/admin/v1/keys/${victim.id}/..`]) {
      for (const res of await both('DELETE', wire)) assertJsonError(wire, res, 404, 'NotFound');
    }
    await victimKeyIsActive();
  });

  it('/storage/v1: a dot segment is part of the object key, as on S3', async () => {
    for (const spelling of SPELLINGS) {
      const wire = `/storage/v1/object/${BUCKET}/${spelling}`;
      for (const res of await both('GET', wire)) {
        assert.equal(res.status, 200, describeRes(wire, res));
        assert.equal(res.body.toString(), STORED);
      }
    }
    for (const wire of [`/storage/v1/object/${BUCKET}/x/%2e%2e/%2e%2e/admin/v1/keys`, `/storage/v1/object/info/${BUCKET}/x/../../../../admin/v1/keys`]) {
      for (const res of await both('GET', wire)) assertJsonError(wire, res, 404, 'FILE_NOT_FOUND');
    }
    for (const wire of DOTTED('/storage/v1', 'bucket')) {
      for (const res of await both('GET', wire)) {
        assert.match(String(res.headers['content-type']), /^application\/json/, describeRes(wire, res));
        assert.equal(res.headers['x-amz-request-id'], undefined, describeRes(wire, res));
        assert.ok(!res.body.toString().includes(victim.access_key_id), describeRes(wire, res));
      }
    }
  });

  it('/health: a dot segment is a name no route has (JSON 404)', async () => {
    for (const wire of [...DOTTED('/health', 'live'), '/health/../admin/v1/keys', '/health/%2e%2e/admin/v1/keys']) {
      const res = await sendRaw(root.base, 'GET', wire, { host: root.base.host });
      assertJsonError(wire, res, 404, 'NotFound');
    }
  });

  it('a fragment (#) or a backslash is refused with 400 in the API’s JSON: the authenticator would drop the one, a URL parser read the other as /', async () => {
    for (const [wire, code] of [['/admin/v1/keys#fragment', 'InvalidRequest'], ['/storage/v1/bucket#x', 'INVALID_REQUEST'], ['/health/live#x', 'InvalidRequest'],
      ['/admin/v1/x\\..\\keys', 'InvalidRequest'], ['/admin/v1/keys\\', 'InvalidRequest'], [`/storage/v1/object/${BUCKET}/x\\..\\..\\admin/v1/keys`, 'INVALID_REQUEST'], ['/health/x\\..\\live', 'InvalidRequest']]) {
      for (const res of await both('GET', wire)) assertJsonError(wire, res, 400, code);
    }
  });

  it('double and trailing slashes stay inside the API they were sent to', async () => {
    for (const wire of ['/admin/v1//keys', '/admin/v1/keys/', '/admin/v1/', '/admin/v1', '/storage/v1//bucket', '/storage/v1/bucket/', '/health/live/', '/health//live']) {
      for (const res of await both('GET', wire)) {
        assert.match(String(res.headers['content-type']), /^application\/json/, describeRes(wire, res));
        assert.equal(res.headers['x-amz-request-id'], undefined, describeRes(wire, res));
        assert.ok(!res.body.toString().includes(victim.access_key_id), describeRes(wire, res));
      }
    }
    // The plain paths answer as they always did.
    assert.equal((await sendRaw(root.base, 'GET', '/health/live', { host: root.base.host })).status, 200);
    assert.equal((await signed('GET', '/storage/v1/bucket')).status, 200);
    assert.equal((await signed('GET', '/admin/v1/keys')).status, 200);
  });
});

describe('paths that only look like a service path belong to S3', () => {
  const LOOKALIKES = [
    '/%61dmin/v1/keys',
    '/%41dmin/v1/keys',
    '/admin/%761/keys',
    '/ADMIN/v1/keys',
    '/admin/V1/keys',
    '/admin/v10/keys',
    '//admin/v1/keys',
    '/admin//v1/keys',
    '/admin\\v1/keys',
    '/admin/v1\\keys',
    '/admin/v1%2fkeys',
    '/admin%2fv1/keys',
    '/x/../admin/v1/keys',
    '/%73torage/v1/bucket',
    '/storage/%761/bucket',
    '/storage/v1%2fbucket',
    '/%68ealth/live',
    '/health',
    '/health%2flive',
    `/${BUCKET}/../health/live`,
    '/%63onsole/x',
    '/CONSOLE/',
    '/console%2fx',
    '/metrics/',
    '/metrics/x',
    '/%6detrics',
  ];

  it('percent-encoded or differently cased prefixes, doubled or backslashed separators: S3 answers, signed or presigned', async () => {
    for (const wire of LOOKALIKES) {
      for (const res of await both('GET', wire)) assertS3Answer(wire, res);
    }
    for (const res of await both('DELETE', `/%61dmin/v1/keys/${victim.id}`)) assertS3Answer('DELETE /%61dmin/v1/keys/<id>', res);
    await victimKeyIsActive();
  });

  it('with a bucket in the Host (virtual-hosted style), /admin/v1/keys and /health/live are keys in that bucket', async () => {
    const host = `${BUCKET}.${DOMAIN}:${root.base.port}`;
    for (const key of ['admin/v1/keys', 'health/live', 'storage/v1/bucket']) {
      for (const res of await both('GET', `/${key}`, { host })) {
        assertS3Answer(key, res);
        assert.equal(res.status, 404, describeRes(key, res));
        assert.equal(xmlValue(res.body.toString(), 'Key'), key);
      }
    }
    // And the headline key, stored above, is that object there too.
    const res = await signed('GET', `/${HEADLINE_KEY}`, { host });
    assert.equal(res.body.toString(), STORED);
  });

  it('absolute-form and asterisk-form request targets never reach a service API', async () => {
    for (const target of [`http://${root.base.host}/admin/v1/keys`, `http://${root.base.host}/${BUCKET}/../admin/v1/keys`, `https://x/health/live`, '*']) {
      const out = await rawRequest(root.base, requestHead('GET', target, { host: root.base.host, connection: 'close' }));
      assert.ok(out.response, `no answer to ${target}`);
      assert.ok(out.response.headers['x-amz-request-id'], `${target} → ${out.response.status} ${out.response.body.toString()}`);
      assert.equal(errorCode(out.response.body), 'InvalidURI');
    }
    // Signed too: the authenticator would read the path of an absolute-form target, the S3 router refuses it first.
    const s = await root.sign({ method: 'GET', path: '/admin/v1/keys' });
    const res = await sendRaw(root.base, 'GET', `http://${root.base.host}${s.path}`, s.headers);
    assertS3Answer('absolute-form', res);
    assert.equal(errorCode(res.body), 'InvalidURI');
  });

  it('STS answers at / only; a dot segment that resolves to / is S3', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=x&RoleArn=arn:aws:iam::000000000000:role/x&RoleSessionName=s';
    const sts = await sendRaw(root.base, 'POST', '/', { host: root.base.host, ...form }, body);
    assert.ok(sts.headers['x-amzn-requestid'], describeRes('/', sts));
    for (const wire of ['/.', '/%2e', `/${BUCKET}/..`, '/x/..', '/admin/v1/..']) {
      const res = await sendRaw(root.base, 'POST', wire, { host: root.base.host, ...form }, body);
      assert.equal(res.headers['x-amzn-requestid'], undefined, describeRes(wire, res));
    }
  });
});

describe('service names are not bucket names', () => {
  const RESERVED = ['admin', 'storage', 'health', 'console', 'metrics'];

  it('S3 CreateBucket: 400 InvalidBucketName saying why', async () => {
    for (const name of RESERVED) {
      const res = await root.send({ method: 'PUT', path: `/${name}` });
      assert.equal(res.status, 400, describeRes(name, res));
      assert.equal(errorCode(res.body), 'InvalidBucketName');
      assert.match(xmlValue(res.body.toString(), 'Message') ?? '', /reserved/);
    }
    // A virtual-hosted CreateBucket names it in the Host.
    const res = await signed('PUT', '/', { host: `admin.${DOMAIN}:${root.base.port}` });
    assert.equal(errorCode(res.body), 'InvalidBucketName', describeRes('admin.<domain>', res));
  });

  it('/storage/v1 bucket creation: 400 INVALID_BUCKET_NAME', async () => {
    for (const name of RESERVED) {
      const res = await signed('POST', '/storage/v1/bucket', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      assertJsonError(name, res, 400, 'INVALID_BUCKET_NAME');
    }
  });
});

describe('aws-cli presign, fetched with curl --path-as-is', () => {
  it('returns the object stored under the dot-dot key, not the admin API', async (t) => {
    const have = async (cmd: string) => run(cmd, ['--version']).then(() => true, () => false);
    if (!(await have('aws')) || !(await have('curl'))) return t.skip('aws-cli or curl is not installed');
    // aws-cli v1 presigns with SigV2 unless told otherwise.
    const config = path.join(srv.dataDir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n');
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: srv.accessKeyId,
      AWS_SECRET_ACCESS_KEY: srv.secretAccessKey,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    // Stored by the test above; make sure of it when this test runs alone.
    await signed('PUT', `/${BUCKET}/${HEADLINE_KEY}`, { body: STORED });
    const { stdout: url } = await run('aws', ['s3', 'presign', `s3://${BUCKET}/${HEADLINE_KEY}`, '--endpoint-url', srv.url, '--expires-in', '300'], { env });
    assert.ok(url.includes(`/${BUCKET}/${HEADLINE_KEY}?`), `aws-cli normalised the key: ${url}`);
    const curl = (u: string) => run('curl', ['--silent', '--path-as-is', '--include', u.trim()]);
    const { stdout } = await curl(url);
    assert.match(stdout, /^HTTP\/1\.1 200/, stdout.slice(0, 500));
    assert.match(stdout, /x-amz-request-id/i);
    assert.ok(stdout.endsWith(STORED), stdout.slice(0, 500));
    assert.ok(!stdout.includes(victim.access_key_id));
    // The same URL for a key never stored: S3's NoSuchKey, still not the key list.
    const { stdout: missing } = await run('aws', ['s3', 'presign', `s3://${BUCKET}/other/../../admin/v1/keys`, '--endpoint-url', srv.url], { env });
    const answer = (await curl(missing)).stdout;
    assert.match(answer, /^HTTP\/1\.1 404/, answer.slice(0, 500));
    assert.match(answer, /<Code>NoSuchKey<\/Code>/);
  });
});

describe('what the server logged', () => {
  it('a line for each refused target, and no error', () => {
    const lines = srv.log().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; path?: string; status?: number });
    // The request log's line (http/request-log.ts): the target as sent, and the refusal's status.
    assert.ok(lines.some((l) => l.msg === 'request' && l.path === '/admin/v1/keys#fragment' && l.status === 400), 'no log line for a refused admin target');
    assert.deepEqual(lines.filter((l) => l.level >= 50), []);
  });
});
