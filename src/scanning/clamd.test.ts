import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Clamd, ScanFailure, TOO_LARGE, verdictOf } from './clamd.ts';

describe('verdictOf (clamd INSTREAM replies)', () => {
  it('reads OK, FOUND and several FOUND lines (AllMatchScan)', () => {
    assert.deepEqual(verdictOf('stream: OK\0'), { status: 'clean' });
    assert.deepEqual(verdictOf('stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0'), { status: 'infected', signature: 'Eicar-Test-Signature.UNOFFICIAL' });
    assert.deepEqual(verdictOf('stream: A FOUND\0stream: B FOUND\0'), { status: 'infected', signature: 'A, B' });
  });

  it('calls content beyond clamd\'s limits unscanned, never clean', () => {
    assert.deepEqual(verdictOf('stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\0'), TOO_LARGE);
    assert.deepEqual(verdictOf('INSTREAM size limit exceeded. ERROR\0'), TOO_LARGE);
    // A real signature beside a limit still counts.
    assert.deepEqual(verdictOf('stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND\0stream: X FOUND\0'), { status: 'infected', signature: 'X' });
  });

  it('anything else is no verdict: an error, nothing, OK beside something else', () => {
    for (const reply of ['', '\0', 'stream: Can\'t allocate memory ERROR\0', 'UNKNOWN COMMAND\0', 'stream: OK\0stream: X FOUND\0', 'stream: OK trailing\0']) {
      assert.throws(() => verdictOf(reply), ScanFailure, JSON.stringify(reply));
    }
  });
});

describe('Clamd.scan', () => {
  it('reads the body only as fast as clamd takes it', async () => {
    // clamd itself cannot be slowed down on purpose: this peer speaks just
    // enough INSTREAM (reads at 24 MiB/s, answers OK after the zero frame).
    const MiB = 1024 * 1024;
    let received = 0;
    const server = net.createServer((s) => {
      let tail = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        received += d.length;
        tail = Buffer.concat([tail, d]).subarray(-4);
        s.pause();
        setTimeout(() => s.resume(), (d.length / (24 * MiB)) * 1000);
        if (tail.equals(Buffer.alloc(4))) s.end('stream: OK\0');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    let read = 0;
    let ahead = 0;
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 24 * 16; i++) {
          read += 64 * 1024;
          ahead = Math.max(ahead, read - received);
          yield Buffer.alloc(64 * 1024, (i % 255) + 1); // never zero: four zero bytes end the stream
        }
      })(),
    );
    try {
      const verdict = await new Clamd({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }).scan(body);
      assert.deepEqual(verdict, { status: 'clean' });
      // Loopback socket buffers hold a few MiB; without backpressure the whole 24 MiB is read at once.
      assert.ok(ahead < 12 * MiB, `read ${(ahead / MiB).toFixed(1)} MiB ahead of clamd`);
    } finally {
      server.close();
    }
  });

  it('gives no verdict when clamd is not there, or goes away mid-stream', async () => {
    const server = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await assert.rejects(new Clamd({ host: '127.0.0.1', port }).scan(Readable.from([Buffer.alloc(1 << 20)])), ScanFailure);
    } finally {
      server.close();
    }
    await assert.rejects(new Clamd({ host: '127.0.0.1', port }).scan(Readable.from([Buffer.from('x')])), ScanFailure);
  });
});
