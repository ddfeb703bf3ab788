import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Error } from './errors.ts';
import { routeS3 } from './router.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof S3Error, String(err));
    return err.code;
  }
  assert.fail('expected an S3Error');
}

describe('routeS3', () => {
  it('routes service, bucket and object endpoints', () => {
    assert.equal(routeS3('GET', '/').endpoint, 'ListBuckets');
    assert.equal(routeS3('PUT', '/b1').endpoint, 'CreateBucket');
    assert.equal(routeS3('PUT', '/b1/').endpoint, 'CreateBucket');
    assert.equal(routeS3('GET', '/b1?location').endpoint, 'GetBucketLocation');
    assert.equal(routeS3('GET', '/b1?list-type=2&prefix=a').endpoint, 'ListObjectsV2');
    assert.equal(routeS3('GET', '/b1?prefix=a').endpoint, 'ListObjects');
    assert.equal(routeS3('HEAD', '/b1/k').endpoint, 'HeadObject');
    assert.equal(routeS3('DELETE', '/b1/k').endpoint, 'DeleteObject');
  });

  it('keeps the key verbatim: slashes, dots and encoded characters', () => {
    assert.equal(routeS3('GET', '/b1/a//b/./c/../d').key, 'a//b/./c/../d');
    assert.equal(routeS3('GET', '/b1/with%20space%2Bplus%3D~').key, 'with space+plus=~');
    assert.equal(routeS3('GET', '/b1/a+b').key, 'a+b', "'+' in a path is a plus, not a space");
    assert.equal(routeS3('GET', '/b1/%E2%9C%93/%25').key, '\u2713/%');
    assert.equal(routeS3('GET', '/b1/dir/').key, 'dir/');
  });

  it('decodes query parameters', () => {
    const r = routeS3('GET', '/b1?list-type=2&prefix=a%2Fb%20c&delimiter=%2F');
    assert.equal(r.query.get('prefix'), 'a/b c');
    assert.equal(r.query.get('delimiter'), '/');
  });

  it('refuses sub-resources it does not implement instead of misrouting them', () => {
    assert.equal(code(() => routeS3('PUT', '/b1/k?acl')), 'NotImplemented');
    assert.equal(code(() => routeS3('PUT', '/b1?location')), 'NotImplemented');
    assert.equal(code(() => routeS3('POST', '/b1?delete')), 'NotImplemented');
    assert.equal(code(() => routeS3('GET', '/b1/k?uploadId=1')), 'NotImplemented');
  });

  it('answers MethodNotAllowed for methods no route takes', () => {
    assert.equal(code(() => routeS3('POST', '/b1/k')), 'MethodNotAllowed');
    assert.equal(code(() => routeS3('DELETE', '/')), 'MethodNotAllowed');
  });

  it('rejects malformed percent-encoding', () => {
    assert.equal(code(() => routeS3('GET', '/b1/%E2%9C')), 'InvalidURI');
    assert.equal(code(() => routeS3('GET', '/b1/%zz')), 'InvalidURI');
  });
});

describe('virtual-hosted-style addressing', () => {
  it('takes the bucket from a Host under the configured domain', async () => {
    const { bucketFromHost } = await import('./router.ts');
    assert.equal(bucketFromHost('photos.s3.example.com', 's3.example.com'), 'photos');
    assert.equal(bucketFromHost('My.Bucket.S3.example.com:9000', 's3.example.com'), 'my.bucket');
    assert.equal(bucketFromHost('s3.example.com:9000', 's3.example.com'), undefined);
    assert.equal(bucketFromHost('127.0.0.1:9000', 's3.example.com'), undefined);
    assert.equal(bucketFromHost('photos.s3.example.com', undefined), undefined);
    assert.equal(bucketFromHost('evil-s3.example.com', 's3.example.com'), undefined);
  });

  it('routes the whole path as the key when the Host names the bucket', () => {
    assert.deepEqual(
      { ...routeS3('GET', '/dir/a%20b//c', 'photos'), query: undefined },
      { endpoint: 'GetObject', bucket: 'photos', key: 'dir/a b//c', query: undefined },
    );
    assert.equal(routeS3('GET', '/?list-type=2', 'photos').endpoint, 'ListObjectsV2');
    assert.equal(routeS3('PUT', '/', 'photos').endpoint, 'CreateBucket');
  });
});
