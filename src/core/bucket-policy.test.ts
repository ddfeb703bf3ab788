// The policy language: what compiles, into what, and what S3 refuses with
// which message; S3's definition of a public policy; the Block Public Access
// setting. No database: evaluation is Postgres's (test/s3-bucket-policy.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy, likeMatches, MalformedPolicy, parseBlockPublicAccess, policyVerdict } from './bucket-policy.ts';

const B = 'photos';
const U = '6f1c1d7e-2f4a-4a57-9d0e-3a3f9f6c8b21';

function doc(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
const stmt = (extra: object = {}) => ({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*`, ...extra });

function refusal(text: string, bucket = B): string {
  try {
    compilePolicy(text, bucket);
  } catch (err) {
    assert.ok(err instanceof MalformedPolicy, String(err));
    return err.message;
  }
  assert.fail(`compiled: ${text}`);
}

describe('compilePolicy', () => {
  it('compiles a statement into LIKE patterns relative to the bucket', () => {
    const { statements } = compilePolicy(doc(stmt({ Sid: 's1', Resource: [`arn:aws:s3:::${B}/public/*`, `arn:aws:s3:::${B}/a?c_%.txt`] })), B);
    assert.deepEqual(statements, [
      {
        sid: 's1',
        effect: 'Allow',
        principals: null,
        notPrincipal: false,
        actions: ['s3:getobject'],
        notAction: false,
        resources: ['/public/%', '/a_c\\_\\%.txt'],
        notResource: false,
        conditions: [],
      },
    ]);
  });

  it('takes one statement as an object, actions in any case and with wildcards', () => {
    const { statements } = compilePolicy(JSON.stringify({ Statement: stmt({ Action: ['S3:Get*', 's3:*', '*'] }) }), B);
    assert.deepEqual(statements[0].actions, ['s3:get%', 's3:%', '%']);
  });

  it('names principals by canonical id and by IAM user ARN; "*" and {"AWS":"*"} are anyone', () => {
    const one = compilePolicy(doc(stmt({ Principal: { CanonicalUser: U.toUpperCase(), AWS: [`arn:aws:iam::123456789012:user/${U}`] } })), B);
    assert.deepEqual(one.statements[0].principals, [U]);
    assert.equal(compilePolicy(doc(stmt({ Principal: { AWS: '*' } })), B).statements[0].principals, null);
    assert.deepEqual(compilePolicy(doc(stmt({ Principal: { CanonicalUser: 'aerostore' } })), B).statements[0].principals, ['aerostore']);
    assert.equal(compilePolicy(doc(stmt({ Principal: undefined, NotPrincipal: { CanonicalUser: U } })), B).statements[0].notPrincipal, true);
  });

  it('keeps policy variables for Postgres, and IAM escapes as literals; 2008-10-17 has no variables', () => {
    const { statements } = compilePolicy(doc(stmt({ Resource: `arn:aws:s3:::${B}/\${aws:userid}/\${aws:username}/\${*}\${?}\${$}` })), B);
    assert.deepEqual(statements[0].resources, ['/${aws:userid}/${aws:username}/*?\\$']);
    const old = compilePolicy(JSON.stringify({ Version: '2008-10-17', Statement: stmt({ Resource: `arn:aws:s3:::${B}/\${aws:userid}` }) }), B);
    assert.deepEqual(old.statements[0].resources, ['/\\$\\{aws:userid}']);
  });

  it('normalises conditions: operator, qualifier, IfExists, keys in lower case, values per type', () => {
    const { statements } = compilePolicy(
      doc(
        stmt({
          Condition: {
            IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '::1'] },
            'ForAnyValue:StringLikeIfExists': { 's3:RequestObjectTagKeys': 'env*' },
            Bool: { 'aws:SecureTransport': true },
            DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' },
            NumericLessThanEquals: { 's3:max-keys': 10 },
            StringEqualsIgnoreCase: { 'aws:UserAgent': 'Curl' },
            Null: { 's3:ExistingObjectTag/Team': 'false' },
          },
        }),
      ),
      B,
    );
    assert.deepEqual(statements[0].conditions, [
      { op: 'ipaddress', key: 'aws:sourceip', values: ['10.0.0.0/8', '::1'], ifExists: false, set: null },
      { op: 'stringlike', key: 's3:requestobjecttagkeys', values: ['env%'], ifExists: true, set: 'any' },
      { op: 'bool', key: 'aws:securetransport', values: ['true'], ifExists: false, set: null },
      { op: 'datelessthan', key: 'aws:currenttime', values: ['2030-01-01T00:00:00.000Z'], ifExists: false, set: null },
      { op: 'numericlessthanequals', key: 's3:max-keys', values: ['10'], ifExists: false, set: null },
      { op: 'stringequalsignorecase', key: 'aws:useragent', values: ['curl'], ifExists: false, set: null },
      { op: 'null', key: 's3:existingobjecttag/team', values: ['false'], ifExists: false, set: null },
    ]);
  });

  const REFUSED: Array<[string, string, string]> = [
    ['not JSON', 'x', "Policies must be valid JSON and the first byte must be '{'"],
    ['a JSON array', '[]', "Policies must be valid JSON and the first byte must be '{'"],
    ['cut short', '{"Statement": [', "Policies must be valid JSON and the first byte must be '{'"],
    ['no Statement', '{"Version": "2012-10-17"}', 'Missing required field Statement'],
    ['an unknown top-level field', JSON.stringify({ Statement: stmt(), Foo: 1 }), 'Unknown field Foo'],
    ['an unknown version', JSON.stringify({ Version: '2020-01-01', Statement: stmt() }), 'Invalid policy syntax.'],
    ['no Effect', doc(stmt({ Effect: undefined })), 'Missing required field Effect'],
    ['a bad Effect', doc(stmt({ Effect: 'allow' })), 'Invalid effect: allow'],
    ['no Principal', doc(stmt({ Principal: undefined })), 'Missing required field Principal'],
    ['Principal and NotPrincipal', doc(stmt({ NotPrincipal: '*' })), 'Invalid policy syntax.'],
    ['an account id', doc(stmt({ Principal: { AWS: '123456789012' } })), 'Invalid principal in policy'],
    ['a role ARN', doc(stmt({ Principal: { AWS: `arn:aws:iam::1:role/${U}` } })), 'Invalid principal in policy'],
    ['a service principal', doc(stmt({ Principal: { Service: 'logging.s3.amazonaws.com' } })), 'Invalid principal in policy'],
    ['a canonical id that is no uuid', doc(stmt({ Principal: { CanonicalUser: 'abc' } })), 'Invalid principal in policy'],
    ['an unknown action', doc(stmt({ Action: 's3:Fly' })), 'Policy has invalid action'],
    ['another service', doc(stmt({ Action: 'iam:PassRole' })), 'Policy has invalid action'],
    ['a wildcard matching nothing', doc(stmt({ Action: 's3:Zz*' })), 'Policy has invalid action'],
    ['Resource *', doc(stmt({ Resource: '*' })), 'Policy has invalid resource'],
    ['another bucket', doc(stmt({ Resource: 'arn:aws:s3:::other/*' })), 'Policy has invalid resource'],
    ['a longer bucket name', doc(stmt({ Resource: `arn:aws:s3:::${B}2/*` })), 'Policy has invalid resource'],
    ['a bucket wildcard', doc(stmt({ Resource: `arn:aws:s3:::${B}*` })), 'Policy has invalid resource'],
    ['an unknown variable', doc(stmt({ Resource: `arn:aws:s3:::${B}/\${aws:SourceIp}/*` })), 'Policy has invalid resource'],
    ['an object action on the bucket', doc(stmt({ Resource: `arn:aws:s3:::${B}` })), 'Action does not apply to any resource(s) in statement'],
    ['a bucket action on objects', doc(stmt({ Action: 's3:ListBucket' })), 'Action does not apply to any resource(s) in statement'],
    ['an unknown operator', doc(stmt({ Condition: { StringSortOf: { 'aws:UserAgent': 'x' } } })), 'Invalid Condition type : StringSortOf'],
    ['an unknown condition key', doc(stmt({ Condition: { StringEquals: { 'aws:Mood': 'x' } } })), 'Policy has an invalid condition key'],
    ['a bad CIDR', doc(stmt({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } })), 'Invalid policy syntax.'],
    ['a bad date', doc(stmt({ Condition: { DateLessThan: { 'aws:CurrentTime': 'soon' } } })), 'Invalid policy syntax.'],
    ['duplicate Sids', doc(stmt({ Sid: 'a' }), stmt({ Sid: 'a' })), 'Statement IDs (SID) in a single policy must be unique'],
    ['more than 20 KB', doc(stmt({ Sid: 'x'.repeat(21 * 1024) })), 'Policies cannot exceed 20 KB in size'],
  ];
  for (const [what, text, message] of REFUSED) {
    it(`refuses ${what}: "${message}"`, () => assert.equal(refusal(text), message));
  }
});

describe('likeMatches', () => {
  it('matches as Postgres LIKE does', () => {
    assert.equal(likeMatches('s3:get%', 's3:getobject'), true);
    assert.equal(likeMatches('s3:get%', 's3:putobject'), false);
    assert.equal(likeMatches('%object', 's3:getobject'), true);
    assert.equal(likeMatches('s3:_etobject', 's3:getobject'), true);
    assert.equal(likeMatches('a\\%b', 'a%b'), true);
    assert.equal(likeMatches('a\\%b', 'axb'), false);
    assert.equal(likeMatches('%a%b%c', 'xxaxxbxxc'), true);
    assert.equal(likeMatches('%a%b%c', 'xxaxxbxx'), false);
    assert.equal(likeMatches('%', ''), true);
    assert.equal(likeMatches('_', ''), false);
  });
});

describe("S3's public policy", () => {
  const isPublic = (...s: object[]) => compilePolicy(doc(...s), B).isPublic;

  it('Principal * granting a read, list or write is public', () => {
    assert.equal(isPublic(stmt()), true);
    assert.equal(isPublic(stmt({ Action: 's3:*' })), true);
    assert.equal(isPublic(stmt({ Action: 's3:PutObject' })), true);
    assert.equal(isPublic(stmt({ Action: 's3:ListBucket', Resource: `arn:aws:s3:::${B}` })), true);
    assert.equal(isPublic(stmt({ Principal: undefined, NotPrincipal: { CanonicalUser: U } })), true);
  });

  it('fixed principals, a narrow SourceIp, a fixed aws:userid, or a Deny are not', () => {
    assert.equal(isPublic(stmt({ Principal: { CanonicalUser: U } })), false);
    assert.equal(isPublic(stmt({ Condition: { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } })), false);
    assert.equal(isPublic(stmt({ Condition: { StringEquals: { 'aws:userid': U } } })), false);
    assert.equal(isPublic(stmt({ Effect: 'Deny' })), false);
    assert.equal(isPublic(stmt({ Action: 's3:GetBucketAcl', Resource: `arn:aws:s3:::${B}` })), true, 's3:Get* is a bad action');
  });

  it('a broad SourceIp, an IfExists, a wildcard userid or an unrelated condition leave it public', () => {
    assert.equal(isPublic(stmt({ Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } })), true);
    assert.equal(isPublic(stmt({ Condition: { IpAddressIfExists: { 'aws:SourceIp': '192.0.2.0/24' } } })), true);
    assert.equal(isPublic(stmt({ Condition: { StringLike: { 'aws:userid': '*' } } })), true);
    assert.equal(isPublic(stmt({ Condition: { Bool: { 'aws:SecureTransport': 'true' } } })), true);
  });
});

describe('AEROSTORE_BLOCK_PUBLIC_ACCESS', () => {
  it('reads true, false and lists of flags', () => {
    assert.deepEqual(parseBlockPublicAccess(undefined), { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false });
    assert.deepEqual(parseBlockPublicAccess('true'), { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    assert.deepEqual(parseBlockPublicAccess('blockpublicacls, RestrictPublicBuckets'), {
      BlockPublicAcls: true,
      IgnorePublicAcls: false,
      BlockPublicPolicy: false,
      RestrictPublicBuckets: true,
    });
    assert.throws(() => parseBlockPublicAccess('BlockEverything'), /unknown setting BlockEverything/);
  });
});

describe('policyVerdict', () => {
  it('answers only for its bucket and pre-check', () => {
    const p = { kind: 'anonymous' as const, policyVerdict: { bucketId: 'b1', use: 'list' as const, effect: 'allow' as const } };
    assert.equal(policyVerdict({ id: 'b1' }, p, 'list'), 'allow');
    assert.equal(policyVerdict({ id: 'b1' }, p, 'write'), null);
    assert.equal(policyVerdict({ id: 'b2' }, p, 'list'), null);
    assert.equal(policyVerdict({ id: 'b1' }, { kind: 'anonymous' }, 'list'), null);
  });
});
