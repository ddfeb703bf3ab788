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
    assert.equal(routeS3('POST', '/b1?delete').endpoint, 'DeleteObjects');
    assert.equal(routeS3('POST', '/b1').endpoint, 'PostObject');
    assert.equal(routeS3('PUT', '/b1/k', undefined, { 'x-amz-copy-source': '/b0/k' }).endpoint, 'CopyObject');
    assert.equal(routeS3('PUT', '/b1/k', undefined, {}).endpoint, 'PutObject');
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
    assert.equal(code(() => routeS3('POST', '/b1/k?legal-hold')), 'NotImplemented');
    assert.equal(code(() => routeS3('PUT', '/b1?location')), 'NotImplemented');
    assert.equal(code(() => routeS3('POST', '/b1/k?restore')), 'NotImplemented');
    assert.equal(code(() => routeS3('GET', '/b1/k?torrent')), 'NotImplemented');
    assert.equal(code(() => routeS3('GET', '/b1?torrent')), 'NotImplemented');
    // Writing a configuration this server only reads as "none".
    for (const sub of ['encryption', 'notification', 'website', 'replication', 'logging']) {
      assert.equal(code(() => routeS3('PUT', `/b1?${sub}`)), 'NotImplemented', sub);
      assert.equal(code(() => routeS3('DELETE', `/b1?${sub}`)), 'NotImplemented', sub);
    }
  });

  it('never answers another server’s API or an unknown sub-resource as a listing', () => {
    // MinIO's bucket notification listener: GET /bucket?events=..., and at the service root.
    assert.equal(code(() => routeS3('GET', '/b1?events=s3:ObjectCreated:*&prefix=a')), 'NotImplemented');
    assert.equal(code(() => routeS3('GET', '/?events=s3:ObjectCreated:*')), 'NotImplemented');
    for (const sub of ['analytics', 'inventory', 'metrics', 'intelligent-tiering', 'metadataTable']) {
      assert.equal(code(() => routeS3('GET', `/b1?${sub}`)), 'NotImplemented', sub);
    }
    // What S3 itself ignores stays ignored: x-id (the AWS SDK for JavaScript), unknown names.
    assert.equal(routeS3('GET', '/b1?x-id=ListObjects&foo=bar').endpoint, 'ListObjects');
  });

  it('routes bucket policies and Block Public Access (issue 17 §5, §6)', () => {
    assert.equal(routeS3('GET', '/b1?policy').endpoint, 'GetBucketPolicy');
    assert.equal(routeS3('PUT', '/b1?policy').endpoint, 'PutBucketPolicy');
    assert.equal(routeS3('DELETE', '/b1?policy').endpoint, 'DeleteBucketPolicy');
    assert.equal(routeS3('GET', '/b1?policyStatus').endpoint, 'GetBucketPolicyStatus');
    assert.equal(routeS3('GET', '/b1?publicAccessBlock').endpoint, 'GetPublicAccessBlock');
    assert.equal(routeS3('PUT', '/b1?publicAccessBlock').endpoint, 'PutPublicAccessBlock');
    assert.equal(routeS3('DELETE', '/b1?publicAccessBlock').endpoint, 'DeletePublicAccessBlock');
    assert.equal(code(() => routeS3('PUT', '/b1/k?policy')), 'NotImplemented');
  });

  it('routes Object Ownership controls', () => {
    assert.equal(routeS3('GET', '/b1?ownershipControls').endpoint, 'GetBucketOwnershipControls');
    assert.equal(routeS3('PUT', '/b1?ownershipControls').endpoint, 'PutBucketOwnershipControls');
    assert.equal(routeS3('DELETE', '/b1?ownershipControls').endpoint, 'DeleteBucketOwnershipControls');
    assert.equal(code(() => routeS3('GET', '/b1/k?ownershipControls')), 'NotImplemented');
  });

  it('routes bucket tagging and the configurations read as "none"', () => {
    assert.equal(routeS3('GET', '/b1?tagging').endpoint, 'GetBucketTagging');
    assert.equal(routeS3('PUT', '/b1?tagging').endpoint, 'PutBucketTagging');
    assert.equal(routeS3('DELETE', '/b1?tagging').endpoint, 'DeleteBucketTagging');
    assert.equal(routeS3('GET', '/b1/k?tagging').endpoint, 'GetObjectTagging');
    assert.equal(routeS3('GET', '/b1?lifecycle').endpoint, 'GetBucketLifecycleConfiguration');
    assert.equal(routeS3('PUT', '/b1?lifecycle').endpoint, 'PutBucketLifecycleConfiguration');
    assert.equal(routeS3('DELETE', '/b1?lifecycle').endpoint, 'DeleteBucketLifecycle');
    assert.equal(routeS3('GET', '/b1?policy').endpoint, 'GetBucketPolicy');
    assert.equal(routeS3('GET', '/b1?encryption').endpoint, 'GetBucketEncryption');
    assert.equal(routeS3('GET', '/b1?object-lock').endpoint, 'GetObjectLockConfiguration');
    assert.equal(routeS3('GET', '/b1?notification').endpoint, 'GetBucketNotificationConfiguration');
    assert.equal(routeS3('GET', '/b1?website').endpoint, 'GetBucketWebsite');
    assert.equal(routeS3('GET', '/b1?replication').endpoint, 'GetBucketReplication');
    assert.equal(code(() => routeS3('GET', '/b1/k?lifecycle')), 'NotImplemented');
  });

  it('passes versionId to the operations that take one, and elsewhere accepts only null', () => {
    const r = routeS3('GET', '/b1/k?versionId=3HL4kqtJlcpXroDTDmJ');
    assert.equal(r.endpoint, 'GetObject');
    assert.equal(r.query.get('versionId'), '3HL4kqtJlcpXroDTDmJ');
    assert.equal(routeS3('DELETE', '/b1/k?versionId=null').endpoint, 'DeleteObject');
    assert.equal(routeS3('GET', '/b1/k?retention&versionId=v').endpoint, 'GetObjectRetention');
    // PutObject has no version to name: 'null' is dropped as before, another id refused.
    assert.equal(routeS3('PUT', '/b1/k?versionId=null').query.has('versionId'), false);
    assert.equal(code(() => routeS3('PUT', '/b1/k?versionId=3HL4kqtJlcpXroDTDmJ')), 'InvalidArgument');
    assert.equal(routeS3('GET', '/b1?versions&prefix=a').endpoint, 'ListObjectVersions');
  });

  it('answers MethodNotAllowed for methods no route takes', () => {
    assert.equal(code(() => routeS3('POST', '/b1/k')), 'MethodNotAllowed');
    assert.equal(code(() => routeS3('DELETE', '/')), 'MethodNotAllowed');
  });

  it('rejects malformed percent-encoding', () => {
    assert.equal(code(() => routeS3('GET', '/b1/%E2%9C')), 'InvalidURI');
    assert.equal(code(() => routeS3('GET', '/b1/%zz')), 'InvalidURI');
    // A raw '#' is no part of a request target, and no signature covers what follows it.
    assert.equal(code(() => routeS3('GET', '/b1/a#x')), 'InvalidURI');
    assert.equal(code(() => routeS3('PUT', '/b1/a?x-id=PutObject#y')), 'InvalidURI');
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

describe('multipart routes', () => {
  it('selects each multipart operation by its query parameters', () => {
    assert.equal(routeS3('POST', '/b1/k?uploads').endpoint, 'CreateMultipartUpload');
    assert.equal(routeS3('PUT', '/b1/k?partNumber=2&uploadId=u').endpoint, 'UploadPart');
    assert.equal(routeS3('PUT', '/b1/k?uploadId=u&partNumber=2').endpoint, 'UploadPart');
    const copySource = { 'x-amz-copy-source': '/b0/src' };
    assert.equal(routeS3('PUT', '/b1/k?partNumber=2&uploadId=u', undefined, copySource).endpoint, 'UploadPartCopy');
    assert.equal(routeS3('POST', '/b1/k?uploadId=u').endpoint, 'CompleteMultipartUpload');
    assert.equal(routeS3('DELETE', '/b1/k?uploadId=u').endpoint, 'AbortMultipartUpload');
    assert.equal(routeS3('GET', '/b1/k?uploadId=u&max-parts=2').endpoint, 'ListParts');
    assert.equal(routeS3('GET', '/b1?uploads&prefix=a').endpoint, 'ListMultipartUploads');
    assert.equal(routeS3('GET', '/b1/k?partNumber=1').endpoint, 'GetObject');
    assert.equal(routeS3('HEAD', '/b1/k?partNumber=1').endpoint, 'HeadObject');
  });

  it('refuses half of UploadPart rather than storing a whole object', () => {
    assert.equal(code(() => routeS3('PUT', '/b1/k?uploadId=u')), 'NotImplemented');
    assert.equal(code(() => routeS3('PUT', '/b1/k?partNumber=1')), 'NotImplemented');
    assert.equal(code(() => routeS3('DELETE', '/b1/k?partNumber=1')), 'NotImplemented');
  });
});
