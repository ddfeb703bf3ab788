// ListBuckets as the 2024 API pages it, and the bucket configurations this
// server does not implement, read as S3 answers a bucket that has none
// (issue 16.4, 16.6).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { errorCode, xmlValue, xmlValues } from './support/s3-xml.ts';
import { createAccessKey, credentialsOf } from './support/principals.ts';

let server: TestServer;
let s3: S3RawClient;

before(async () => {
  server = await startTestServer();
  s3 = new S3RawClient(server.url, server);
});
after(async () => {
  if (process.env.AEROSTORE_TEST_LOG) console.error(server?.log());
  await server?.stop();
});

async function createBucket(name: string, client = s3) {
  const res = await client.send({ method: 'PUT', path: `/${name}` });
  assert.equal(res.status, 200, res.body.toString());
}

const listBuckets = (query: Record<string, string> = {}, client = s3) => client.send({ method: 'GET', path: '/', query });

/** What an InvalidArgument names: its message, ArgumentName and ArgumentValue. */
const argumentError = (body: Buffer) => {
  const xml = body.toString();
  return [errorCode(xml), xmlValue(xml, 'Message'), xmlValue(xml, 'ArgumentName'), xmlValue(xml, 'ArgumentValue')];
};

describe('ListBuckets (issue 16.4)', () => {
  const names = ['pg-a1', 'pg-a2', 'pg-a3', 'pg-b1', 'pg-b2'];
  before(async () => {
    for (const name of names) await createBucket(name);
  });

  /** Every page of a listing with `query`, following ContinuationToken. */
  async function pages(query: Record<string, string>, client = s3): Promise<string[][]> {
    const out: string[][] = [];
    let token: string | undefined;
    for (let i = 0; i < 20; i++) {
      const res = await listBuckets({ ...query, ...(token ? { 'continuation-token': token } : {}) }, client);
      assert.equal(res.status, 200, res.body.toString());
      const xml = res.body.toString();
      out.push(xmlValues(xml, 'Name'));
      token = xmlValue(xml, 'ContinuationToken');
      if (!token) return out;
    }
    assert.fail('the listing did not end');
  }

  it('without parameters lists every bucket, with no ContinuationToken nor Prefix', async () => {
    const res = await listBuckets();
    const xml = res.body.toString();
    assert.match(xml, /^<\?xml[^>]*>\s*<ListAllMyBucketsResult xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><Owner>/);
    assert.deepEqual(xmlValues(xml, 'Name'), names);
    assert.deepEqual(xmlValues(xml, 'BucketRegion'), names.map(() => 'us-east-1'));
    assert.equal(xmlValue(xml, 'ContinuationToken'), undefined);
    assert.doesNotMatch(xml, /<Prefix>/);
  });

  it('pages by max-buckets with continuation tokens, with prefix and bucket-region', async () => {
    assert.deepEqual(await pages({ 'max-buckets': '2' }), [['pg-a1', 'pg-a2'], ['pg-a3', 'pg-b1'], ['pg-b2']]);
    assert.deepEqual(await pages({ 'max-buckets': '1', prefix: 'pg-b' }), [['pg-b1'], ['pg-b2']]);
    assert.deepEqual(await pages({ 'max-buckets': '5' }), [names], 'a page that holds the rest has no token');
    assert.deepEqual(await pages({ prefix: 'pg-a', 'bucket-region': 'US-EAST-1' }), [['pg-a1', 'pg-a2', 'pg-a3']]);
    assert.deepEqual(await pages({ prefix: 'nothing' }), [[]]);

    // The answer's shape: the buckets, the prefix as sent (an empty one too), the token.
    const first = (await listBuckets({ 'max-buckets': '1', prefix: 'pg-' })).body.toString();
    assert.match(first, /<\/Buckets><Prefix>pg-<\/Prefix><ContinuationToken>[A-Za-z0-9_-]+<\/ContinuationToken><\/ListAllMyBucketsResult>$/);
    assert.match((await listBuckets({ prefix: '' })).body.toString(), /<\/Buckets><Prefix><\/Prefix><\/ListAllMyBucketsResult>$/);
    // An empty token is no token: the first page.
    assert.deepEqual(xmlValues((await listBuckets({ 'max-buckets': '1', 'continuation-token': '' })).body.toString(), 'Name'), ['pg-a1']);
    // A token names where the previous page ended, whatever was created since.
    const token = xmlValue((await listBuckets({ 'max-buckets': '1' })).body.toString(), 'ContinuationToken') as string;
    await createBucket('pg-a0');
    assert.deepEqual(xmlValues((await listBuckets({ 'max-buckets': '1', 'continuation-token': token })).body.toString(), 'Name'), ['pg-a2']);
    assert.equal((await s3.send({ method: 'DELETE', path: '/pg-a0' })).status, 204);
  });

  it('lists only the buckets the principal may see, page by page', async () => {
    const user = randomUUID();
    const client = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, user)));
    await createBucket('pg-own-1', client);
    await createBucket('pg-own-2', client);
    assert.deepEqual(await pages({ 'max-buckets': '1' }, client), [['pg-own-1'], ['pg-own-2']]);
    const xml = (await listBuckets({}, client)).body.toString();
    assert.equal(xmlValue(xml, 'ID'), user);
  });

  it('refuses bad parameters as S3 does', async () => {
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ 'max-buckets': '0' }, ['InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', 'max-buckets', '0']],
      [{ 'max-buckets': '10001' }, ['InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', 'max-buckets', '10001']],
      [{ 'max-buckets': '-1' }, ['InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', 'max-buckets', '-1']],
      [{ 'max-buckets': 'ten' }, ['InvalidArgument', 'Provided max-buckets not an integer or within integer range', 'max-buckets', 'ten']],
      [{ 'max-buckets': '99999999999' }, ['InvalidArgument', 'Provided max-buckets not an integer or within integer range', 'max-buckets', '99999999999']],
      [{ 'continuation-token': 'garbage!' }, ['InvalidArgument', 'The continuation token provided is incorrect', 'continuation-token', undefined] as string[]],
      [{ 'continuation-token': 'djE6YQ' }, ['InvalidArgument', 'The continuation token provided is incorrect', 'continuation-token', undefined] as string[]],
      [{ 'bucket-region': 'eu-west-1' }, ['InvalidArgument', 'Requests with bucket-region specified must be made to the corresponding regional endpoint', 'bucket-region', undefined] as string[]],
      [{ 'bucket-region': 'mars' }, ['InvalidArgument', 'Argument value mars is not a valid AWS Region', 'bucket-region', undefined] as string[]],
    ];
    for (const [query, want] of cases) {
      const res = await listBuckets(query);
      assert.equal(res.status, 400, `${JSON.stringify(query)}: ${res.body}`);
      assert.deepEqual(argumentError(res.body), want, JSON.stringify(query));
    }
    // Anonymous: refused (S3 has no anonymous ListBuckets).
    const anonymous = await fetch(new URL('/?max-buckets=1', server.url));
    assert.equal(anonymous.status, 403);
    assert.equal(errorCode(await anonymous.text()), 'AccessDenied');
  });
});

describe('configurations this server does not implement (issue 16.6)', () => {
  before(() => createBucket('configs'));
  const get = (sub: string, bucket = 'configs', client = s3) => client.send({ method: 'GET', path: `/${bucket}`, query: { [sub]: '' } });

  it('GET answers as S3 answers a bucket without one: 404 naming what is missing, or the empty document', async () => {
    const missing: Array<[string, string, string]> = [
      ['lifecycle', 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist'],
      ['policy', 'NoSuchBucketPolicy', 'The bucket policy does not exist'],
      ['policyStatus', 'NoSuchBucketPolicy', 'The bucket policy does not exist'],
      ['publicAccessBlock', 'NoSuchPublicAccessBlockConfiguration', 'The public access block configuration was not found'],
      ['encryption', 'ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found'],
      ['object-lock', 'ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket'],
      ['website', 'NoSuchWebsiteConfiguration', 'The specified bucket does not have a website configuration'],
      ['replication', 'ReplicationConfigurationNotFoundError', 'The replication configuration was not found'],
      ['tagging', 'NoSuchTagSet', 'The TagSet does not exist'],
      ['cors', 'NoSuchCORSConfiguration', 'The CORS configuration does not exist'],
    ];
    for (const [sub, code, message] of missing) {
      const res = await get(sub);
      assert.equal(res.status, 404, `${sub}: ${res.body}`);
      const xml = res.body.toString();
      assert.equal(errorCode(xml), code, sub);
      assert.equal(xmlValue(xml, 'Message'), message, sub);
      assert.equal(xmlValue(xml, 'BucketName'), 'configs', sub);
    }
    const documents: Array<[string, RegExp]> = [
      ['notification', /<NotificationConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><\/NotificationConfiguration>$/],
      ['logging', /<BucketLoggingStatus xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><\/BucketLoggingStatus>$/],
      ['accelerate', /<AccelerateConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><\/AccelerateConfiguration>$/],
      ['requestPayment', /<RequestPaymentConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><Payer>BucketOwner<\/Payer><\/RequestPaymentConfiguration>$/],
    ];
    for (const [sub, document] of documents) {
      const res = await get(sub);
      assert.equal(res.status, 200, `${sub}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/xml');
      assert.match(res.body.toString(), document, sub);
    }
  });

  it('each is the bucket owner’s to read: NoSuchBucket, then AccessDenied for anyone else', async () => {
    const stranger = new S3RawClient(server.url, credentialsOf(await createAccessKey(s3, randomUUID())));
    for (const sub of ['lifecycle', 'policy', 'policyStatus', 'publicAccessBlock', 'encryption', 'object-lock', 'notification', 'website', 'replication']) {
      const gone = await get(sub, 'no-such-bucket');
      assert.equal(gone.status, 404, sub);
      assert.equal(errorCode(gone.body), 'NoSuchBucket', sub);
      const denied = await get(sub, 'configs', stranger);
      assert.equal(denied.status, 403, sub);
      assert.equal(errorCode(denied.body), 'AccessDenied', sub);
    }
  });

  it('writing one is NotImplemented, and so is any sub-resource or foreign API the server does not know', async () => {
    const refused: Array<[string, string, Record<string, string>]> = [
      ['PUT', '/configs', { encryption: '' }],
      ['PUT', '/configs', { notification: '' }],
      ['PUT', '/configs', { website: '' }],
      ['PUT', '/configs', { replication: '' }],
      // MinIO's bucket notification listener, and torrents: never a listing.
      ['GET', '/configs', { events: 's3:ObjectCreated:*' }],
      ['GET', '/', { events: 's3:ObjectCreated:*' }],
      ['GET', '/configs', { torrent: '' }],
      ['GET', '/configs/key', { torrent: '' }],
    ];
    for (const [method, path, query] of refused) {
      const res = await s3.send({ method, path, query, body: method === 'PUT' ? '<x/>' : undefined });
      assert.equal(res.status, 501, `${method} ${path}?${Object.keys(query)}: ${res.body}`);
      assert.equal(errorCode(res.body), 'NotImplemented');
    }
    // The listing itself is untouched.
    assert.equal((await s3.send({ method: 'GET', path: '/configs', query: { 'x-id': 'ListObjects' } })).status, 200);
  });
});
