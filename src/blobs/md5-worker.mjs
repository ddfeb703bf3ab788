// Worker thread that computes MD5 digests for large uploads, so that the
// main thread hashes only SHA-256 (see md5-offload.ts). Plain JavaScript:
// it must load without the TypeScript loader.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const sessions = new Map();

parentPort.on('message', (m) => {
  if (m.type === 'data') {
    let hash = sessions.get(m.id);
    if (!hash) sessions.set(m.id, (hash = createHash('md5')));
    hash.update(m.chunk);
    parentPort.postMessage({ type: 'ack', id: m.id, bytes: m.chunk.byteLength });
  } else if (m.type === 'end') {
    const hash = sessions.get(m.id) ?? createHash('md5');
    sessions.delete(m.id);
    const digest = hash.digest();
    parentPort.postMessage({ type: 'digest', id: m.id, digest }, [digest.buffer]);
  } else if (m.type === 'abort') {
    sessions.delete(m.id);
  }
});
