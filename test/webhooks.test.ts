// Webhooks end to end: real server processes, real uploads over S3, and a
// real HTTP receiver that checks every delivery's signature as a customer's
// would. Two servers share one database throughout, so every test also runs
// with two delivery workers competing for the same queue.
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { S3RawClient, type RawResponse } from './support/signer.ts';
import { embeddedDatabaseUrl } from './support/database.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
/** Fast retries: attempts 100, 200 and 400 ms apart, dead after the fourth. */
const WEBHOOK_ENV = {
  AEROSTORE_MASTER_KEY: MASTER_KEY,
  AEROSTORE_WEBHOOK_BACKOFF_MS: '100',
  AEROSTORE_WEBHOOK_MAX_ATTEMPTS: '4',
  AEROSTORE_WEBHOOK_TIMEOUT_MS: '2000',
};
/** How old a signature's timestamp the receiver accepts (Stripe's default tolerance). */
const TOLERANCE_S = 300;

interface Received {
  eventId: string;
  eventType: string;
  webhookId: string;
  body: string;
  /** The signature checked out against the secret and is recent. */
  verified: boolean;
  status: number;
  at: number;
}

/**
 * A webhook receiver on 127.0.0.1. It verifies each delivery as the README
 * tells receivers to, and answers with `answer(n)` after `delayMs`, n
 * counting this event's deliveries from 1.
 */
class Receiver {
  readonly received: Received[] = [];
  secret = '';
  private readonly server: http.Server;

  constructor(
    private answer: (n: number) => number = () => 200,
    delayMs = 0,
  ) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const eventId = String(req.headers['x-aerostore-event-id']);
        const status = this.answer(this.received.filter((r) => r.eventId === eventId).length + 1);
        this.received.push({
          eventId,
          eventType: String(req.headers['x-aerostore-event-type']),
          webhookId: String(req.headers['x-aerostore-webhook-id']),
          body,
          verified: this.verify(String(req.headers['x-aerostore-signature']), body),
          status,
          at: Date.now(),
        });
        setTimeout(() => res.writeHead(status).end(), delayMs);
      });
    });
  }

  /** The README's check: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. */
  private verify(header: string, body: string): boolean {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    if (!m) return false;
    const expected = createHmac('sha256', this.secret).update(`${m[1]}.${body}`).digest();
    const recent = Math.abs(Date.now() / 1000 - Number(m[1])) <= TOLERANCE_S;
    return recent && timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
  }

  respondWith(answer: (n: number) => number): void {
    this.answer = answer;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Webhook {
  id: string;
  bucket: string;
  url: string;
  event_types: string[];
  prefix: string;
  enabled: boolean;
  created_at: string;
  secret?: string;
}

interface Delivery {
  id: number;
  event_id: number;
  event_type: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  event: Record<string, unknown>;
}

const json = (res: RawResponse): unknown => JSON.parse(res.body.toString());

function ok(res: RawResponse, status = 200): RawResponse {
  assert.equal(res.status, status, res.body.toString());
  return res;
}

/** Admin API requests, signed with the root key. */
function admin(client: S3RawClient, method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<RawResponse> {
  return client.send({
    method,
    path: `/admin/v1/webhooks${path}`,
    query,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

async function subscribe(client: S3RawClient, receiver: Receiver, body: Record<string, unknown>): Promise<Webhook> {
  const created = json(ok(await admin(client, 'POST', '', { url: await receiver.start(), ...body }), 201)) as Webhook;
  receiver.secret = created.secret!;
  return created;
}

async function deliveries(client: S3RawClient, webhookId: string, state?: string): Promise<Delivery[]> {
  return json(ok(await admin(client, 'GET', `/${webhookId}/deliveries`, undefined, state ? { state } : undefined))) as Delivery[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The webhook's deliveries once there are `count` of them and all are in `state`. */
function settled(client: S3RawClient, webhookId: string, count: number, state: Delivery['state']): Promise<Delivery[]> {
  return waitFor(`${count} ${state} deliveries`, async () => {
    const all = await deliveries(client, webhookId);
    return all.length === count && all.every((d) => d.state === state) ? all : undefined;
  });
}

const put = async (client: S3RawClient, path: string, body = 'x') => ok(await client.send({ method: 'PUT', path, body }));
const createBucket = async (client: S3RawClient, name: string) => ok(await client.send({ method: 'PUT', path: `/${name}` }));

describe('webhooks', () => {
  let a: TestServer; // owns the embedded Postgres
  let b: TestServer; // DATABASE_URL → a's Postgres
  let rootA: S3RawClient;
  let rootB: S3RawClient;
  const receivers: Receiver[] = [];
  const receiver = (answer?: (n: number) => number, delayMs?: number) => {
    const r = new Receiver(answer, delayMs);
    receivers.push(r);
    return r;
  };

  before(async () => {
    a = await startTestServer({ env: WEBHOOK_ENV });
    b = await startTestServer({ env: { ...WEBHOOK_ENV, DATABASE_URL: await embeddedDatabaseUrl(a.dataDir) } });
    rootA = new S3RawClient(a.url, a);
    rootB = new S3RawClient(b.url, b);
  });
  after(async () => {
    if (process.env.AEROSTORE_TEST_LOG) console.error(a?.log(), b?.log());
    await Promise.all(receivers.map((r) => r.stop()));
    await b?.stop();
    await a?.stop();
  });

  it('creates, lists, shows and deletes subscriptions; the secret is shown only at creation', async () => {
    await createBucket(rootA, 'wh-admin');
    // Neither subscription matches an event this test makes: nothing is sent to example.com.
    const url = 'https://hooks.example.com/aerostore';
    const created = json(ok(await admin(rootA, 'POST', '', { bucket: 'wh-admin', url, event_types: ['storage.object.deleted'] }), 201)) as Webhook;
    assert.deepEqual(Object.keys(created).sort(), ['bucket', 'created_at', 'enabled', 'event_types', 'format', 'id', 'prefix', 'secret', 'url']);
    assert.ok(created.secret!.length >= 32, 'a generated secret is long');
    const chosen = json(ok(await admin(rootA, 'POST', '', { bucket: 'wh-admin', url, secret: 'my-own-secret-0123456789', prefix: 'a/' }), 201)) as Webhook;
    assert.equal(chosen.secret, 'my-own-secret-0123456789');
    const db = postgres(await embeddedDatabaseUrl(a.dataDir), { max: 1, onnotice: () => {} });
    const [stored] = await db`select secret_sealed from storage.webhooks where id = ${chosen.id}`.finally(() => db.end());
    assert.ok(!(stored.secret_sealed as Buffer).includes('my-own-secret'), 'the secret is stored sealed');

    const listed = json(ok(await admin(rootA, 'GET', '', undefined, { bucket: 'wh-admin' }))) as Webhook[];
    assert.deepEqual(listed.map((w) => w.id), [created.id, chosen.id]);
    assert.ok(listed.every((w) => !('secret' in w)));
    const shown = Object.fromEntries(Object.entries(created).filter(([k]) => k !== 'secret'));
    assert.deepEqual(json(ok(await admin(rootB, 'GET', `/${created.id}`))), shown);

    ok(await admin(rootA, 'DELETE', `/${created.id}`), 204);
    for (const res of [await admin(rootA, 'GET', `/${created.id}`), await admin(rootA, 'DELETE', `/${created.id}`), await admin(rootA, 'GET', '/not-a-uuid')]) {
      assert.equal(res.status, 404, res.body.toString());
    }
  });

  it('refuses bad subscriptions with a message naming the field, and an unknown bucket with 404', async () => {
    const refusals: Array<[unknown, number, RegExp]> = [
      [{ bucket: 'wh-admin', url: 'ftp://example.com/' }, 400, /url/],
      [{ bucket: 'wh-admin', url: 'https://user:pw@example.com/' }, 400, /credentials/],
      [{ bucket: 'wh-admin', url: 'https://example.com/', event_types: ['object.created'] }, 400, /event_types/],
      [{ bucket: 'wh-admin', url: 'https://example.com/', secret: 'short' }, 400, /secret/],
      [{ bucket: 'wh-admin', url: 'https://example.com/', eventTypes: [] }, 400, /unknown field/],
      [{ bucket: 'wh-no-such-bucket', url: 'https://example.com/' }, 404, /NoSuchBucket/],
    ];
    for (const [body, status, message] of refusals) {
      const res = await admin(rootA, 'POST', '', body);
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.body.toString(), message);
    }
    // Only the service role gets in.
    const anonymous = await fetch(`${a.url}/admin/v1/webhooks`);
    assert.equal(anonymous.status, 401);
  });

  it('retries a receiver that fails twice, with backoff, signing every attempt; the third delivers', async () => {
    await createBucket(rootA, 'wh-retry');
    const r = receiver((n) => (n <= 2 ? 500 : 200));
    const hook = await subscribe(rootA, r, { bucket: 'wh-retry', event_types: ['storage.object.created'] });
    await put(rootB, '/wh-retry/photos/cat.jpg', 'meow');

    const [d] = await settled(rootA, hook.id, 1, 'delivered');
    assert.equal(d.attempts, 3);
    assert.equal(d.last_status, 200);
    assert.equal(d.last_error, null);
    assert.deepEqual(r.received.map((x) => x.status), [500, 500, 200]);
    assert.ok(r.received.every((x) => x.verified), 'every attempt carries a valid, recent signature');
    assert.ok(r.received.every((x) => x.eventId === String(d.event_id) && x.webhookId === hook.id && x.eventType === 'storage.object.created'));
    // The backoff doubles from 100 ms (the poll may add up to a second to each wait).
    assert.ok(r.received[1].at - r.received[0].at >= 100 && r.received[2].at - r.received[1].at >= 200);

    const event = JSON.parse(r.received[2].body) as Record<string, unknown>;
    assert.equal(event.id, d.event_id);
    assert.equal(event.type, 'storage.object.created');
    assert.equal(event.bucket, 'wh-retry');
    assert.equal(event.path, 'photos/cat.jpg');
    assert.equal(event.size, 4);
    assert.deepEqual(d.event, event);
  });

  it('sends only the events that match the type and prefix filters', async () => {
    await createBucket(rootA, 'wh-filter');
    const r = receiver();
    const hook = await subscribe(rootA, r, { bucket: 'wh-filter', event_types: ['storage.object.deleted'], prefix: 'images/' });
    await put(rootA, '/wh-filter/images/a.png');
    await put(rootA, '/wh-filter/docs/b.txt');
    ok(await rootA.send({ method: 'DELETE', path: '/wh-filter/docs/b.txt' }), 204);
    ok(await rootA.send({ method: 'DELETE', path: '/wh-filter/images/a.png' }), 204);

    // Events are numbered, and their deliveries made, in commit order: once
    // the last event's delivery exists, a delivery of any earlier one would too.
    const [d] = await settled(rootA, hook.id, 1, 'delivered');
    assert.equal(d.event_type, 'storage.object.deleted');
    assert.equal(d.event.path, 'images/a.png');
    assert.deepEqual(r.received.map((x) => x.eventId), [String(d.event_id)]);
  });

  it('gives up after the last attempt: dead, listed as such, and re-queued by hand', async () => {
    await createBucket(rootA, 'wh-dead');
    const r = receiver(() => 503);
    const hook = await subscribe(rootA, r, { bucket: 'wh-dead', event_types: ['storage.object.created'] });
    await put(rootA, '/wh-dead/report.pdf');

    const [dead] = await settled(rootA, hook.id, 1, 'dead');
    assert.equal(dead.attempts, 4);
    assert.equal(dead.last_status, 503);
    assert.equal(dead.last_error, 'HTTP 503');
    assert.equal(dead.next_attempt_at, null);
    assert.equal(r.received.length, 4);
    assert.deepEqual((await deliveries(rootB, hook.id, 'dead')).map((x) => x.id), [dead.id]);
    assert.deepEqual(await deliveries(rootB, hook.id, 'pending'), []);

    r.respondWith(() => 204);
    const requeued = json(ok(await admin(rootB, 'POST', `/${hook.id}/deliveries/${dead.id}/retry`))) as Delivery;
    assert.equal(requeued.state, 'pending');
    assert.equal(requeued.attempts, 0);
    const [delivered] = await settled(rootA, hook.id, 1, 'delivered');
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.last_status, 204);
    assert.equal(r.received.length, 5);

    // Only a dead delivery is retried; others are refused, unknown ones are not found.
    assert.equal((await admin(rootA, 'POST', `/${hook.id}/deliveries/${dead.id}/retry`)).status, 409);
    assert.equal((await admin(rootA, 'POST', `/${hook.id}/deliveries/999999999/retry`)).status, 404);
    assert.equal((await admin(rootA, 'GET', `/${hook.id}/deliveries`, undefined, { state: 'lost' })).status, 400);
  });

  it('two server processes on one database deliver each event exactly once', async () => {
    await createBucket(rootA, 'wh-many');
    // Slow answers keep both workers busy at once.
    const r = receiver(() => 200, 50);
    const hook = await subscribe(rootA, r, { bucket: 'wh-many', event_types: ['storage.object.created'] });
    const count = 40;
    await Promise.all(Array.from({ length: count }, (_, i) => put(i % 2 ? rootA : rootB, `/wh-many/file-${i}`)));

    const all = await settled(rootA, hook.id, count, 'delivered');
    assert.ok(all.every((d) => d.attempts === 1));
    const ids = r.received.map((x) => x.eventId);
    assert.equal(ids.length, count, 'no event was sent twice');
    assert.deepEqual(new Set(ids), new Set(all.map((d) => String(d.event_id))));
  });
});

describe('webhook deliveries across a restart', () => {
  let server: TestServer | undefined;
  let restarted: TestServer | undefined;
  const r = new Receiver((n) => (n === 1 ? 500 : 200));
  // The retry falls due after the first server has stopped, and while the second starts.
  const env = { ...WEBHOOK_ENV, AEROSTORE_WEBHOOK_BACKOFF_MS: '5000' };

  after(async () => {
    await r.stop();
    await restarted?.stop();
    await server?.stop();
  });

  it('a pending delivery is sent by the restarted server', async () => {
    server = await startTestServer({ env });
    const root = new S3RawClient(server.url, server);
    await createBucket(root, 'wh-restart');
    const hook = await subscribe(root, r, { bucket: 'wh-restart', event_types: ['storage.object.created'] });
    await put(root, '/wh-restart/a.txt');
    const [failed] = await waitFor('the first attempt', async () => {
      const ds = await deliveries(root, hook.id);
      return ds.length === 1 && ds[0].attempts === 1 && ds[0].last_status === 500 ? ds : undefined;
    });
    assert.equal(failed.state, 'pending');
    await server.stop({ keepData: true });
    assert.equal(r.received.length, 1, 'the retry was not yet due when the server stopped');

    restarted = await startTestServer({ env, dataDir: server.dataDir });
    const [d] = await settled(new S3RawClient(restarted.url, restarted), hook.id, 1, 'delivered');
    assert.equal(d.id, failed.id);
    assert.equal(d.attempts, 2);
    assert.deepEqual(r.received.map((x) => [x.status, x.verified]), [[500, true], [200, true]]);
  });
});
