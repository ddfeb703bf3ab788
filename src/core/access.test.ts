// The early-refusal mirror of the RLS rules (core/access.ts), as one table:
// every kind of principal against every bucket setup. The integration
// matrices (test/rls-matrix.test.ts, test/storage-rls-matrix.test.ts) check
// that Postgres agrees; this pins down the mirror itself without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../principals/principal.ts';
import { aclsApply, canAdminister, canList, canReadAll, canSee, canWrite, knowsWholeBucket, mayGiveAcl, missingObject } from './access.ts';
import type { BucketPolicy, BucketRow, ObjectOwnership } from './bucket.ts';
import { DomainError } from './errors.ts';

const OWNER = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-00000000000b';

const PRINCIPALS: Record<string, Principal> = {
  anonymous: { kind: 'anonymous' },
  owner: { kind: 'user', via: 'access-key', userId: OWNER, role: 'authenticated' },
  other: { kind: 'user', via: 'jwt', userId: OTHER, role: 'authenticated' },
  service: { kind: 'user', via: 'access-key', userId: null, role: 'service' },
};

function bucket(policy: BucketPolicy, opts: { memberWrites?: boolean; publicList?: boolean; ownership?: ObjectOwnership } = {}): BucketRow {
  return {
    id: '00000000-0000-4000-8000-0000000000b0',
    name: 'b',
    owner_id: OWNER,
    region: 'us-east-1',
    policy,
    cors: null,
    member_writes: opts.memberWrites ?? false,
    public_list: opts.publicList ?? false,
    file_size_limit: null,
    allowed_mime_types: null,
    download_events: false,
    object_ownership: opts.ownership ?? null,
    acl: null,
    created_at: new Date(0),
  };
}

/** [setup, principal] → [readAll, list, write, administer, see, knowsWholeBucket] */
const MATRIX: Array<[string, BucketRow, Record<keyof typeof PRINCIPALS, string>]> = [
  ['private', bucket('private'), { anonymous: '------', owner: 'RLWASK', other: '------', service: 'RLWASK' }],
  ['private, member writes', bucket('private', { memberWrites: true }), { anonymous: '------', owner: 'RLWASK', other: '-LW-S-', service: 'RLWASK' }],
  ['authenticated', bucket('authenticated'), { anonymous: '------', owner: 'RLWASK', other: 'RL--SK', service: 'RLWASK' }],
  ['public', bucket('public'), { anonymous: 'R---S-', owner: 'RLWASK', other: 'RL--SK', service: 'RLWASK' }],
  ['public, anonymous listing', bucket('public', { publicList: true }), { anonymous: 'RL--SK', owner: 'RLWASK', other: 'RL--SK', service: 'RLWASK' }],
];

const decide = (b: BucketRow, p: Principal) =>
  [
    canReadAll(b, p) ? 'R' : '-',
    canList(b, p) ? 'L' : '-',
    canWrite(b, p) ? 'W' : '-',
    canAdminister(b, p) ? 'A' : '-',
    canSee(b, p) ? 'S' : '-',
    knowsWholeBucket(b, p) ? 'K' : '-',
  ].join('');

describe('core/access: the RLS mirror', () => {
  for (const [setup, b, expected] of MATRIX) {
    it(`${setup}: read all, list, write, administer, see, knows the whole bucket`, () => {
      const got = Object.fromEntries(Object.entries(PRINCIPALS).map(([name, p]) => [name, decide(b, p)]));
      assert.deepEqual(got, expected);
    });
  }

  /**
   * Object ACLs a principal may give in each setup (storage.acl_allowed,
   * migration 0021): [setup] → per principal, one letter per list —
   * P public-read, A authenticated-read, U a grant to a named user, N none.
   */
  const LISTS: Record<string, string[] | null> = {
    P: [`FULL_CONTROL:${OTHER}`, 'READ:AllUsers'],
    A: [`FULL_CONTROL:${OTHER}`, 'READ:AuthenticatedUsers'],
    U: [`READ:${OWNER}`],
    N: null,
  };
  const ACL_MATRIX: Array<[string, BucketRow, Record<keyof typeof PRINCIPALS, string>]> = [
    ['private', bucket('private'), { anonymous: '---N', owner: 'PAUN', other: '--UN', service: 'PAUN' }],
    ['authenticated', bucket('authenticated'), { anonymous: '---N', owner: 'PAUN', other: '-AUN', service: 'PAUN' }],
    ['public', bucket('public'), { anonymous: '---N', owner: 'PAUN', other: 'PAUN', service: 'PAUN' }],
    ['private, BucketOwnerPreferred', bucket('private', { ownership: 'BucketOwnerPreferred' }), { anonymous: '---N', owner: 'PAUN', other: '--UN', service: 'PAUN' }],
    // ACLs disabled: only "no list" is a list anyone but the service role may store.
    ['public, BucketOwnerEnforced', bucket('public', { ownership: 'BucketOwnerEnforced' }), { anonymous: '---N', owner: '---N', other: '---N', service: 'PAUN' }],
  ];
  for (const [setup, b, expected] of ACL_MATRIX) {
    it(`${setup}: the object ACLs each principal may give`, () => {
      const got = Object.fromEntries(
        Object.entries(PRINCIPALS).map(([name, p]) => [name, Object.entries(LISTS).map(([letter, list]) => (mayGiveAcl(b, p, list) ? letter : '-')).join('')]),
      );
      assert.deepEqual(got, expected);
    });
  }

  it('object ACLs apply unless the bucket enforces bucket-owner ownership', () => {
    assert.equal(aclsApply(bucket('private')), true);
    assert.equal(aclsApply(bucket('private', { ownership: 'ObjectWriter' })), true);
    assert.equal(aclsApply(bucket('private', { ownership: 'BucketOwnerPreferred' })), true);
    assert.equal(aclsApply(bucket('private', { ownership: 'BucketOwnerEnforced' })), false);
  });

  it('answers a hidden object as missing only to whoever knows the whole bucket', () => {
    const code = (e: DomainError) => e.code;
    assert.equal(code(missingObject(bucket('authenticated'), PRINCIPALS.other, 'k')), 'NoSuchKey');
    assert.equal(code(missingObject(bucket('private', { memberWrites: true }), PRINCIPALS.other, 'k')), 'AccessDenied');
    assert.equal(code(missingObject(bucket('public'), PRINCIPALS.anonymous, 'k')), 'AccessDenied');
  });
});
