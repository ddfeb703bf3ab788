// The benchmark's yardstick: the least a durable file server must do. PUT
// streams the body into a temp file, fsyncs it and renames it into place
// (keyed by the URL path); GET streams the file back. No auth, no metadata,
// no database: it ignores the signature headers the bench client sends.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import { mkdtemp, open, rename, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = await mkdtemp(path.join(os.tmpdir(), 'aerostore-baseline-'));
const fileOf = (url = '/') => path.join(dir, createHash('sha1').update(url.split('?')[0]).digest('hex'));

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const file = fileOf(req.url);
  if (req.method === 'PUT') {
    const tmp = `${file}.${randomUUID()}.tmp`;
    try {
      await pipeline(req, createWriteStream(tmp, { flags: 'wx' }));
      // fsync through a second descriptor: the stream has closed its own
      // (FileHandle.createWriteStream({ autoClose: false }) would leave the
      // handle's close() pending forever on Node 20: nodejs/node#54797).
      const fh = await open(tmp, 'r');
      await fh.datasync().finally(() => fh.close());
      await rename(tmp, file);
      res.writeHead(200, { 'content-length': 0 }).end();
    } catch {
      await unlink(tmp).catch(() => {});
      res.destroy();
    }
  } else if (req.method === 'GET') {
    const fh = await open(file, 'r').catch(() => undefined);
    if (!fh) return void res.writeHead(404, { 'content-length': 0 }).end();
    res.writeHead(200, { 'content-length': (await fh.stat()).size });
    await pipeline(fh.createReadStream(), res).catch(() => res.destroy());
  } else {
    res.writeHead(405, { 'content-length': 0 }).end();
  }
}

const server = http.createServer((req, res) => void handle(req, res).catch(() => res.destroy()));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`baseline listening on http://127.0.0.1:${port} in ${dir}`);
});

const shutdown = async () => {
  server.close();
  server.closeAllConnections();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
