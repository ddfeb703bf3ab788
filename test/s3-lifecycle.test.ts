// Lifecycle rules (issue 18 §4): Put/Get/DeleteBucketLifecycleConfiguration
// with S3's errors and round trip, x-amz-expiration on PUT/GET/HEAD, and the
// lifecycle pass run as `aerostore lifecycle run --now <days ahead>` on the
// server's data directory: current versions expired by prefix, tag and size,
// old uploads aborted, Disabled rules and other keys untouched, events with
// cause 'lifecycle', object lock respected.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { embeddedDatabaseUrl } from './support/database.ts';
import { createAccessKey, credentialsOf } from './support/principals.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { runAerostore, type CliResult } from './support/aerostore-cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { S3RawClient, type RawResponse } from './support/signer.ts';

const DAY = 86_400_000;

let server: TestServer;
let s3: S3RawClient;
let db: postgres.Sql;

before(async () => {
  // No scheduled pass: the tests run it through the command.
  server = await startTestServer({ env: { AEROSTORE_LIFECYCLE_INTERVAL_MINUTES: '0' } });
  s3 = new S3RawClient(server.url, server);
  db = postgres(await embeddedDatabaseUrl(server.dataDir), { max: 2, onnotice: () => {} });
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await db?.end({ timeout: 1 });
  await server?.stop();
});

async function ok(pending: Promise<RawResponse>, status = 200): Promise<RawResponse> {
  const res = await pending;
  assert.equal(res.status, status, res.body.toString());
  return res;
}

const md5 = (body: string) => createHash('md5').update(body).digest('base64');
const putLifecycle = (bucket: string, xml: string, client = s3, headers: Record<string, string> = { 'content-md5': md5(xml) }) =>
  client.send({ method: 'PUT', path: `/${bucket}`, query: { lifecycle: '' }, body: xml, headers });
const getLifecycle = (bucket: string, client = s3) => client.send({ method: 'GET', path: `/${bucket}`, query: { lifecycle: '' } });
const config = (...rules: string[]) => `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.map((r) => `<Rule>${r}</Rule>`).join('')}</LifecycleConfiguration>`;
const put = (bucket: string, key: string, body = 'x', headers: Record<string, string> = {}) =>
  ok(s3.send({ method: 'PUT', path: `/${bucket}/${key}`, body, headers }));
const exists = async (bucket: string, key: string) => (await s3.send({ method: 'HEAD', path: `/${bucket}/${key}` })).status === 200;


/** `aerostore lifecycle <args>` on the server's data directory (through its running Postgres). */
const lifecycleCli = (args: readonly string[]): Promise<CliResult> => runAerostore(server.dataDir, ['lifecycle', ...args]);

async function runPass(bucket: string, now: Date): Promise<Record<string, unknown>> {
  const run = await lifecycleCli(['run', '--now', now.toISOString(), '--bucket', bucket, '--json']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('Put/Get/DeleteBucketLifecycleConfiguration', () => {
  before(() => ok(s3.send({ method: 'PUT', path: '/lc-config' })));

  it('GET without a configuration is 404 NoSuchLifecycleConfiguration naming the bucket; DELETE of none is 204', async () => {
    const res = await getLifecycle('lc-config');
    assert.equal(res.status, 404);
    assert.equal(errorCode(res.body), 'NoSuchLifecycleConfiguration');
    assert.equal(xmlValue(res.body.toString(), 'BucketName'), 'lc-config');
    await ok(s3.send({ method: 'DELETE', path: '/lc-config', query: { lifecycle: '' } }), 204);
  });

  it('round-trips every form of rule in S3 XML, and DELETE removes them', async () => {
    const rules = [
      '<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>',
      '<ID>tagged</ID><Filter><Tag><Key>temp</Key><Value>yes &amp; no</Value></Tag></Filter><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>',
      '<ID>and</ID><Filter><And><Prefix>big/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag><ObjectSizeGreaterThan>1024</ObjectSizeGreaterThan><ObjectSizeLessThan>4096</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
      '<ID>all</ID><Filter></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
      '<ID>size</ID><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>',
    ];
    const putRes = await ok(putLifecycle('lc-config', config(...rules)));
    assert.equal(putRes.headers['x-amz-transition-default-minimum-object-size'], 'all_storage_classes_128K');
    const res = await ok(getLifecycle('lc-config'));
    const xml = res.body.toString();
    assert.equal(res.headers['content-type'], 'application/xml');
    assert.match(xml, /^<\?xml[^>]*>\n<LifecycleConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/">/);
    assert.deepEqual(xmlValues(xml, 'ID'), ['logs', 'tagged', 'and', 'all', 'size']);
    assert.deepEqual(xmlValues(xml, 'Status'), ['Enabled', 'Disabled', 'Enabled', 'Enabled', 'Enabled']);
    assert.match(xml, /<Filter><Prefix>logs\/<\/Prefix><\/Filter>/);
    assert.match(xml, /<Filter><Tag><Key>temp<\/Key><Value>yes &amp; no<\/Value><\/Tag><\/Filter>/);
    assert.match(xml, /<Expiration><Date>2030-01-01T00:00:00.000Z<\/Date><\/Expiration>/);
    assert.match(
      xml,
      /<Filter><And><Prefix>big\/<\/Prefix><Tag><Key>a<\/Key><Value>1<\/Value><\/Tag><Tag><Key>b<\/Key><Value>2<\/Value><\/Tag><ObjectSizeGreaterThan>1024<\/ObjectSizeGreaterThan><ObjectSizeLessThan>4096<\/ObjectSizeLessThan><\/And><\/Filter>/,
    );
    assert.match(xml, /<NoncurrentVersionExpiration><NoncurrentDays>7<\/NoncurrentDays><NewerNoncurrentVersions>3<\/NewerNoncurrentVersions><\/NoncurrentVersionExpiration>/);
    assert.match(xml, /<Filter><\/Filter><Status>Enabled<\/Status><Expiration><ExpiredObjectDeleteMarker>true<\/ExpiredObjectDeleteMarker><\/Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2<\/DaysAfterInitiation><\/AbortIncompleteMultipartUpload>/);
    assert.match(xml, /<Filter><ObjectSizeGreaterThan>10<\/ObjectSizeGreaterThan><\/Filter>/);

    // The older form, a rule-level Prefix, comes back as written; a rule without an ID gets one.
    await ok(putLifecycle('lc-config', config('<Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>5</Days></Expiration>')));
    const legacy = (await ok(getLifecycle('lc-config'))).body.toString();
    assert.match(legacy, /<Rule><ID>[A-Za-z0-9+/=]+<\/ID><Prefix>old\/<\/Prefix><Status>Enabled<\/Status>/);
    assert.doesNotMatch(legacy, /<Filter>/);

    await ok(s3.send({ method: 'DELETE', path: '/lc-config', query: { lifecycle: '' } }), 204);
    assert.equal(errorCode((await getLifecycle('lc-config')).body), 'NoSuchLifecycleConfiguration');
  });

  it('refuses what S3 refuses, with its codes and messages, and changes nothing', async () => {
    await ok(putLifecycle('lc-config', config('<ID>keep</ID><Filter/><Status>Enabled</Status><Expiration><Days>9</Days></Expiration>')));
    const enabled = (x: string) => `<ID>r</ID><Filter/><Status>Enabled</Status>${x}`;
    const cases: Array<[string, string, RegExp?]> = [
      ['<LifecycleConfiguration><Rule>', 'MalformedXML'],
      [config(enabled('<Expiration><Days>one</Days></Expiration>')), 'MalformedXML'],
      [config('<ID>r</ID><Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
      [config('<ID>r</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
      [config(enabled('<Expiration><Days>1</Days></Expiration><Unknown/>')), 'MalformedXML'],
      [config('<ID>r</ID><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
      [config(enabled('<Expiration><Days>3</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>')), 'MalformedXML'],
      ['<LifecycleConfiguration></LifecycleConfiguration>', 'InvalidRequest', /^At least one lifecycle rule must be specified\.$/],
      [config(enabled('<Expiration><Days>0</Days></Expiration>')), 'InvalidArgument', /^'Days' for Expiration action must be a positive integer$/],
      [config(enabled('<Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>')), 'InvalidArgument', /^'Date' must be at midnight GMT$/],
      [config(enabled('<Expiration><Days>1</Days></Expiration>'), enabled('<Expiration><Days>2</Days></Expiration>')), 'InvalidArgument', /^Rule ID must be unique/],
      [config(`<ID>${'i'.repeat(256)}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`), 'InvalidArgument', /^ID length should not exceed allowed limit of 255$/],
      [config(enabled('')), 'InvalidRequest', /^At least one action needs to be specified in a rule$/],
      [config('<ID>r</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>'), 'InvalidRequest', /^ExpiredObjectDeleteMarker cannot be specified with Tags\.$/],
      [config('<ID>r</ID><Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>'), 'InvalidRequest', /^AbortIncompleteMultipartUpload cannot be specified with Object Size\.$/],
      [config('<ID>r</ID><Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'InvalidRequest', /has to be a value greater than/],
      [config(enabled('<Expiration><Days>1</Days></Expiration>'), '<ID>s</ID><Prefix>a</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'InvalidRequest', /^Base level prefix cannot be used in Lifecycle V2/],
      [config(enabled('<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>')), 'InvalidArgument', /NoncurrentDays/],
      [config(enabled('<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>')), 'NotImplemented'],
    ];
    for (const [xml, code, message] of cases) {
      const res = await putLifecycle('lc-config', xml);
      assert.equal(errorCode(res.body), code, `${xml}: ${res.body}`);
      assert.equal(res.status, code === 'NotImplemented' ? 501 : 400, xml);
      if (message) assert.match(xmlValue(res.body.toString(), 'Message') ?? '', message, xml);
    }
    // S3 wants the document's digest.
    const undigested = await putLifecycle('lc-config', config(enabled('<Expiration><Days>1</Days></Expiration>')), s3, {});
    assert.equal(undigested.status, 400);
    assert.equal(errorCode(undigested.body), 'InvalidRequest');
    assert.deepEqual(xmlValues((await ok(getLifecycle('lc-config'))).body.toString(), 'ID'), ['keep']);
  });

  it('is the bucket owner’s: anyone else is AccessDenied, a missing bucket NoSuchBucket', async () => {
    const stranger = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, randomUUID())));
    const xml = config('<ID>r</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>');
    assert.equal(errorCode((await putLifecycle('lc-config', xml, stranger)).body), 'AccessDenied');
    assert.equal(errorCode((await getLifecycle('lc-config', stranger)).body), 'AccessDenied');
    assert.equal(errorCode((await stranger.send({ method: 'DELETE', path: '/lc-config', query: { lifecycle: '' } })).body), 'AccessDenied');
    assert.equal(errorCode((await putLifecycle('lc-no-such-bucket', xml)).body), 'NoSuchBucket');
  });
});

describe('x-amz-expiration', () => {
  before(async () => {
    await ok(s3.send({ method: 'PUT', path: '/lc-header' }));
    await ok(
      putLifecycle(
        'lc-header',
        config(
          '<ID>tmp-3</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration>',
          '<ID>off</ID><Filter><Prefix>off/</Prefix></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>',
          '<ID>dated</ID><Filter><Prefix>tmp/dated</Prefix></Filter><Status>Enabled</Status><Expiration><Date>2000-01-01T00:00:00Z</Date></Expiration>',
        ),
      ),
    );
  });

  it('is on PUT, GET and HEAD of objects an Expiration rule matches: the creation day + Days, rounded up to midnight UTC', async () => {
    const putRes = await put('lc-header', 'tmp/a');
    const lastModified = new Date(String((await ok(s3.send({ method: 'HEAD', path: '/lc-header/tmp/a' }))).headers['last-modified']));
    const expected = new Date((Math.floor(lastModified.getTime() / DAY) + 4) * DAY).toUTCString();
    const header = `expiry-date="${expected}", rule-id="tmp-3"`;
    assert.equal(putRes.headers['x-amz-expiration'], header);
    assert.equal((await ok(s3.send({ method: 'GET', path: '/lc-header/tmp/a' }))).headers['x-amz-expiration'], header);
    assert.equal((await ok(s3.send({ method: 'HEAD', path: '/lc-header/tmp/a' }))).headers['x-amz-expiration'], header);
    // CopyObject's new object too.
    const copied = await ok(s3.send({ method: 'PUT', path: '/lc-header/tmp/copy', headers: { 'x-amz-copy-source': '/lc-header/tmp/a' } }));
    assert.match(String(copied.headers['x-amz-expiration']), /^expiry-date="[^"]+ 00:00:00 GMT", rule-id="tmp-3"$/);
    // CompleteMultipartUpload's object too.
    const created = await ok(s3.send({ method: 'POST', path: '/lc-header/tmp/mp', query: { uploads: '' } }));
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] as string;
    const part = await ok(s3.send({ method: 'PUT', path: '/lc-header/tmp/mp', query: { partNumber: '1', uploadId }, body: 'one part' }));
    const completed = await ok(
      s3.send({
        method: 'POST',
        path: '/lc-header/tmp/mp',
        query: { uploadId },
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`,
      }),
    );
    assert.match(String(completed.headers['x-amz-expiration']), /^expiry-date="[^"]+ 00:00:00 GMT", rule-id="tmp-3"$/);
    // The earliest rule that applies: a Date rule already past.
    const dated = await put('lc-header', 'tmp/dated-1');
    assert.equal(dated.headers['x-amz-expiration'], 'expiry-date="Sat, 01 Jan 2000 00:00:00 GMT", rule-id="dated"');
  });

  it('is absent where no enabled rule applies, and goes when the configuration does', async () => {
    assert.equal((await put('lc-header', 'other/a')).headers['x-amz-expiration'], undefined);
    assert.equal((await put('lc-header', 'off/a')).headers['x-amz-expiration'], undefined);
    await ok(s3.send({ method: 'DELETE', path: '/lc-header', query: { lifecycle: '' } }), 204);
    assert.equal((await ok(s3.send({ method: 'HEAD', path: '/lc-header/tmp/a' }))).headers['x-amz-expiration'], undefined);
  });
});

describe('the lifecycle pass (`aerostore lifecycle run`)', () => {
  const bucket = 'lc-pass';
  let uploadId: string;
  before(async () => {
    await ok(s3.send({ method: 'PUT', path: `/${bucket}` }));
    for (const key of ['logs/1', 'logs/2', 'logs/held', 'keep/1', 'off/1']) await put(bucket, key);
    await put(bucket, 'tagged/yes', 'x', { 'x-amz-tagging': 'temp=yes&team=a' });
    await put(bucket, 'tagged/no', 'x', { 'x-amz-tagging': 'temp=no' });
    await put(bucket, 'sized/big', 'x'.repeat(100));
    await put(bucket, 'sized/small', 'x'.repeat(10));
    const created = await ok(s3.send({ method: 'POST', path: `/${bucket}/uploads/u`, query: { uploads: '' } }));
    uploadId = xmlValue(created.body.toString(), 'UploadId') as string;
    await ok(s3.send({ method: 'POST', path: `/${bucket}/keep/u`, query: { uploads: '' } }));
    await ok(
      putLifecycle(
        bucket,
        config(
          '<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration>',
          '<ID>temp</ID><Filter><Tag><Key>temp</Key><Value>yes</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>',
          '<ID>big</ID><Filter><And><Prefix>sized/</Prefix><ObjectSizeGreaterThan>50</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>',
          '<ID>off</ID><Filter><Prefix>off/</Prefix></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>',
          '<ID>uploads</ID><Filter><Prefix>uploads/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
        ),
      ),
    );
    // Object lock, as the database keeps it: a legal hold on one expired key.
    await db`update storage.objects set legal_hold = true where bucket_id = ${bucket} and key = 'logs/held'`;
  });

  it('does nothing before the rules fall due', async () => {
    const report = await runPass(bucket, new Date());
    assert.deepEqual([report.expired, report.uploadsAborted, report.locked], [0, 0, 0]);
    assert.ok(await exists(bucket, 'logs/1'));
  });

  it('expires by prefix, tag and size and aborts old uploads, leaving Disabled rules, other keys and locked versions alone', async () => {
    const report = await runPass(bucket, new Date(Date.now() + 3 * DAY));
    assert.equal(report.buckets, 1);
    assert.equal(report.expired, 4, JSON.stringify(report));
    assert.equal(report.uploadsAborted, 1);
    assert.equal(report.locked, 1);
    assert.deepEqual(report.lockedVersions, [{ bucket, key: 'logs/held' }]);
    for (const key of ['logs/1', 'logs/2', 'tagged/yes', 'sized/big']) assert.equal(await exists(bucket, key), false, key);
    for (const key of ['logs/held', 'keep/1', 'off/1', 'tagged/no', 'sized/small']) assert.equal(await exists(bucket, key), true, key);
    const uploads = (await ok(s3.send({ method: 'GET', path: `/${bucket}`, query: { uploads: '' } }))).body.toString();
    assert.deepEqual(xmlValues(uploads, 'Key'), ['keep/u']);
    assert.ok(!uploads.includes(uploadId));
    // Each deletion is an event that says it was lifecycle's, by the service role.
    const events = await db<{ key: string; cause: string; role: string }[]>`
      select key, payload->>'cause' as cause, actor->>'role' as role from storage.events
      where bucket = ${bucket} and type = 'storage.object.deleted' order by key`;
    assert.deepEqual([...events], ['logs/1', 'logs/2', 'sized/big', 'tagged/yes'].map((key) => ({ key, cause: 'lifecycle', role: 'service' })));
  });

  it('prints a summary; a bad --now is a usage error', async () => {
    const run = await lifecycleCli(['run', '--now', new Date(Date.now() + 3 * DAY).toISOString(), '--bucket', bucket]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /current versions expired\s+0/);
    assert.match(run.stdout, /kept by object lock\s+1\n\s+bucket lc-pass, key "logs\/held"/);
    const wrong = await lifecycleCli(['run', '--now', 'tomorrow']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--now needs an ISO 8601/);
  });
});

describe('the lifecycle pass in a versioned bucket', () => {
  const bucket = 'lc-versions';
  const versionOf = (res: RawResponse) => String(res.headers['x-amz-version-id']);
  /** ListObjectVersions as `key:versionId` (`key:marker:versionId` for delete markers), S3's order. */
  async function versions(): Promise<string[]> {
    const xml = (await ok(s3.send({ method: 'GET', path: `/${bucket}`, query: { versions: '' } }))).body.toString();
    return [...xml.matchAll(/<(Version|DeleteMarker)>(.*?)<\/\1>/g)].map(
      ([, kind, inner]) => `${xmlValue(inner, 'Key')}:${kind === 'DeleteMarker' ? 'marker:' : ''}${xmlValue(inner, 'VersionId')}`,
    );
  }
  const ids: Record<string, string> = {};

  before(async () => {
    await ok(s3.send({ method: 'PUT', path: `/${bucket}` }));
    await ok(s3.send({ method: 'PUT', path: `/${bucket}`, query: { versioning: '' }, body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' }));
    for (const v of ['doc1', 'doc2', 'doc3', 'doc4']) ids[v] = versionOf(await put(bucket, 'doc', v));
    ids.gone1 = versionOf(await put(bucket, 'gone', 'g'));
    ids.goneMarker = String((await ok(s3.send({ method: 'DELETE', path: `/${bucket}/gone` }), 204)).headers['x-amz-version-id']);
    for (const v of ['held1', 'held2']) ids[v] = versionOf(await put(bucket, 'held', v));
    ids.cur = versionOf(await put(bucket, 'cur/x', 'c'));
    // Object lock as the database keeps it: a legal hold on a noncurrent version.
    await db`update storage.object_versions set legal_hold = true where bucket_id = ${bucket} and version = ${ids.held1}`;
    await ok(
      putLifecycle(
        bucket,
        config(
          '<ID>doc</ID><Filter><Prefix>doc</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
          '<ID>gone</ID><Filter><Prefix>gone</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>',
          '<ID>held</ID><Filter><Prefix>held</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>',
          '<ID>markers</ID><Filter></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>',
          '<ID>cur</ID><Filter><Prefix>cur/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>',
        ),
      ),
    );
  });

  it('expires noncurrent versions beyond NewerNoncurrentVersions, the delete marker left alone, and current versions under a new marker; a held version stays', async () => {
    // x-amz-expiration is the current version's: cur/x has it, a past version read by id none.
    assert.match(String((await ok(s3.send({ method: 'HEAD', path: `/${bucket}/cur/x` }))).headers['x-amz-expiration']), /rule-id="cur"/);
    const early = await runPass(bucket, new Date());
    assert.deepEqual([early.noncurrentExpired, early.deleteMarkersRemoved, early.expired], [0, 0, 0]);
    const before = await versions();
    assert.equal(before.length, 9, before.join(' '));

    const report = await runPass(bucket, new Date(Date.now() + 3 * DAY));
    assert.equal(report.noncurrentExpired, 3, JSON.stringify(report));
    assert.equal(report.deleteMarkersRemoved, 1);
    assert.equal(report.expired, 1);
    assert.equal(report.locked, 1);
    assert.deepEqual(report.lockedVersions, [{ bucket, key: 'held', versionId: ids.held1 }]);
    assert.deepEqual(report.errors, []);

    const after = await versions();
    const curMarker = after.find((v) => v.startsWith('cur/x:marker:'));
    assert.ok(curMarker, after.join(' '));
    assert.deepEqual(after, [
      curMarker,
      `cur/x:${ids.cur}`,
      `doc:${ids.doc4}`,
      `doc:${ids.doc3}`,
      `held:${ids.held2}`,
      `held:${ids.held1}`,
    ]);
    const past = await ok(s3.send({ method: 'HEAD', path: `/${bucket}/cur/x`, query: { versionId: ids.cur } }));
    assert.equal(past.headers['x-amz-expiration'], undefined);
    // The expired current version reads as deleted, with the marker's headers.
    const gone = await s3.send({ method: 'GET', path: `/${bucket}/cur/x` });
    assert.equal(gone.status, 404);
    assert.equal(gone.headers['x-amz-delete-marker'], 'true');
    // Versions and markers removed by lifecycle are events that say so.
    // (The client's own DELETE of 'gone' before the pass has no cause.)
    const events = await db<{ key: string }[]>`
      select key from storage.events
      where bucket = ${bucket} and type = 'storage.object.deleted' and payload->>'cause' = 'lifecycle' order by key`;
    assert.deepEqual(events.map((e) => e.key), ['cur/x', 'doc', 'doc', 'gone', 'gone']);
  });

  it('a second pass as of the same time finds nothing more to do but the held version', async () => {
    const report = await runPass(bucket, new Date(Date.now() + 3 * DAY));
    assert.deepEqual([report.noncurrentExpired, report.deleteMarkersRemoved, report.expired, report.locked], [0, 0, 0, 1]);
  });
});

describe('the scheduled pass', () => {
  let own: TestServer;
  let client: S3RawClient;
  before(async () => {
    // A pass every 0.3 s, acting as of three days from now.
    own = await startTestServer({
      env: { AEROSTORE_LIFECYCLE_INTERVAL_MINUTES: '0.005', AEROSTORE_LIFECYCLE_NOW: new Date(Date.now() + 3 * DAY).toISOString() },
    });
    client = new S3RawClient(own.url, own);
  });
  after(async () => {
    await own?.stop();
  });

  it('runs in the server on its own, as of AEROSTORE_LIFECYCLE_NOW, and says so in the log', async () => {
    await ok(client.send({ method: 'PUT', path: '/lc-scheduled' }));
    for (const key of ['tmp/a', 'tmp/b', 'keep/a']) await ok(client.send({ method: 'PUT', path: `/lc-scheduled/${key}`, body: key }));
    await ok(putLifecycle('lc-scheduled', config('<ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), client));
    const deadline = Date.now() + 10_000;
    while ((await client.send({ method: 'HEAD', path: '/lc-scheduled/tmp/b' })).status !== 404) {
      assert.ok(Date.now() < deadline, 'tmp/b expired within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await client.send({ method: 'HEAD', path: '/lc-scheduled/tmp/a' })).status, 404);
    assert.equal((await client.send({ method: 'HEAD', path: '/lc-scheduled/keep/a' })).status, 200);
    assert.match(own.log(), /AEROSTORE_LIFECYCLE_NOW is set/);
  });
});
