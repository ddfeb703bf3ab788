import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Error } from '../errors.ts';
import { hmacSha1Base64 } from '../../../test/support/sigv2.ts';
import { checkPolicy, decodePolicy, MAX_POLICY_LIFETIME_SECONDS, postPolicySignature, verifyPostSignature } from './post-policy.ts';

// "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)",
// Amazon S3 API reference: the policy (CRLF line ends), its base64 and signature as published.
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AWS_POLICY =
  'eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9';
const AWS_SIGNATURE = '8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e';

/** The example's form, field names lower-cased, key after ${filename} substitution. */
function awsForm(): Map<string, string> {
  return new Map([
    ['key', 'user/user1/MyPhoto.jpg'],
    ['acl', 'public-read'],
    ['success_action_redirect', 'http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html'],
    ['content-type', 'image/jpeg'],
    ['x-amz-meta-uuid', '14365123651274'],
    ['x-amz-server-side-encryption', 'AES256'],
    ['x-amz-credential', 'AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request'],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-date', '20151229T000000Z'],
    ['x-amz-meta-tag', ''],
    ['policy', AWS_POLICY],
    ['x-amz-signature', AWS_SIGNATURE],
  ]);
}
const BEFORE_EXPIRY = new Date('2015-12-29T12:00:00Z');
const V4 = { region: 'us-east-1', sigv2: true };

const b64 = (doc: unknown) => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)).toString('base64');
const code = (c: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof S3Error, String(err));
  assert.equal(err.code, c);
  if (message) assert.match(err.message, message);
  return true;
};

describe('POST policy: the AWS published example', () => {
  it('reproduces the published signature', () => {
    assert.equal(postPolicySignature(AWS_SECRET, '20151229', 'us-east-1', AWS_POLICY), AWS_SIGNATURE);
  });

  it('verifies the example form and accepts it against the policy', async () => {
    const verified = await verifyPostSignature(awsForm(), async (k) => (k === 'AKIAIOSFODNN7EXAMPLE' ? { accessKeyId: k, secretAccessKey: AWS_SECRET } : undefined), V4);
    assert.deepEqual(verified, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', version: 4 });
    const policy = decodePolicy(AWS_POLICY);
    assert.equal(policy.expiration.toISOString(), '2015-12-30T12:00:00.000Z');
    assert.equal(policy.conditions.length, 11);
    assert.deepEqual(checkPolicy(policy, awsForm(), 'sigv4examplebucket', BEFORE_EXPIRY), { minLength: 0, maxLength: Number.MAX_SAFE_INTEGER });
  });

  it('refuses it once expired, in another bucket, or with a changed field', () => {
    const policy = decodePolicy(AWS_POLICY);
    assert.throws(() => checkPolicy(policy, awsForm(), 'sigv4examplebucket', new Date('2015-12-30T12:00:00Z')), code('AccessDenied', /Policy expired/));
    assert.throws(() => checkPolicy(policy, awsForm(), 'otherbucket', BEFORE_EXPIRY), code('AccessDenied', /\$bucket/));
    const form = awsForm();
    form.set('key', 'user/user2/x.jpg');
    assert.throws(() => checkPolicy(policy, form, 'sigv4examplebucket', BEFORE_EXPIRY), code('AccessDenied', /starts-with.*\$key/));
    const extra = awsForm();
    extra.set('x-amz-meta-other', '1');
    assert.throws(() => checkPolicy(policy, extra, 'sigv4examplebucket', BEFORE_EXPIRY), code('AccessDenied', /Extra input fields: x-amz-meta-other/));
    const ignored = awsForm();
    ignored.set('x-ignore-submit', 'Upload');
    checkPolicy(policy, ignored, 'sigv4examplebucket', BEFORE_EXPIRY);
  });

  it('answers SignatureDoesNotMatch and InvalidAccessKeyId', async () => {
    const lookup = async (k: string) => (k === 'AKIAIOSFODNN7EXAMPLE' ? { accessKeyId: k, secretAccessKey: AWS_SECRET } : undefined);
    const tampered = awsForm();
    tampered.set('policy', b64({ expiration: '2030-01-01T00:00:00Z', conditions: [] }));
    await assert.rejects(verifyPostSignature(tampered, lookup, V4), code('SignatureDoesNotMatch'));
    const unknown = awsForm();
    unknown.set('x-amz-credential', 'AKIDUNKNOWN/20151229/us-east-1/s3/aws4_request');
    await assert.rejects(verifyPostSignature(unknown, lookup, V4), code('InvalidAccessKeyId'));
    const region = awsForm();
    region.set('x-amz-credential', 'AKIAIOSFODNN7EXAMPLE/20151229/eu-west-1/s3/aws4_request');
    await assert.rejects(verifyPostSignature(region, lookup, V4), code('AuthorizationQueryParametersError'));
    const noSignature = awsForm();
    noSignature.delete('x-amz-signature');
    await assert.rejects(verifyPostSignature(noSignature, lookup, V4), code('InvalidArgument'));
    const noPolicy = awsForm();
    noPolicy.delete('policy');
    await assert.rejects(verifyPostSignature(noPolicy, lookup, V4), code('AccessDenied'));
  });
});

// "Browser-Based Uploads Using POST (AWS Signature Version 2)", its example: the
// policy (LF line ends) and signature as AWS published them.
const V2_KEY = '15B4D3461F177624206A';
const V2_SECRET = 'uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o';
const V2_POLICY =
  'eyAiZXhwaXJhdGlvbiI6ICIyMDA3LTEyLTAxVDEyOjAwOjAwLjAwMFoiLAogICJjb25kaXRpb25zIjogWwogICAgeyJidWNrZXQiOiAiam9obnNtaXRoIn0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci9lcmljLyJdLAogICAgeyJhY2wiOiAicHVibGljLXJlYWQifSwKICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL2pvaG5zbWl0aC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwKICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtVHlwZSIsICJpbWFnZS8iXSwKICAgIHsieC1hbXotbWV0YS11dWlkIjogIjE0MzY1MTIzNjUxMjc0In0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiR4LWFtei1tZXRhLXRhZyIsICIiXQogIF0KfQo=';
const V2_SIGNATURE = '0RavWzkygo6QX9caELEqKi9kDbU=';

describe('POST policy: the AWS published SigV2 example', () => {
  const lookup = async (k: string) => (k === V2_KEY ? { accessKeyId: k, secretAccessKey: V2_SECRET } : undefined);
  const v2Form = () =>
    new Map([
      ['key', 'user/eric/MyPicture.jpg'],
      ['acl', 'public-read'],
      ['success_action_redirect', 'http://johnsmith.s3.amazonaws.com/successful_upload.html'],
      ['content-type', 'image/jpeg'],
      ['x-amz-meta-uuid', '14365123651274'],
      ['x-amz-meta-tag', 'Some,Tag,For,Picture'],
      ['awsaccesskeyid', V2_KEY],
      ['policy', V2_POLICY],
      ['signature', V2_SIGNATURE],
    ]);

  it('reproduces the published signature (base64 HMAC-SHA1 of the base64 policy) and verifies the form', async () => {
    assert.equal(hmacSha1Base64(V2_SECRET, V2_POLICY), V2_SIGNATURE);
    assert.deepEqual(await verifyPostSignature(v2Form(), lookup, V4), { accessKeyId: V2_KEY, version: 2 });
    checkPolicy(decodePolicy(V2_POLICY), v2Form(), 'johnsmith', new Date('2007-12-01T11:00:00Z'), MAX_POLICY_LIFETIME_SECONDS, 2);
  });

  it("answers S3's refusals", async () => {
    const changed = v2Form();
    changed.set('signature', V2_SIGNATURE.replace('0', '1'));
    await assert.rejects(verifyPostSignature(changed, lookup, V4), code('SignatureDoesNotMatch'));
    const unknown = v2Form();
    unknown.set('awsaccesskeyid', 'AKIDUNKNOWN');
    await assert.rejects(verifyPostSignature(unknown, lookup, V4), code('InvalidAccessKeyId'));
    const unsigned = v2Form();
    unsigned.delete('signature');
    await assert.rejects(verifyPostSignature(unsigned, lookup, V4), code('InvalidArgument', /must contain a field named 'signature'/));
    const nameless = v2Form();
    nameless.delete('awsaccesskeyid');
    await assert.rejects(verifyPostSignature(nameless, lookup, V4), code('InvalidArgument', /must contain a field named 'AWSAccessKeyId'/));
    // With SigV2 turned off (AEROSTORE_SIGV2=false), as S3 regions without it.
    await assert.rejects(verifyPostSignature(v2Form(), lookup, { region: 'us-east-1', sigv2: false }), code('InvalidRequest', /Please use AWS4-HMAC-SHA256/));
  });
});

describe('POST policy: conditions', () => {
  /** An hour from now: within the 7-day cap on a policy's lifetime. */
  const FUTURE = new Date(Date.now() + 3_600_000).toISOString();
  const form = (entries: Record<string, string>) => new Map(Object.entries(entries));

  it('exact matches in both spellings, case-insensitive field names', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [{ key: 'a' }, ['eq', '$Content-Type', 'text/plain'], { bucket: 'b' }] }));
    checkPolicy(policy, form({ key: 'a', 'content-type': 'text/plain' }), 'b');
    assert.throws(() => checkPolicy(policy, form({ key: 'a', 'content-type': 'text/html' }), 'b'), code('AccessDenied', /Policy Condition failed: \["eq", "\$content-type", "text\/plain"\]/));
    assert.throws(() => checkPolicy(policy, form({ key: 'a' }), 'b'), code('AccessDenied'));
  });

  it('starts-with, an empty prefix allowing anything', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [{ bucket: 'b' }, ['starts-with', '$key', 'up/'], ['starts-with', '$x-amz-meta-note', '']] }));
    checkPolicy(policy, form({ key: 'up/x', 'x-amz-meta-note': 'whatever' }), 'b');
    checkPolicy(policy, form({ key: 'up/' }), 'b');
    assert.throws(() => checkPolicy(policy, form({ key: 'down/x' }), 'b'), code('AccessDenied'));
  });

  it('content-length-range gives the bounds (the tightest of several)', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [['content-length-range', 1, 100], ['content-length-range', '5', '200'], { key: 'k' }, { bucket: 'b' }] }));
    assert.deepEqual(checkPolicy(policy, form({ key: 'k' }), 'b'), { minLength: 5, maxLength: 100 });
  });

  it('lists every uncovered field', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [{ key: 'k' }, { bucket: 'b' }] }));
    assert.throws(
      () => checkPolicy(policy, form({ key: 'k', acl: 'private', 'x-amz-meta-a': '1', policy: 'p', 'x-amz-signature': 's', 'x-ignore-me': '1' }), 'b'),
      code('AccessDenied', /Invalid according to Policy: Extra input fields: acl, x-amz-meta-a$/),
    );
  });

  it('the bucket is an input field: a policy without a bucket condition is refused', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [{ key: 'k' }] }));
    assert.throws(() => checkPolicy(policy, form({ key: 'k' }), 'b'), code('AccessDenied', /^Invalid according to Policy: Extra input fields: bucket$/));
    // A `bucket` field in the form is that same input, judged by the request's bucket.
    const covered = decodePolicy(b64({ expiration: FUTURE, conditions: [{ key: 'k' }, ['starts-with', '$bucket', 'b']] }));
    checkPolicy(covered, form({ key: 'k', bucket: 'not-b' }), 'b');
  });

  it('which signature fields need no condition depends on the signature version', () => {
    const policy = decodePolicy(b64({ expiration: FUTURE, conditions: [{ key: 'k' }, { bucket: 'b' }] }));
    const v2 = form({ key: 'k', awsaccesskeyid: 'AKID', signature: 's', policy: 'p' });
    checkPolicy(policy, v2, 'b', undefined, undefined, 2);
    assert.throws(() => checkPolicy(policy, v2, 'b', undefined, undefined, 4), code('AccessDenied', /Extra input fields: awsaccesskeyid, signature$/));
    assert.throws(() => checkPolicy(policy, form({ key: 'k', 'x-amz-signature': 's' }), 'b', undefined, undefined, 2), code('AccessDenied', /Extra input fields: x-amz-signature$/));
  });

  it("values with '$' and escapes: S3's \\$ is a literal dollar sign, a JSON \\\\ a backslash", () => {
    // The policy text as S3's guide writes it: `\$` inside a JSON string (not a JSON escape).
    const raw = `{"expiration": "${FUTURE}", "conditions": [{"bucket": "b"}, ["starts-with", "$key", "\\$price/"], {"x-amz-meta-note": "a\\\\$b \\u0041"}]}`;
    const policy = decodePolicy(Buffer.from(raw).toString('base64'));
    checkPolicy(policy, form({ key: '$price/x', 'x-amz-meta-note': 'a\\$b A' }), 'b');
    assert.throws(() => checkPolicy(policy, form({ key: '\\$price/x', 'x-amz-meta-note': 'a\\$b A' }), 'b'), code('AccessDenied'));
    // A value that is itself `$…` is compared as is.
    const dollar = decodePolicy(b64({ expiration: FUTURE, conditions: [{ bucket: 'b' }, { key: '$x' }] }));
    checkPolicy(dollar, form({ key: '$x' }), 'b');
  });

  it('refuses malformed documents with InvalidPolicyDocument', () => {
    for (const bad of [
      '!!!not base64',
      b64('not json'),
      b64([]),
      b64({ conditions: [] }),
      b64({ expiration: 'tomorrow', conditions: [] }),
      b64({ expiration: FUTURE }),
      b64({ expiration: FUTURE, conditions: [['matches', '$key', 'x']] }),
      b64({ expiration: FUTURE, conditions: [['eq', 'key', 'x']] }),
      b64({ expiration: FUTURE, conditions: [['starts-with', '$key']] }),
      b64({ expiration: FUTURE, conditions: [['content-length-range', 10, 1]] }),
      b64({ expiration: FUTURE, conditions: [['content-length-range', -1, 1]] }),
      b64({ expiration: FUTURE, conditions: [{ key: 'a', acl: 'b' }] }),
      b64({ expiration: FUTURE, conditions: [{ key: 1 }] }),
      b64({ expiration: FUTURE, conditions: ['key'] }),
    ]) {
      assert.throws(() => decodePolicy(bad), code('InvalidPolicyDocument'), bad);
    }
  });
});

describe('POST policy: expiration capped at 7 days', () => {
  const NOW = new Date('2030-06-01T12:00:00Z');
  const DAY = 86_400_000;
  const policyExpiring = (at: Date | string) => decodePolicy(b64({ expiration: typeof at === 'string' ? at : at.toISOString(), conditions: [{ key: 'k' }, { bucket: 'b' }] }));
  /** The form signed at `signed` (its x-amz-date), the condition on x-amz-date matching. */
  const formSignedAt = (signed: Date) => {
    const amzDate = signed.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    return { form: new Map([['key', 'k'], ['x-amz-date', amzDate]]), policy: (at: Date | string) => decodePolicy(b64({ expiration: typeof at === 'string' ? at : at.toISOString(), conditions: [{ key: 'k' }, { bucket: 'b' }, { 'x-amz-date': amzDate }] })) };
  };
  const capped = code('AccessDenied', /^Invalid according to Policy: Policy expiration must be at most 7 days/);

  it('is seven days, as a presigned URL', () => {
    assert.equal(MAX_POLICY_LIFETIME_SECONDS, 604_800);
  });

  it('accepts a policy expiring exactly 7 days after its x-amz-date', () => {
    const { form, policy } = formSignedAt(NOW);
    checkPolicy(policy(new Date(NOW.getTime() + 7 * DAY)), form, 'b', NOW);
    checkPolicy(policy(new Date(NOW.getTime() + 7 * DAY)), form, 'b', new Date(NOW.getTime() + 6 * DAY));
  });

  it('refuses one expiring later than that, the year 9999 included', () => {
    const { form, policy } = formSignedAt(NOW);
    assert.throws(() => checkPolicy(policy(new Date(NOW.getTime() + 7 * DAY + 1000)), form, 'b', NOW), capped);
    assert.throws(() => checkPolicy(policy('9999-12-31T23:59:59Z'), form, 'b', NOW), capped);
  });

  it('measures from x-amz-date: a policy signed long ago is refused though it expires soon', () => {
    const { form, policy } = formSignedAt(new Date(NOW.getTime() - 10 * DAY));
    assert.throws(() => checkPolicy(policy(new Date(NOW.getTime() + DAY)), form, 'b', NOW), capped);
  });

  it('measures from now too (15 minutes of skew): a policy dated in the future is held to now', () => {
    const { form, policy } = formSignedAt(new Date(NOW.getTime() + 30 * DAY));
    assert.throws(() => checkPolicy(policy(new Date(NOW.getTime() + 30 * DAY + 3_600_000)), form, 'b', NOW), capped);
    const skewed = formSignedAt(new Date(NOW.getTime() + 10 * 60_000));
    checkPolicy(skewed.policy(new Date(NOW.getTime() + 10 * 60_000 + 7 * DAY)), skewed.form, 'b', NOW);
  });

  it('without an x-amz-date, measures from now', () => {
    const form = new Map([['key', 'k']]);
    checkPolicy(policyExpiring(new Date(NOW.getTime() + 7 * DAY)), form, 'b', NOW);
    assert.throws(() => checkPolicy(policyExpiring(new Date(NOW.getTime() + 8 * DAY)), form, 'b', NOW), capped);
  });

  it('is shorter when AEROSTORE_SIGNED_URL_MAX_EXPIRY is, never longer', () => {
    const { form, policy } = formSignedAt(NOW);
    checkPolicy(policy(new Date(NOW.getTime() + 3_600_000)), form, 'b', NOW, 3600);
    assert.throws(
      () => checkPolicy(policy(new Date(NOW.getTime() + 3_600_000 + 1000)), form, 'b', NOW, 3600),
      code('AccessDenied', /at most 3600 seconds/),
    );
    assert.throws(() => checkPolicy(policy(new Date(NOW.getTime() + 8 * DAY)), form, 'b', NOW, 30 * 24 * 3600), capped);
  });
});
