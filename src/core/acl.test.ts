// The ACL model (core/acl.ts) without a server: canned ACLs as grants, the
// stored form and back, grantees that name nobody, and bucket ACLs as the
// bucket's read preset.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketAclSettings, bucketGrants, CANNED_ACLS, cannedAcl, cannedGrants, grantsOf, groupGrantee, storedAcl, userGrantee, type Grant } from './acl.ts';
import { DomainError } from './errors.ts';

const OWNER = '00000000-0000-4000-8000-00000000000a';
const BUCKET_OWNER = '00000000-0000-4000-8000-00000000000b';

const stored = (canned: (typeof CANNED_ACLS)[number], owner: string | null = OWNER, bucketOwner: string | null = BUCKET_OWNER) =>
  storedAcl(cannedGrants(canned, owner, bucketOwner), owner);

describe('core/acl', () => {
  it('canned ACLs on an object, as stored (null: the owner’s FULL_CONTROL alone)', () => {
    assert.deepEqual(Object.fromEntries(CANNED_ACLS.map((c) => [c, stored(c)])), {
      private: null,
      'public-read': [`FULL_CONTROL:${OWNER}`, 'READ:AllUsers'],
      'public-read-write': [`FULL_CONTROL:${OWNER}`, 'READ:AllUsers', 'WRITE:AllUsers'],
      'authenticated-read': [`FULL_CONTROL:${OWNER}`, 'READ:AuthenticatedUsers'],
      'aws-exec-read': null,
      'bucket-owner-read': [`FULL_CONTROL:${OWNER}`, `READ:${BUCKET_OWNER}`],
      'bucket-owner-full-control': [`FULL_CONTROL:${OWNER}`, `FULL_CONTROL:${BUCKET_OWNER}`],
      'log-delivery-write': [`FULL_CONTROL:${OWNER}`, 'WRITE:LogDelivery', 'READ_ACP:LogDelivery'],
    });
    // The bucket owner writing its own object is named once; the root key is "aerostore".
    assert.equal(stored('bucket-owner-full-control', OWNER, OWNER), null);
    assert.deepEqual(stored('public-read', null, null), ['FULL_CONTROL:aerostore', 'READ:AllUsers']);
  });

  it('the stored form reads back as the grants it was made of', () => {
    const grants: Grant[] = [
      { grantee: { kind: 'user', id: BUCKET_OWNER }, permission: 'READ_ACP' },
      { grantee: { kind: 'group', group: 'AuthenticatedUsers' }, permission: 'READ' },
      { grantee: { kind: 'user', id: 'aerostore' }, permission: 'WRITE_ACP' },
    ];
    assert.deepEqual(grantsOf(storedAcl(grants, OWNER), OWNER), grants);
    assert.deepEqual(grantsOf(null, OWNER), [{ grantee: { kind: 'user', id: OWNER }, permission: 'FULL_CONTROL' }]);
    // A grant repeated is stored once.
    assert.deepEqual(storedAcl([...grants, grants[0]], OWNER), storedAcl(grants, OWNER));
  });

  it('grantees that name nobody are InvalidArgument; unknown canned ACLs too', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as DomainError).code;
      }
      return 'accepted';
    };
    assert.equal(code(() => userGrantee('not-a-user')), 'InvalidArgument');
    assert.equal(code(() => userGrantee('79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be')), 'InvalidArgument');
    assert.deepEqual(userGrantee(` ${OWNER.toUpperCase()} `), { kind: 'user', id: OWNER });
    assert.deepEqual(userGrantee('aerostore'), { kind: 'user', id: 'aerostore' });
    assert.equal(code(() => groupGrantee('http://acs.amazonaws.com/groups/global/Everyone')), 'InvalidArgument');
    assert.deepEqual(groupGrantee('http://acs.amazonaws.com/groups/s3/LogDelivery'), { kind: 'group', group: 'LogDelivery' });
    assert.equal(code(() => cannedAcl('public')), 'InvalidArgument');
    assert.equal(cannedAcl(' public-read '), 'public-read');
  });

  it('a bucket ACL is the bucket’s read preset; what it cannot be is refused, not dropped', () => {
    const bucket = { owner_id: OWNER };
    const settings = (canned: (typeof CANNED_ACLS)[number]) => bucketAclSettings({ canned }, bucket);
    assert.deepEqual(settings('private'), { policy: 'private', publicList: false, memberWrites: false, acl: null });
    assert.deepEqual(settings('public-read'), { policy: 'public', publicList: true, memberWrites: false, acl: null });
    assert.deepEqual(settings('public-read-write'), { policy: 'public', publicList: true, memberWrites: false, acl: null });
    assert.deepEqual(settings('authenticated-read'), { policy: 'authenticated', publicList: false, memberWrites: false, acl: null });
    assert.deepEqual(settings('log-delivery-write'), { policy: 'private', publicList: false, memberWrites: false, acl: ['WRITE:LogDelivery', 'READ_ACP:LogDelivery'] });
    const group = (g: 'AllUsers' | 'AuthenticatedUsers', permission: Grant['permission']): Grant => ({ grantee: { kind: 'group', group: g }, permission });
    assert.deepEqual(bucketAclSettings({ grants: [group('AuthenticatedUsers', 'FULL_CONTROL')] }, bucket), {
      policy: 'authenticated',
      publicList: false,
      memberWrites: true,
      acl: null,
    });
    for (const grants of [[group('AllUsers', 'WRITE')], [group('AllUsers', 'READ_ACP')]]) {
      assert.throws(() => bucketAclSettings({ grants }, bucket), (err: DomainError) => err.code === 'NotSupported');
    }
    // Grants to other users are kept in the bucket's list (migration 0028).
    const user = (permission: Grant['permission']): Grant => ({ grantee: { kind: 'user', id: BUCKET_OWNER }, permission });
    assert.deepEqual(bucketAclSettings({ grants: [user('READ'), user('WRITE_ACP'), user('READ')] }, bucket), {
      policy: 'private',
      publicList: false,
      memberWrites: false,
      acl: [`READ:${BUCKET_OWNER}`, `WRITE_ACP:${BUCKET_OWNER}`],
    });
    // The owner's own grant is implied, and GetBucketAcl's answer goes back in unchanged.
    const b = { owner_id: OWNER, policy: 'authenticated' as const, member_writes: true, acl: ['WRITE:LogDelivery', `READ:${BUCKET_OWNER}`] };
    const back = bucketAclSettings({ grants: bucketGrants(b) }, b);
    assert.deepEqual(back, { policy: 'authenticated', publicList: false, memberWrites: true, acl: ['WRITE:LogDelivery', `READ:${BUCKET_OWNER}`] });
  });
});
