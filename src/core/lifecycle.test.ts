import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LifecycleRule } from './bucket.ts';
import { DomainError } from './errors.ts';
import {
  currentExpiration,
  dueCutoff,
  dueDate,
  expirationHeader,
  parseIsoTime,
  ruleApplies,
  validateLifecycleRules,
  type LifecycleRuleInput,
} from './lifecycle.ts';

const rule = (r: Partial<LifecycleRuleInput>): LifecycleRuleInput => ({ id: 'r', status: 'Enabled', filter: {}, expiration: { days: 1 }, ...r });

function refusal(rules: LifecycleRuleInput[]): [string, string] {
  try {
    validateLifecycleRules(rules);
  } catch (err) {
    assert.ok(err instanceof DomainError, String(err));
    return [err.code, err.message];
  }
  assert.fail('accepted');
}

describe('validateLifecycleRules', () => {
  it('keeps what was written, in its form, and names rules given no ID', () => {
    const [a, b, c] = validateLifecycleRules([
      rule({ id: 'logs', filter: { prefix: 'logs/' }, expiration: { days: 30 } }),
      rule({ id: 'and', filter: { prefix: 'tmp/', tags: [{ key: 'k', value: 'v' }], sizeGreaterThan: 10, and: true }, expiration: { date: new Date('2030-01-01T00:00:00Z') } }),
      rule({ id: undefined, status: 'Disabled', noncurrentVersionExpiration: { noncurrentDays: 3, newerNoncurrentVersions: 2 }, expiration: undefined }),
    ]);
    assert.deepEqual(a, { id: 'logs', enabled: true, filter: { prefix: 'logs/' }, expiration: { days: 30 } });
    assert.deepEqual(b.expiration, { date: '2030-01-01T00:00:00.000Z' });
    assert.equal(b.filter?.and, true);
    assert.equal(c.enabled, false);
    assert.deepEqual(c.noncurrentVersionExpiration, { noncurrentDays: 3, newerNoncurrentVersions: 2 });
    assert.match(c.id, /^[A-Za-z0-9+/=]{20,}$/);
    // The older form: a rule-level Prefix.
    const [legacy] = validateLifecycleRules([{ id: 'p', status: 'Enabled', prefix: 'a/', abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } }]);
    assert.deepEqual(legacy, { id: 'p', enabled: true, prefix: 'a/', abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } });
  });

  it('refuses what S3 refuses, with its codes and words', () => {
    const cases: Array<[LifecycleRuleInput[], string, RegExp]> = [
      [[], 'InvalidRequest', /^At least one lifecycle rule must be specified\.$/],
      [Array.from({ length: 1001 }, (_, i) => rule({ id: `r${i}` })), 'InvalidRequest', /allowed limit of 1000 rules/],
      [[rule({ id: 'x'.repeat(256) })], 'InvalidArgument', /^ID length should not exceed allowed limit of 255$/],
      [[rule({}), rule({})], 'InvalidArgument', /^Rule ID must be unique/],
      [[rule({ status: 'enabled' })], 'MalformedXML', /Status/],
      [[rule({ filter: undefined })], 'MalformedXML', /Filter/],
      [[rule({}), rule({ id: 's', filter: undefined, prefix: 'a' })], 'InvalidRequest', /^Base level prefix cannot be used in Lifecycle V2/],
      [[rule({ filter: undefined, prefix: 'a' }), rule({ id: 's' })], 'InvalidRequest', /^Filter element can only be used in Lifecycle V2\.$/],
      [[rule({ expiration: undefined })], 'InvalidRequest', /^At least one action needs to be specified in a rule$/],
      [[rule({ expiration: { days: 0 } })], 'InvalidArgument', /^'Days' for Expiration action must be a positive integer$/],
      [[rule({ expiration: { date: new Date('2030-01-01T12:00:00Z') } })], 'InvalidArgument', /^'Date' must be at midnight GMT$/],
      [[rule({ expiration: { days: 1, date: new Date('2030-01-01') } })], 'MalformedXML', /./],
      [[rule({ expiration: { days: 1, expiredObjectDeleteMarker: true } })], 'MalformedXML', /ExpiredObjectDeleteMarker cannot be specified with Days or Date/],
      [[rule({ expiration: {} })], 'MalformedXML', /./],
      [[rule({ filter: { tags: [{ key: 'a', value: 'b' }] }, expiration: { expiredObjectDeleteMarker: true } })], 'InvalidRequest', /^ExpiredObjectDeleteMarker cannot be specified with Tags\.$/],
      [[rule({ filter: { sizeLessThan: 5 }, expiration: { expiredObjectDeleteMarker: true } })], 'InvalidRequest', /with Object Size\.$/],
      [[rule({ expiration: undefined, noncurrentVersionExpiration: {} })], 'MalformedXML', /NoncurrentDays/],
      [[rule({ expiration: undefined, noncurrentVersionExpiration: { noncurrentDays: -1 } })], 'InvalidArgument', /^'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer$/],
      [[rule({ expiration: undefined, noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 0 } })], 'InvalidArgument', /NewerNoncurrentVersions/],
      [[rule({ filter: undefined, prefix: '', expiration: undefined, noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 2 } })], 'InvalidRequest', /can only be used in Lifecycle V2/],
      [[rule({ expiration: undefined, abortIncompleteMultipartUpload: { daysAfterInitiation: 0 } })], 'InvalidArgument', /^'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer$/],
      [[rule({ filter: { tags: [{ key: 'a', value: 'b' }] }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } })], 'InvalidRequest', /^AbortIncompleteMultipartUpload cannot be specified with Tags\.$/],
      [[rule({ filter: { sizeGreaterThan: 1 }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } })], 'InvalidRequest', /with Object Size\.$/],
      [[rule({ filter: { tags: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }], and: true } })], 'InvalidRequest', /^Duplicate Tag Keys are not allowed\.$/],
      [[rule({ filter: { sizeGreaterThan: 100, sizeLessThan: 100, and: true } })], 'InvalidRequest', /^'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'\.$/],
      [[rule({ filter: { sizeLessThan: 0 } })], 'InvalidRequest', /^'ObjectSizeLessThan' should be between 1 and/],
      [[rule({ filter: { sizeGreaterThan: -1 } })], 'InvalidRequest', /^'ObjectSizeGreaterThan' should be between 0 and/],
      [[rule({ filter: undefined, prefix: 'a' }), rule({ id: 's', filter: undefined, prefix: 'ab' })], 'InvalidRequest', /^Found overlapping prefixes 'a' and 'ab' for same action type 'Expiration'$/],
      [[rule({ transitions: true })], 'NotSupported', /storage class/],
    ];
    for (const [rules, code, message] of cases) {
      const [gotCode, gotMessage] = refusal(rules);
      assert.equal(gotCode, code, `${gotMessage} (${String(JSON.stringify(rules[0])).slice(0, 200)})`);
      assert.match(gotMessage, message);
    }
    // Overlapping prefixes are fine for different actions, and in Lifecycle V2.
    validateLifecycleRules([
      rule({ filter: undefined, prefix: 'a' }),
      rule({ id: 's', filter: undefined, prefix: 'ab', expiration: undefined, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } }),
    ]);
    validateLifecycleRules([rule({ filter: { prefix: 'a' } }), rule({ id: 's', filter: { prefix: 'ab' } })]);
  });
});

describe('parseIsoTime', () => {
  it('reads xs:dateTime and plain dates (UTC unless an offset says otherwise), and nothing else', () => {
    assert.equal(parseIsoTime('2030-01-02')?.toISOString(), '2030-01-02T00:00:00.000Z');
    assert.equal(parseIsoTime('2030-01-02T00:00:00Z')?.toISOString(), '2030-01-02T00:00:00.000Z');
    assert.equal(parseIsoTime('2030-01-02T00:00:00.000Z')?.toISOString(), '2030-01-02T00:00:00.000Z');
    assert.equal(parseIsoTime('2030-01-02T01:30:00+01:30')?.toISOString(), '2030-01-02T00:00:00.000Z');
    assert.equal(parseIsoTime('2030-01-02T12:00:00')?.toISOString(), '2030-01-02T12:00:00.000Z');
    for (const bad of ['2030-02-31', '2030-13-01', '2030-01-02T24:00:00Z', 'tomorrow', '2030-1-2', '']) assert.equal(parseIsoTime(bad), undefined, bad);
  });
});

describe('matching and dates', () => {
  const object = { key: 'logs/2026/a.txt', size: 100, tags: { team: 'x', env: 'prod' } };
  const valid = (r: Partial<LifecycleRuleInput>): LifecycleRule => validateLifecycleRules([rule(r)])[0];

  it('applies a rule by prefix, tags and size, all of them within And', () => {
    assert.equal(ruleApplies(valid({ filter: {} }), object), true);
    assert.equal(ruleApplies(valid({ filter: { prefix: 'logs/' } }), object), true);
    assert.equal(ruleApplies(valid({ filter: { prefix: 'log/' } }), object), false);
    assert.equal(ruleApplies(valid({ filter: undefined, prefix: 'logs/2026' }), object), true);
    assert.equal(ruleApplies(valid({ filter: { tags: [{ key: 'team', value: 'x' }] } }), object), true);
    assert.equal(ruleApplies(valid({ filter: { tags: [{ key: 'team', value: 'y' }] } }), object), false);
    assert.equal(ruleApplies(valid({ filter: { sizeGreaterThan: 99 } }), object), true);
    assert.equal(ruleApplies(valid({ filter: { sizeGreaterThan: 100 } }), object), false);
    assert.equal(ruleApplies(valid({ filter: { sizeLessThan: 100 } }), object), false);
    const and = { prefix: 'logs/', tags: [{ key: 'team', value: 'x' }, { key: 'env', value: 'prod' }], sizeLessThan: 1000, and: true };
    assert.equal(ruleApplies(valid({ filter: and }), object), true);
    assert.equal(ruleApplies(valid({ filter: { ...and, tags: [...and.tags, { key: 'owner', value: 'z' }] } }), object), false);
  });

  it('rounds an age up to the next midnight UTC, as S3 does; the cut-off agrees', () => {
    // S3's example: created 1/15 10:30 UTC, 3 days: due 1/19 00:00 UTC.
    assert.equal(dueDate(new Date('2014-01-15T10:30:00Z'), 3).toISOString(), '2014-01-19T00:00:00.000Z');
    assert.equal(dueDate(new Date('2014-01-15T23:59:59Z'), 1).toISOString(), '2014-01-17T00:00:00.000Z');
    for (const created of ['2014-01-15T00:00:00Z', '2014-01-15T10:30:00Z', '2014-01-15T23:59:59.999Z']) {
      for (const now of ['2014-01-18T23:59:59Z', '2014-01-19T00:00:00Z', '2014-01-20T12:00:00Z']) {
        const t = new Date(created);
        const n = new Date(now);
        assert.equal(t < dueCutoff(n, 3), dueDate(t, 3) <= n, `${created} at ${now}`);
      }
    }
  });

  it('gives the x-amz-expiration of the earliest enabled Expiration rule that applies', () => {
    const rules = validateLifecycleRules([
      rule({ id: 'thirty', expiration: { days: 30 } }),
      rule({ id: 'logs-ten', filter: { prefix: 'logs/' }, expiration: { days: 10 } }),
      rule({ id: 'off', status: 'Disabled', expiration: { days: 1 } }),
      rule({ id: 'markers', expiration: { expiredObjectDeleteMarker: true } }),
    ]);
    const created = new Date('2026-03-01T08:00:00Z');
    assert.deepEqual(currentExpiration(rules, { ...object, lastModified: created }), { date: new Date('2026-03-12T00:00:00Z'), ruleId: 'logs-ten' });
    assert.equal(
      expirationHeader({ lifecycle: rules }, { ...object, key: 'other', updated_at: created }),
      'expiry-date="Wed, 01 Apr 2026 00:00:00 GMT", rule-id="thirty"',
    );
    const dated = validateLifecycleRules([rule({ id: 'dated "q"', expiration: { date: new Date('2027-01-01') } })]);
    assert.equal(expirationHeader({ lifecycle: dated }, { ...object, updated_at: created }), 'expiry-date="Fri, 01 Jan 2027 00:00:00 GMT", rule-id="dated%20%22q%22"');
    assert.equal(expirationHeader({ lifecycle: null }, { ...object, updated_at: created }), undefined);
    assert.equal(expirationHeader({ lifecycle: [rules[3]] }, { ...object, updated_at: created }), undefined);
  });
});
