// Signed URLs, move and copy on /storage/v1 through @supabase/storage-js:
// download URLs (one and a batch) fetched without credentials, upload URLs
// used once without credentials, tokens refused on another path, altered or
// expired (signed with the clock moved back), key rotation across restarts, signing refused to a principal that may not read or write, and
// move/copy with a move the principal may not complete undone.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { StorageClient } from '@supabase/storage-js';
import { SignJWT } from 'jose';
import { UrlSigner, type UrlTokenClaims } from '../src/principals/url-tokens.ts';
import { setBucketSettings } from './support/principals.ts';
import { S3RawClient } from './support/signer.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SECRET = 'storage-signed-urls-test-secret-0123456789';
const MAX_EXPIRY = 86_400;
let srv: TestServer;
let api: string;
const A = randomUUID();
const B = randomUUID();
let tokenA: string;
let asA: StorageClient;
let asB: StorageClient;
/** No credentials at all: what a browser handed a signed URL has. */
let nobody: StorageClient;

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}
const clientFor = (token: string) => new StorageClient(api, { apikey: token, Authorization: `Bearer ${token}` });
const status = (error: unknown) => (error as { status?: number } | null)?.status;
const errorCode = async (res: Response) => ((await res.json()) as { error: string }).error;
/** The URL with its token's MAC (the part after the dot) altered. */
const tamperedMac = (url: string) => url.replace(/(token=[^.&]+\.)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
const tokenOf = (url: string) => new URL(url).searchParams.get('token') as string;

before(async () => {
  srv = await startTestServer({ env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_SIGNED_URL_MAX_EXPIRY: String(MAX_EXPIRY) } });
  api = `${srv.url}/storage/v1`;
  tokenA = await jwt({ sub: A, role: 'authenticated' });
  asA = clientFor(tokenA);
  asB = clientFor(await jwt({ sub: B, role: 'authenticated' }));
  nobody = new StorageClient(api, {});
  assert.equal((await asA.createBucket('docs')).error, null);
  assert.equal((await asA.createBucket('other')).error, null);
  for (const [path, text] of [['reports/q1.txt', 'quarter one'], ['reports/q2.txt', 'quarter two'], ['with space é.txt', 'spaced']]) {
    const up = await asA.from('docs').upload(path, Buffer.from(text), { contentType: 'text/plain' });
    assert.equal(up.error, null, String(up.error));
  }
});
after(async () => {
  await srv?.stop();
  // The restarts below pass the data directory in, so the harness leaves it.
  if (srv) await rm(srv.dataDir, { recursive: true, force: true });
});

describe('signed download URLs', () => {
  it('createSignedUrl gives a URL anyone can fetch, stale credentials or none', async () => {
    const signed = await asA.from('docs').createSignedUrl('reports/q1.txt', 60);
    assert.equal(signed.error, null, String(signed.error));
    const url = signed.data!.signedUrl;
    assert.match(url, new RegExp(`^${api}/object/sign/docs/reports/q1\\.txt\\?token=[\\w-]+\\.[\\w-]+$`));
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'quarter one');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    // The token is the permission: a bearer token that would be refused elsewhere is not even looked at.
    const stale = { headers: { authorization: 'Bearer not-a-jwt' } };
    assert.equal((await fetch(`${api}/object/docs/reports/q1.txt`, stale)).status, 403, 'refused on any other route');
    assert.equal((await fetch(url, stale)).status, 200);
    assert.equal((await fetch(url, { method: 'HEAD' })).headers.get('content-length'), '11');
    const ranged = await fetch(url, { headers: { range: 'bytes=0-6' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'quarter');
  });

  it('answers the raw body: signedURL (Supabase’s form), url (percent-encoded), expires_at', async () => {
    const before = Date.now();
    const res = await fetch(`${api}/object/sign/docs/with%20space%20%C3%A9.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      body: JSON.stringify({ expiresIn: 120 }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { signedURL: string; url: string; expires_at: string };
    assert.match(body.signedURL, /^\/object\/sign\/docs\/with space é\.txt\?token=/);
    assert.match(body.url, /^\/object\/sign\/docs\/with%20space%20%C3%A9\.txt\?token=/);
    const expires = Date.parse(body.expires_at) - before;
    assert.ok(expires > 118_000 && expires <= 121_000, `expires in ${expires} ms`);
    assert.equal(await (await fetch(`${api}${body.url}`)).text(), 'spaced');
    // storage-js builds its URL from signedURL with encodeURI.
    const viaJs = await asA.from('docs').createSignedUrl('with space é.txt', 60);
    assert.equal(await (await fetch(viaJs.data!.signedUrl)).text(), 'spaced');
  });

  it('the download option asks for an attachment', async () => {
    const signed = await asA.from('docs').createSignedUrl('reports/q1.txt', 60, { download: 'q1-report.txt' });
    const res = await fetch(signed.data!.signedUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename\*=UTF-8''q1-report\.txt$/);
  });

  it('refuses the token on another path or bucket, altered, or missing: 403 INVALID_SIGNATURE', async () => {
    const url = (await asA.from('docs').createSignedUrl('reports/q1.txt', 60)).data!.signedUrl;
    const token = tokenOf(url);
    for (const path of ['docs/reports/q2.txt', 'other/reports/q1.txt', 'docs/reports/q1.txt/']) {
      const res = await fetch(`${api}/object/sign/${path}?token=${token}`);
      assert.equal(res.status, 403, path);
      assert.equal(await errorCode(res), 'INVALID_SIGNATURE', path);
    }
    const altered = await fetch(tamperedMac(url));
    assert.equal(altered.status, 403);
    assert.equal(await errorCode(altered), 'INVALID_SIGNATURE');
    // The payload's key changed to another object, MAC kept.
    const [payload, mac] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...claims, key: 'reports/q2.txt' })).toString('base64url')}.${mac}`;
    const swapped = await fetch(`${api}/object/sign/docs/reports/q2.txt?token=${forged}`);
    assert.equal(swapped.status, 403);
    assert.equal(await errorCode(swapped), 'INVALID_SIGNATURE');
    // An upload token is not a download token.
    const upload = await asA.from('docs').createSignedUploadUrl('reports/q1.txt');
    const asDownload = await fetch(`${api}/object/sign/docs/reports/q1.txt?token=${upload.data!.token}`);
    assert.equal(asDownload.status, 403);
    const none = await fetch(`${api}/object/sign/docs/reports/q1.txt`);
    assert.equal(none.status, 400);
  });

  it('refuses to sign for a principal that may not read the object, or too long a lifetime', async () => {
    const byB = await asB.from('docs').createSignedUrl('reports/q1.txt', 60);
    assert.equal(byB.data, null);
    assert.ok([403, 404].includes(status(byB.error) ?? 0), `status ${status(byB.error)}`);
    const byNobody = await nobody.from('docs').createSignedUrl('reports/q1.txt', 60);
    assert.ok([403, 404].includes(status(byNobody.error) ?? 0), `status ${status(byNobody.error)}`);
    const missing = await asA.from('docs').createSignedUrl('reports/none.txt', 60);
    assert.equal(status(missing.error), 404);
    const tooLong = await asA.from('docs').createSignedUrl('reports/q1.txt', MAX_EXPIRY + 1);
    assert.equal(status(tooLong.error), 400);
    assert.equal((await asA.from('docs').createSignedUrl('reports/q1.txt', MAX_EXPIRY)).error, null);
    const notANumber = await fetch(`${api}/object/sign/docs/reports/q1.txt?expires_in=soon`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(notANumber.status, 400);
  });

  it('createSignedUrls signs what the principal may read and says why not for the rest', async () => {
    const batch = await asA.from('docs').createSignedUrls(['reports/q1.txt', 'reports/none.txt', 'reports/q2.txt'], 60);
    assert.equal(batch.error, null, String(batch.error));
    const [q1, none, q2] = batch.data!;
    assert.equal(q1.path, 'reports/q1.txt');
    assert.equal(q1.error, null);
    assert.equal(await (await fetch(q1.signedUrl!)).text(), 'quarter one');
    assert.equal(await (await fetch(q2.signedUrl!)).text(), 'quarter two');
    assert.equal(none.signedUrl, null);
    assert.match(none.error ?? '', /does not exist or you do not have access/);
    // B may read none of A's private bucket.
    const byB = await asB.from('docs').createSignedUrls(['reports/q1.txt'], 60);
    assert.equal(byB.error, null);
    assert.equal(byB.data![0].signedUrl, null);
    assert.ok(byB.data![0].error);
  });
});

describe('signed upload URLs', () => {
  it('createSignedUploadUrl + uploadToSignedUrl without credentials stores the object as the signer, once', async () => {
    const signed = await asA.from('docs').createSignedUploadUrl('inbox/from-browser.txt');
    assert.equal(signed.error, null, String(signed.error));
    assert.equal(signed.data!.path, 'inbox/from-browser.txt');
    assert.match(signed.data!.signedUrl, new RegExp(`^${api}/object/upload/sign/docs/inbox/from-browser\\.txt\\?token=`));
    const up = await nobody.from('docs').uploadToSignedUrl('inbox/from-browser.txt', signed.data!.token, new Blob(['sent by a browser'], { type: 'text/plain' }));
    assert.equal(up.error, null, String(up.error));
    assert.equal(up.data!.fullPath, 'docs/inbox/from-browser.txt');
    assert.equal(await (await asA.from('docs').download('inbox/from-browser.txt')).data!.text(), 'sent by a browser');
    // The owner is the signer: RLS saw A.
    const info = await fetch(`${api}/object/info/docs/inbox/from-browser.txt`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(((await info.json()) as { owner_id: string }).owner_id, A);

    const again = await nobody.from('docs').uploadToSignedUrl('inbox/from-browser.txt', signed.data!.token, Buffer.from('second'), { contentType: 'text/plain' });
    assert.equal(status(again.error), 409);
    const raw = await fetch(signed.data!.signedUrl, { method: 'PUT', body: 'third', headers: { 'content-type': 'text/plain' } });
    assert.equal(raw.status, 409);
    assert.equal(await errorCode(raw), 'TOKEN_ALREADY_USED');
    assert.equal(await (await asA.from('docs').download('inbox/from-browser.txt')).data!.text(), 'sent by a browser');
  });

  it('does not replace an object unless signed with upsert; a refused upload leaves the token usable', async () => {
    const plain = await asA.from('docs').createSignedUploadUrl('reports/q2.txt');
    const refused = await fetch(plain.data!.signedUrl, { method: 'PUT', body: 'clobber', headers: { 'content-type': 'text/plain' } });
    assert.equal(refused.status, 409);
    assert.equal(await errorCode(refused), 'DUPLICATE');
    assert.equal((await asA.from('docs').remove(['reports/q2.txt'])).error, null);
    const retried = await fetch(plain.data!.signedUrl, { method: 'PUT', body: 'recreated', headers: { 'content-type': 'text/plain' } });
    assert.equal(retried.status, 200);
    assert.equal(await (await asA.from('docs').download('reports/q2.txt')).data!.text(), 'recreated');

    const upsert = await asA.from('docs').createSignedUploadUrl('reports/q2.txt', { upsert: true });
    const replaced = await nobody.from('docs').uploadToSignedUrl('reports/q2.txt', upsert.data!.token, Buffer.from('quarter two, revised'), { contentType: 'text/plain' });
    assert.equal(replaced.error, null, String(replaced.error));
    assert.equal(await (await asA.from('docs').download('reports/q2.txt')).data!.text(), 'quarter two, revised');
  });

  it('refuses the token on another path, altered, or as a download token: 403 INVALID_SIGNATURE', async () => {
    const signed = await asA.from('docs').createSignedUploadUrl('inbox/a.txt');
    const elsewhere = await fetch(`${api}/object/upload/sign/docs/inbox/b.txt?token=${signed.data!.token}`, { method: 'PUT', body: 'x' });
    assert.equal(elsewhere.status, 403);
    assert.equal(await errorCode(elsewhere), 'INVALID_SIGNATURE');
    const altered = await fetch(tamperedMac(signed.data!.signedUrl), { method: 'PUT', body: 'x' });
    assert.equal(altered.status, 403);
    assert.equal(await errorCode(altered), 'INVALID_SIGNATURE');
    const download = tokenOf((await asA.from('docs').createSignedUrl('reports/q1.txt', 60)).data!.signedUrl);
    const wrongKind = await fetch(`${api}/object/upload/sign/docs/reports/q1.txt?token=${download}`, { method: 'PUT', body: 'x' });
    assert.equal(wrongKind.status, 403);
    assert.equal((await asA.from('docs').exists('inbox/b.txt')).data, false);
    // The altered and misplaced attempts did not spend the real token.
    assert.equal((await nobody.from('docs').uploadToSignedUrl('inbox/a.txt', signed.data!.token, Buffer.from('a'), { contentType: 'text/plain' })).error, null);
  });

  it('refuses to sign for a principal that may not write into the bucket', async () => {
    const byB = await asB.from('docs').createSignedUploadUrl('inbox/b.txt');
    assert.equal(status(byB.error), 403);
    const byNobody = await nobody.from('docs').createSignedUploadUrl('inbox/n.txt');
    assert.equal(status(byNobody.error), 403);
  });
});

describe('move and copy', () => {
  const text = async (bucket: string, path: string) => {
    const { data, error } = await asA.from(bucket).download(path);
    return error ? `(${status(error)})` : await data!.text();
  };

  it('copies with the source’s metadata or replaced metadata, and never over an existing object unless upsert', async () => {
    await asA.from('docs').upload('t/src.txt', Buffer.from('source'), { contentType: 'text/plain', cacheControl: '60' });
    assert.equal((await asA.from('docs').copy('t/src.txt', 't/copy.txt')).error, null);
    assert.equal(await text('docs', 't/copy.txt'), 'source');
    assert.equal((await asA.from('docs').info('t/copy.txt')).data?.cacheControl, 'max-age=60');
    const replaced = await asA.from('docs').copy('t/src.txt', 't/copy2.txt', { copyMetadata: false, metadata: { cacheControl: 'no-store', mimetype: 'text/markdown' } } as never);
    assert.equal(replaced.error, null, String(replaced.error));

    await asA.from('docs').upload('t/taken.txt', Buffer.from('taken'), { contentType: 'text/plain' });
    const refused = await asA.from('docs').copy('t/src.txt', 't/taken.txt');
    assert.equal(status(refused.error), 409);
    assert.equal(await text('docs', 't/taken.txt'), 'taken');
    const res = await fetch(`${api}/object/copy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json', 'x-upsert': 'true' },
      body: JSON.stringify({ bucketId: 'docs', sourceKey: 't/src.txt', destinationKey: 't/taken.txt' }),
    });
    assert.equal(res.status, 200);
    assert.equal(await text('docs', 't/taken.txt'), 'source');
  });

  it('moves within and across buckets, never over an existing object', async () => {
    await asA.from('docs').upload('t/m.txt', Buffer.from('moving'), { contentType: 'text/plain' });
    assert.equal((await asA.from('docs').move('t/m.txt', 't/m2.txt')).error, null);
    assert.equal(await text('docs', 't/m.txt'), '(404)');
    assert.equal(await text('docs', 't/m2.txt'), 'moving');
    assert.equal((await asA.from('docs').move('t/m2.txt', 'm3.txt', { destinationBucket: 'other' })).error, null);
    assert.equal(await text('other', 'm3.txt'), 'moving');
    await asA.from('docs').upload('t/stay.txt', Buffer.from('stay'), { contentType: 'text/plain' });
    const refused = await asA.from('other').move('m3.txt', 't/stay.txt', { destinationBucket: 'docs' });
    assert.equal(status(refused.error), 409);
    assert.equal(await text('docs', 't/stay.txt'), 'stay');
    assert.equal(await text('other', 'm3.txt'), 'moving', 'a refused move leaves the source');
  });

  it('undoes a move whose source the principal may read but not delete', async () => {
    assert.equal((await asA.createBucket('open', { public: true })).error, null);
    await asA.from('open').upload('shared.txt', Buffer.from('shared'), { contentType: 'text/plain' });
    assert.equal((await asB.createBucket('mine-b')).error, null);
    const moved = await asB.from('open').move('shared.txt', 'took.txt', { destinationBucket: 'mine-b' });
    assert.equal(status(moved.error), 403);
    assert.equal(await text('open', 'shared.txt'), 'shared');
    assert.equal((await asB.from('mine-b').exists('took.txt')).data, false, 'the copy was undone');
    // A copy is fine: B may read the public object and write its own bucket.
    assert.equal((await asB.from('open').copy('shared.txt', 'took.txt', { destinationBucket: 'mine-b' })).error, null);
  });

  it('lets exactly one of many concurrent copies onto one new key win', async () => {
    const sources = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await asA.from('docs').upload(`race/src-${i}.txt`, Buffer.from(`source ${i}`), { contentType: 'text/plain' });
        return `race/src-${i}.txt`;
      }),
    );
    const results = await Promise.all(sources.map((src) => asA.from('docs').copy(src, 'race/dest.txt')));
    const winners = results.flatMap((r, i) => (r.error === null ? [i] : []));
    assert.equal(winners.length, 1, `winners: ${winners.join(',')}`);
    assert.ok(results.every((r) => r.error === null || status(r.error) === 409));
    assert.equal(await text('docs', 'race/dest.txt'), `source ${winners[0]}`);
  });
});

describe('expiry (the signing clock moved back) and key rotation, across restarts', () => {
  const NEW_KEY = { kid: 'new', key: randomBytes(32) };
  const restart = async (keys: string) => {
    await srv.stop({ keepData: true });
    srv = await startTestServer({ dataDir: srv.dataDir, env: { AEROSTORE_JWT_SECRET: SECRET, AEROSTORE_URL_SIGNING_KEYS: keys } });
    api = `${srv.url}/storage/v1`;
  };
  const kidOf = (url: string) => (JSON.parse(Buffer.from(tokenOf(url).split('.')[0], 'base64url').toString()) as { kid: string }).kid;
  /** A token's claims as the server signed them (the bucket's and object's identity too), to sign again with another clock. */
  const claimsOf = (token: string): Omit<UrlTokenClaims, 'jti'> => {
    const { v: _v, kid: _kid, exp: _exp, jti: _jti, ...claims } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
    return claims as unknown as Omit<UrlTokenClaims, 'jti'>;
  };

  it('keeps URLs signed with the derived key working after `new:…,derived`, and refuses them once it is dropped', async () => {
    const before = (await asA.from('docs').createSignedUrl('reports/q1.txt', 3600)).data!.signedUrl;
    assert.equal(kidOf(before), '1');
    await restart(`new:${NEW_KEY.key.toString('base64')},derived`);
    const carried = before.replace(/^http:\/\/[^/]+/, srv.url);
    assert.equal(await (await fetch(carried)).text(), 'quarter one');
    const after = (await clientFor(tokenA).from('docs').createSignedUrl('reports/q1.txt', 3600)).data!.signedUrl;
    assert.equal(kidOf(after), 'new');
    await restart(`new:${NEW_KEY.key.toString('base64')}`);
    const retired = await fetch(carried.replace(/^http:\/\/[^/]+/, srv.url));
    assert.equal(retired.status, 403);
    assert.equal(await errorCode(retired), 'INVALID_SIGNATURE');
    assert.equal(await (await fetch(after.replace(/^http:\/\/[^/]+/, srv.url))).text(), 'quarter one');
  });

  it('refuses a download token past its expiry (400 TOKEN_EXPIRED) and an upload token (410 FILE_UPLOAD_URL_EXPIRED)', async () => {
    // Tokens from the server's own signing code with its clock two hours back, valid for one:
    // expired an hour ago. The same tokens signed now are accepted, so time is all that differs.
    const past = new UrlSigner([NEW_KEY], () => new Date(Date.now() - 2 * 3600_000));
    const present = new UrlSigner([NEW_KEY]);
    const download = claimsOf(tokenOf((await clientFor(tokenA).from('docs').createSignedUrl('reports/q1.txt', 60)).data!.signedUrl));
    const late = await fetch(`${api}/object/sign/docs/reports/q1.txt?token=${past.sign(download, 3600).token}`);
    assert.equal(late.status, 400);
    assert.equal(await errorCode(late), 'TOKEN_EXPIRED');
    assert.equal((await fetch(`${api}/object/sign/docs/reports/q1.txt?token=${present.sign(download, 3600).token}`)).status, 200);

    const upload = claimsOf((await clientFor(tokenA).from('docs').createSignedUploadUrl('inbox/late.txt')).data!.token);
    const put = (token: string) => fetch(`${api}/object/upload/sign/docs/inbox/late.txt?token=${token}`, { method: 'PUT', body: 'late', headers: { 'content-type': 'text/plain' } });
    const lateUpload = await put(past.sign(upload, 3600).token);
    assert.equal(lateUpload.status, 410);
    assert.equal(await errorCode(lateUpload), 'FILE_UPLOAD_URL_EXPIRED');
    assert.equal((await clientFor(tokenA).from('docs').exists('inbox/late.txt')).data, false);
    assert.equal((await put(present.sign(upload, 3600).token)).status, 200);
    assert.equal(await (await clientFor(tokenA).from('docs').download('inbox/late.txt')).data!.text(), 'late');
  });
});
