import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConsoleNavigation } from './console.ts';

describe('isConsoleNavigation', () => {
  const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

  it('is a browser opening the service root', () => {
    assert.equal(isConsoleNavigation('GET', '/', browser), true);
    assert.equal(isConsoleNavigation('GET', '/', { 'sec-fetch-mode': 'navigate' }), true);
    assert.equal(isConsoleNavigation('GET', '/', { accept: 'text/html' }), true, 'curl -H "Accept: text/html", an older browser');
  });

  it('is never an S3 client listing buckets, or anything else', () => {
    assert.equal(isConsoleNavigation('GET', '/', { ...browser, authorization: 'AWS4-HMAC-SHA256 Credential=...' }), false, 'signed: ListBuckets');
    assert.equal(isConsoleNavigation('GET', '/?X-Amz-Signature=00', browser), false, 'a query: presigned ListBuckets');
    assert.equal(isConsoleNavigation('GET', '/', {}), false, 'no Accept: an S3 client');
    assert.equal(isConsoleNavigation('GET', '/', { accept: '*/*' }), false);
    assert.equal(isConsoleNavigation('GET', '/', { accept: 'application/xml' }), false);
    assert.equal(isConsoleNavigation('HEAD', '/', browser), false);
    assert.equal(isConsoleNavigation('POST', '/', browser), false, 'STS or a form POST');
    assert.equal(isConsoleNavigation('GET', '/bucket', browser), false, 'a bucket opened in a browser stays S3');
  });
});
