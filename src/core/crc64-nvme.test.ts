import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { Crc64Nvme } from './crc64-nvme.ts';

const ours = (...pieces: Uint8Array[]) => {
  const c = new Crc64Nvme();
  for (const p of pieces) c.update(p);
  return c.digest().toString('hex');
};
const sdk = async (data: Uint8Array) => {
  const c = new Crc64NvmeJs();
  c.update(data);
  return Buffer.from(await c.digest()).toString('hex');
};

describe('CRC64NVME (own WebAssembly, two lanes)', () => {
  test('the catalogue check value, and nothing', () => {
    assert.equal(ours(Buffer.from('123456789')), 'ae8b14860a799888');
    assert.equal(ours(), '0000000000000000');
  });

  test('agrees with the AWS SDK across every path: bytes, 8-byte steps, 16 KiB two-lane blocks, the 64 KiB window', async () => {
    for (const size of [1, 7, 8, 9, 15, 16, 16_383, 16_384, 16_385, 32_768, 65_535, 65_536, 65_537, 200_003, 1_048_576 + 13]) {
      const data = randomBytes(size);
      assert.equal(ours(data), await sdk(data), `size ${size}`);
    }
  });

  test('any split of the input gives the one-shot value; unaligned views too', async () => {
    const data = randomBytes(150_001);
    const whole = await sdk(data);
    for (const cuts of [[1], [3, 16_384], [8191, 8192, 8193], [65_536, 65_537, 131_072], [100, 20_000, 40_000, 149_999]]) {
      const pieces = [0, ...cuts, data.length].slice(1).map((end, i, ends) => data.subarray(i === 0 ? 0 : ends[i - 1], end));
      assert.equal(ours(data.subarray(0, cuts[0]), ...pieces.slice(1)), whole, `cuts ${cuts.join(',')}`);
    }
    const shifted = Buffer.concat([Buffer.alloc(3), data]).subarray(3);
    assert.equal(ours(shifted), whole);
  });

  test('interleaved streams keep their own state (one shared instance)', () => {
    const a = randomBytes(70_000);
    const b = randomBytes(90_000);
    const ca = new Crc64Nvme();
    const cb = new Crc64Nvme();
    for (let i = 0; i < 10; i++) {
      ca.update(a.subarray(i * 7000, (i + 1) * 7000));
      cb.update(b.subarray(i * 9000, (i + 1) * 9000));
    }
    assert.equal(ca.digest().toString('hex'), ours(a));
    assert.equal(cb.digest().toString('hex'), ours(b));
  });
});
