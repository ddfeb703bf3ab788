import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asS3Error } from '../s3/errors.ts';
import { parseRange } from './read.ts';

describe('parseRange', () => {
  it('parses the three forms of a single byte range', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
    assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  });

  it('clamps the end and a long suffix to the object', () => {
    assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 });
    assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  });

  it('ignores headers it cannot honour, as S3 does', () => {
    assert.equal(parseRange(undefined, 10), undefined);
    assert.equal(parseRange('bytes=0-1,5-6', 10), undefined);
    assert.equal(parseRange('items=0-1', 10), undefined);
    assert.equal(parseRange('bytes=5-2', 10), undefined);
    assert.equal(parseRange('bytes=-', 10), undefined);
  });

  it('ignores any range on an empty object, which is sent whole (a suffix range once made "bytes 0--1/0")', () => {
    for (const header of ['bytes=-5', 'bytes=0-', 'bytes=0-0', 'bytes=3-', 'bytes=-0']) assert.equal(parseRange(header, 0), undefined, header);
  });

  it('answers InvalidRange for a range starting past the end', () => {
    assert.throws(() => parseRange('bytes=1000-', 1000), (e: unknown) => asS3Error(e)?.code === 'InvalidRange' && asS3Error(e)?.status === 416);
    assert.throws(() => parseRange('bytes=-0', 1000), (e: unknown) => asS3Error(e)?.code === 'InvalidRange');
  });
});
