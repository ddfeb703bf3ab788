// The early-refusal mirror of the RLS rules (core/access.ts), as one table:
// every kind of principal against every bucket setup. The integration
// matrices (test/rls-matrix.test.ts, test/storage-rls-matrix.test.ts) check
// that Postgres agrees; this pins down the mirror itself without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../principals/principal.ts';
import { canAdminister, canList, canReadAll, canSee, canWrite, knowsWholeBucket, missingObject } from './access.ts';
import type { BucketPolicy, BucketRow } from './bucket.ts';
import { DomainError } from './errors.ts';

const OWNER = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-00000000000b';

const PRINCIPALS: Record<string, Principal> = {
  anonymous: { kind: 'anonymous' },
  owner: { kind: 'user', via: 'access-key', userId: OWNER, role: 'authenticated' },
  other: { kind: 'user', via: 'jwt', userId: OTHER, role: 'authenticated' },
  service: { kind: 'user', via: 'access-key', userId: null, role: 'service' },
};

function bucket(policy: BucketPolicy, opts: { memberWrites?: boolean; publicList?: boolean } = {}): BucketRow {
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

  it('answers a hidden object as missing only to whoever knows the whole bucket', () => {
    const code = (e: DomainError) => e.code;
    assert.equal(code(missingObject(bucket('authenticated'), PRINCIPALS.other, 'k')), 'NoSuchKey');
    assert.equal(code(missingObject(bucket('private', { memberWrites: true }), PRINCIPALS.other, 'k')), 'AccessDenied');
    assert.equal(code(missingObject(bucket('public'), PRINCIPALS.anonymous, 'k')), 'AccessDenied');
  });
});
