import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketNameProblem } from './buckets.ts';

describe('bucketNameProblem', () => {
  it('accepts valid names', () => {
    for (const name of ['abc', 'my-bucket.2024', 'a'.repeat(63), '1bucket', 'a.b-c']) {
      assert.equal(bucketNameProblem(name), undefined, name);
    }
  });

  it('rejects names outside the rules, each with a reason', () => {
    for (const name of ['ab', 'a'.repeat(64), 'MyBucket', 'under_score', '-start', 'end-', 'a..b', '192.168.5.4',
      'xn--abc', 'sthree-x', 'foo-s3alias', 'foo--ol-s3', 'has space', 'ünicode']) {
      assert.ok(bucketNameProblem(name), name);
    }
  });

  it('rejects the names the service keeps for its own APIs, saying so', () => {
    for (const name of ['admin', 'storage', 'health', 'console', 'metrics']) {
      assert.match(bucketNameProblem(name) ?? '', /reserved/, name);
    }
    for (const name of ['admins', 'my-admin', 'storage1', 'health.check']) assert.equal(bucketNameProblem(name), undefined, name);
  });
});
