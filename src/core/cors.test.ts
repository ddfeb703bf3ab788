import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from './errors.ts';
import { matchCorsRule, validateCorsRules } from './cors.ts';
import { type CorsRule } from './bucket.ts';

const rule = (r: Partial<CorsRule>): CorsRule => ({ allowedOrigins: [], allowedMethods: [], allowedHeaders: [], exposeHeaders: [], ...r });

describe('matchCorsRule', () => {
  const rules = [
    rule({ id: 'app', allowedOrigins: ['https://*.example.com'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['content-type', 'x-amz-*'] }),
    rule({ id: 'any', allowedOrigins: ['*'], allowedMethods: ['GET'] }),
  ];

  it('takes the first rule whose origin, method and every requested header match', () => {
    assert.equal(matchCorsRule(rules, 'https://app.example.com', 'PUT', ['Content-Type', 'X-Amz-Date'])?.id, 'app');
    assert.equal(matchCorsRule(rules, 'https://app.example.com', 'GET')?.id, 'app');
    assert.equal(matchCorsRule(rules, 'https://other.org', 'GET')?.id, 'any');
  });

  it('refuses when any part does not match', () => {
    assert.equal(matchCorsRule(rules, 'https://other.org', 'PUT'), undefined);
    assert.equal(matchCorsRule(rules, 'https://app.example.com', 'PUT', ['authorization']), undefined);
    assert.equal(matchCorsRule(rules, 'http://app.example.com', 'PUT'), undefined);
    assert.equal(matchCorsRule(rules, 'https://example.com', 'PUT'), undefined);
  });
});

describe('validateCorsRules', () => {
  const code = (rules: CorsRule[]) => {
    try {
      validateCorsRules(rules);
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof DomainError);
      return e.code;
    }
  };
  it('accepts S3 rules and refuses unsupported methods, double wildcards and empty rules', () => {
    assert.equal(code([rule({ allowedOrigins: ['*'], allowedMethods: ['GET', 'HEAD'] })]), 'ok');
    assert.equal(code([rule({ allowedOrigins: ['*'], allowedMethods: ['PATCH'] })]), 'InvalidRequest');
    assert.equal(code([rule({ allowedOrigins: ['*.*.com'], allowedMethods: ['GET'] })]), 'InvalidRequest');
    assert.equal(code([rule({ allowedOrigins: [], allowedMethods: ['GET'] })]), 'MalformedXML');
    assert.equal(code([]), 'MalformedXML');
  });
});
