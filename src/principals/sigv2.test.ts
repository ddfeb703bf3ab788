// SigV2 verification against the examples of "Signing and authenticating REST
// requests (AWS signature version 2)", whose signatures were computed by AWS,
// and against S3's refusals.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { DomainError } from '../core/errors.ts';
import { canonicalResource, MAX_SIGV2_PRESIGN_SECONDS, signV2, sigV2Flavour, stringToSignV2, verifySigV2 } from './sigv2.ts';
import { chunkSigningOf, type SecretLookup, type SignedRequestInput } from './sigv4.ts';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookup: SecretLookup = async (id) => (id === KEY ? { accessKeyId: id, secretAccessKey: SECRET } : undefined);

function domainError(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof DomainError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

/** A request of the guide's examples, with its Authorization header. */
function signed(method: string, url: string, headers: IncomingHttpHeaders, signature: string): SignedRequestInput {
  return { method, url, headers: { ...headers, authorization: `AWS ${KEY}:${signature}` } };
}

describe('the S3 guide examples (header authentication)', () => {
  const examples: Array<{ name: string; req: SignedRequestInput; hostBucket?: string; now: string; toSign: string }> = [
    {
      name: 'object GET, virtual-hosted',
      req: signed('GET', '/photos/puppy.jpg', { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:36:42 +0000' }, 'bWq2s1WEIj+Ydj0vQ697zp+IXMU='),
      hostBucket: 'johnsmith',
      now: '2007-03-27T19:36:42Z',
      toSign: 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg',
    },
    {
      name: 'object PUT with a Content-Type',
      req: signed(
        'PUT',
        '/photos/puppy.jpg',
        { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 21:15:45 +0000', 'content-type': 'image/jpeg', 'content-length': '94328' },
        'MyyxeRY7whkBe+bq8fHCL/2kKUg=',
      ),
      hostBucket: 'johnsmith',
      now: '2007-03-27T21:15:45Z',
      toSign: 'PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg',
    },
    {
      name: 'a listing: its parameters are not sub-resources',
      req: signed('GET', '/?prefix=photos&max-keys=50&marker=puppy', { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:42:41 +0000' }, 'htDYFYduRNen8P9ZfE/s9SuKy0U='),
      hostBucket: 'johnsmith',
      now: '2007-03-27T19:42:41Z',
      toSign: 'GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/',
    },
    {
      name: 'GET ?acl: a sub-resource',
      req: signed('GET', '/?acl', { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:44:46 +0000' }, 'c2WLPFtWHVgbEmeEG93a4cG37dM='),
      hostBucket: 'johnsmith',
      now: '2007-03-27T19:44:46Z',
      toSign: 'GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl',
    },
    {
      name: 'x-amz-* headers, Content-MD5, a repeated header, a CNAME bucket',
      req: signed(
        'PUT',
        '/db-backup.dat.gz',
        {
          host: 'static.johnsmith.net:8080',
          date: 'Tue, 27 Mar 2007 21:06:08 +0000',
          'x-amz-acl': 'public-read',
          'content-type': 'application/x-download',
          'content-md5': '4gJE4saaMU4BqNR0kLY+lw==',
          'x-amz-meta-reviewedby': ['joe@johnsmith.net', 'jane@johnsmith.net'] as unknown as string,
          'x-amz-meta-filechecksum': '0x02661779',
          'x-amz-meta-checksumalgorithm': 'crc32',
          'content-disposition': 'attachment; filename=database.dat',
          'content-encoding': 'gzip',
          'content-length': '5913339',
        },
        'ilyl83RwaSoYIEdixDQcA4OnAnc=',
      ),
      hostBucket: 'static.johnsmith.net',
      now: '2007-03-27T21:06:08Z',
      toSign:
        'PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n' +
        'x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n' +
        'x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz',
    },
    {
      name: 'ListBuckets',
      req: signed('GET', '/', { host: 's3.amazonaws.com', date: 'Wed, 28 Mar 2007 01:29:59 +0000' }, 'qGdzdERIC03wnaRNKh6OqZehG9s='),
      now: '2007-03-28T01:29:59Z',
      toSign: 'GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/',
    },
    {
      name: 'a Unicode key, path-style: the path as sent, not decoded',
      req: signed('GET', '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', { host: 's3.amazonaws.com', date: 'Wed, 28 Mar 2007 01:49:49 +0000' }, 'DNEZGsoieTZ92F3bUfSPQcbGmlM='),
      now: '2007-03-28T01:49:49Z',
      toSign: 'GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
    },
  ];
  for (const ex of examples) {
    test(ex.name, async () => {
      const dateLine = String(ex.req.headers.date);
      assert.equal(stringToSignV2(ex.req, dateLine, { hostBucket: ex.hostBucket }), ex.toSign);
      const v = await verifySigV2(ex.req, lookup, { now: new Date(ex.now), hostBucket: ex.hostBucket });
      assert.deepEqual(v, {
        version: 2,
        accessKeyId: KEY,
        presigned: false,
        payloadHash: 'UNSIGNED-PAYLOAD',
        seedSignature: String(ex.req.headers.authorization).split(':')[1],
      });
    });
  }

  test('x-amz-date: the request time; the Date line empty (boto, the SDKs, s3cmd) or, as in the guide, x-amz-date on it', async () => {
    const headers = { host: 's3.amazonaws.com', date: 'Tue, 27 Mar 2007 21:20:27 +0000', 'x-amz-date': 'Tue, 27 Mar 2007 21:20:26 +0000' };
    const now = new Date('2007-03-27T21:20:26Z');
    // The guide's DELETE example, as AWS signed it.
    await verifySigV2(signed('DELETE', '/johnsmith/photos/puppy.jpg', headers, 'lx3byBScXR6KzyMaifNkardMwNk='), lookup, { now });
    // The rule: an empty Date line, x-amz-date among the x-amz-* headers.
    const toSign = 'DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg';
    assert.equal(stringToSignV2({ method: 'DELETE', url: '/johnsmith/photos/puppy.jpg', headers }, ''), toSign);
    await verifySigV2(signed('DELETE', '/johnsmith/photos/puppy.jpg', headers, signV2(SECRET, toSign)), lookup, { now });
    // Date's value on the Date line is neither.
    const withDate = 'DELETE\n\n\nTue, 27 Mar 2007 21:20:27 +0000\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg';
    await assert.rejects(verifySigV2(signed('DELETE', '/johnsmith/photos/puppy.jpg', headers, signV2(SECRET, withDate)), lookup, { now }), domainError('SignatureDoesNotMatch'));
  });
});

describe('query string authentication', () => {
  const url = '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620';
  const req = { method: 'GET', url, headers: { host: 'johnsmith.s3.amazonaws.com' } };

  test("the guide's example: Expires on the Date line", async () => {
    assert.equal(stringToSignV2(req, '1175139620', { hostBucket: 'johnsmith' }), 'GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg');
    const v = await verifySigV2(req, lookup, { now: new Date(1175139620_000 - 3600_000), hostBucket: 'johnsmith' });
    assert.equal(v.presigned, true);
    assert.equal(v.seedSignature, 'NpgCjnDzrM+WFzoENXmpNDUsSn8=');
  });

  test('expired: AccessDenied "Request has expired" with Expires and ServerTime', async () => {
    await assert.rejects(verifySigV2(req, lookup, { now: new Date(1175139621_000), hostBucket: 'johnsmith' }), (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, 'AccessDenied');
      assert.equal(err.message, 'Request has expired');
      assert.deepEqual(err.details, { Expires: '2007-03-29T03:40:20Z', ServerTime: '2007-03-29T03:40:21Z' });
      return true;
    });
  });

  test('Expires more than a week ahead is refused: SigV2 has no signing time', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const at = (seconds: number) => {
      const expires = String(Math.floor(now.getTime() / 1000) + seconds);
      const toSign = `GET\n\n\n${expires}\n/b/k`;
      return { method: 'GET', url: `/b/k?AWSAccessKeyId=${KEY}&Expires=${expires}&Signature=${encodeURIComponent(signV2(SECRET, toSign))}`, headers: {} };
    };
    await verifySigV2(at(MAX_SIGV2_PRESIGN_SECONDS), lookup, { now });
    await assert.rejects(verifySigV2(at(MAX_SIGV2_PRESIGN_SECONDS + 3600), lookup, { now }), domainError('AccessDenied', /at most 604800 seconds/));
    await assert.rejects(verifySigV2(at(10 * 365 * 86400), lookup, { now }), domainError('AccessDenied', /at most 604800 seconds/));
    // Beyond what a Date holds (found by fuzz/sigv4.fuzz.ts: it threw a RangeError instead of answering).
    await assert.rejects(verifySigV2(at(11111735693200), lookup, { now }), (err: unknown) => {
      assert.ok(err instanceof DomainError && err.code === 'AccessDenied', String(err));
      assert.equal(err.details?.Expires, String(Math.floor(now.getTime() / 1000) + 11111735693200));
      return true;
    });
  });

  test('missing or malformed parameters', async () => {
    const needs = /^Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters$/;
    for (const q of ['AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x', 'Signature=x&Expires=1', 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1', 'AWSAccessKeyId=&Signature=x&Expires=1']) {
      await assert.rejects(verifySigV2({ method: 'GET', url: `/b/k?${q}`, headers: {} }, lookup), domainError('AccessDenied', needs), q);
    }
    for (const expires of ['soon', '-5', '1.5', '']) {
      await assert.rejects(
        verifySigV2({ method: 'GET', url: `/b/k?AWSAccessKeyId=${KEY}&Signature=x&Expires=${expires}`, headers: {} }, lookup),
        domainError('AccessDenied', /^Invalid date \(should be seconds since epoch\): /),
        expires,
      );
    }
  });

  test('x-amz-* parameters are signed as headers (botocore puts x-amz-security-token there)', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const expires = String(now.getTime() / 1000 + 60);
    const toSign = `GET\n\n\n${expires}\nx-amz-security-token:tok+en\n/b/k`;
    const url = `/b/k?AWSAccessKeyId=${KEY}&Signature=${encodeURIComponent(signV2(SECRET, toSign))}&Expires=${expires}&x-amz-security-token=tok%2Ben`;
    await verifySigV2({ method: 'GET', url, headers: {} }, lookup, { now });
    await assert.rejects(verifySigV2({ method: 'GET', url: url.replace('tok%2Ben', 'other'), headers: {} }, lookup, { now }), domainError('SignatureDoesNotMatch'));
  });
});

describe('the canonical resource', () => {
  test('sub-resources only, sorted, values decoded; listing parameters left out', () => {
    assert.equal(canonicalResource('/b/k?versionId=v%2B1&uploadId=u&prefix=p&acl'), '/b/k?acl&uploadId=u&versionId=v+1');
    assert.equal(canonicalResource('/b/k?response-content-type=text%2Fhtml&list-type=2'), '/b/k?response-content-type=text/html');
    assert.equal(canonicalResource('/b?delete'), '/b/?delete');
    assert.equal(canonicalResource('/b?delete', undefined, true), '/b?delete');
    assert.equal(canonicalResource('/k', 'b'), '/b/k');
    assert.equal(canonicalResource('', undefined), '/');
    assert.equal(canonicalResource('http://proxy.example/b/k?acl'), '/b/k?acl');
  });

  test('a sub-resource is recognised however it is spelled, as the router reads it', () => {
    // The router decodes ?%61cl to ?acl: the signature must cover it.
    assert.equal(canonicalResource('/b/k?%61cl'), '/b/k?acl');
    assert.equal(canonicalResource('/b/k?tagging='), '/b/k?tagging');
  });

  test('a bucket named path-style without its slash: /bucket/ as botocore and boto sign it, or /bucket as sent', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const headers = { date: now.toUTCString() };
    for (const resource of ['/b/', '/b']) {
      const sig = signV2(SECRET, `PUT\n\n\n${headers.date}\n${resource}`);
      await verifySigV2(signed('PUT', '/b', headers, sig), lookup, { now });
    }
    // A key is not a bucket: /b/k is never /b/k/.
    await assert.rejects(verifySigV2(signed('GET', '/b/k', headers, signV2(SECRET, `GET\n\n\n${headers.date}\n/b/k/`)), lookup, { now }), domainError('SignatureDoesNotMatch'));
  });

  test('a signature for one object does not verify for another, nor with an added sub-resource', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const headers = { date: now.toUTCString() };
    const sig = signV2(SECRET, `PUT\n\n\n${headers.date}\n/b/k`);
    await verifySigV2(signed('PUT', '/b/k', headers, sig), lookup, { now });
    for (const url of ['/b/k2', '/b/k?acl', '/b/k?tagging', '/b/k?partNumber=1&uploadId=x', '/other/k']) {
      await assert.rejects(verifySigV2(signed('PUT', url, headers, sig), lookup, { now }), domainError('SignatureDoesNotMatch'), url);
    }
    // With a virtual-hosted Host, the bucket the router takes is the one signed.
    await assert.rejects(verifySigV2(signed('PUT', '/k', headers, sig), lookup, { now, hostBucket: 'c' }), domainError('SignatureDoesNotMatch'));
    await verifySigV2(signed('PUT', '/k', headers, sig), lookup, { now, hostBucket: 'b' });
  });
});

describe('refusals', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const date = now.toUTCString();
  const good = (extra: IncomingHttpHeaders = {}) => signed('GET', '/b/k', { date, ...extra }, signV2(SECRET, `GET\n\n\n${date}\n/b/k`));

  test('a malformed Authorization header: InvalidArgument', async () => {
    for (const auth of ['AWS ', `AWS ${KEY}`, `AWS ${KEY}:`, `AWS :sig`, `AWS ${KEY}:a b`]) {
      await assert.rejects(
        verifySigV2({ method: 'GET', url: '/b/k', headers: { date, authorization: auth } }, lookup, { now }),
        domainError('InvalidArgument', /^AWS authorization header is invalid\. {2}Expected AwsAccessKeyId:signature$/),
        auth,
      );
    }
  });

  test('no usable date: AccessDenied; too far from now: RequestTimeTooSkewed', async () => {
    await assert.rejects(verifySigV2(signed('GET', '/b/k', {}, 'x'), lookup, { now }), domainError('AccessDenied', /requires a valid Date or x-amz-date header/));
    await assert.rejects(verifySigV2(signed('GET', '/b/k', { date: 'yesterday' }, 'x'), lookup, { now }), domainError('AccessDenied', /requires a valid Date or x-amz-date header/));
    await assert.rejects(verifySigV2(signed('GET', '/b/k', { date, 'x-amz-date': 'nonsense' }, 'x'), lookup, { now }), domainError('AccessDenied'));
    const old = new Date(now.getTime() - 16 * 60_000).toUTCString();
    await assert.rejects(verifySigV2(signed('GET', '/b/k', { date: old }, 'x'), lookup, { now }), (err: unknown) => {
      assert.ok(err instanceof DomainError);
      assert.equal(err.code, 'RequestTimeTooSkewed');
      assert.equal(err.details.RequestTime, old);
      assert.equal(err.details.MaxAllowedSkewMilliseconds, '900000');
      return true;
    });
  });

  test('an unknown key: InvalidAccessKeyId; a wrong signature: SignatureDoesNotMatch with the string to sign', async () => {
    await verifySigV2(good(), lookup, { now });
    const unknown = { ...good(), headers: { date, authorization: 'AWS AKIDNOSUCH:abc=' } };
    await assert.rejects(verifySigV2(unknown, lookup, { now }), (err: unknown) => {
      assert.ok(err instanceof DomainError && err.code === 'InvalidAccessKeyId');
      assert.deepEqual(err.details, { AWSAccessKeyId: 'AKIDNOSUCH' });
      return true;
    });
    const wrong = signed('GET', '/b/k', { date }, signV2('not-the-secret', `GET\n\n\n${date}\n/b/k`));
    await assert.rejects(verifySigV2(wrong, lookup, { now }), (err: unknown) => {
      assert.ok(err instanceof DomainError && err.code === 'SignatureDoesNotMatch');
      assert.equal(err.details.StringToSign, `GET\n\n\n${date}\n/b/k`);
      assert.equal(err.details.AWSAccessKeyId, KEY);
      assert.match(err.details.StringToSignBytes, /^47 45 54 0a/);
      return true;
    });
  });

  test('an x-amz-* header added to a signed request breaks it (SigV2 signs them all)', async () => {
    await assert.rejects(verifySigV2(good({ 'x-amz-copy-source': '/other/secret' }), lookup, { now }), domainError('SignatureDoesNotMatch'));
    await assert.rejects(verifySigV2(good({ 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' }), lookup, { now }), domainError('SignatureDoesNotMatch'));
  });

  test('the Authorization header and query credentials together: InvalidArgument', async () => {
    const req = good();
    for (const q of ['AWSAccessKeyId=x', 'Signature=x', 'X-Amz-Signature=x']) {
      await assert.rejects(verifySigV2({ ...req, url: `/b/k?${q}` }, lookup, { now }), domainError('InvalidArgument', /Only one auth mechanism allowed/), q);
    }
  });

  test('aws-chunked payloads are SigV4 only; a hex payload hash is kept for the body check', async () => {
    for (const framing of ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']) {
      const toSign = `PUT\n\n\n${date}\nx-amz-content-sha256:${framing}\n/b/k`;
      const req = signed('PUT', '/b/k', { date, 'x-amz-content-sha256': framing }, signV2(SECRET, toSign));
      await assert.rejects(verifySigV2(req, lookup, { now }), domainError('InvalidRequest', /Signature Version 4/), framing);
    }
    const hex = 'a'.repeat(64);
    const req = signed('PUT', '/b/k', { date, 'x-amz-content-sha256': hex }, signV2(SECRET, `PUT\n\n\n${date}\nx-amz-content-sha256:${hex}\n/b/k`));
    const v = await verifySigV2(req, lookup, { now });
    assert.equal(v.payloadHash, hex);
    // And a SigV2 signature can never seed a chunk signature chain.
    assert.throws(() => chunkSigningOf(v), domainError('InvalidRequest'));
  });
});

describe('sigV2Flavour', () => {
  test('names the form a request is signed with', () => {
    assert.equal(sigV2Flavour({ url: '/b/k', headers: { authorization: 'AWS a:b' } }), 'header');
    assert.equal(sigV2Flavour({ url: '/b/k', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=…' } }), undefined);
    assert.equal(sigV2Flavour({ url: '/b/k?AWSAccessKeyId=a&Expires=1&Signature=s', headers: {} }), 'query');
    assert.equal(sigV2Flavour({ url: '/b/k?Signature=s', headers: {} }), 'query');
    assert.equal(sigV2Flavour({ url: '/b/k?AWSAccessKeyId=a&X-Amz-Signature=s', headers: {} }), undefined);
    assert.equal(sigV2Flavour({ url: '/b/k?prefix=a', headers: {} }), undefined);
  });
});
