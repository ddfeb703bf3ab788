import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registry, requestAnswered, requestStarted } from './registry.ts';

const answer = (api: string, operation: string, code?: string, aborted = false) => {
  requestStarted();
  requestAnswered({ api, operation, status: code ? 400 : 200, code, bytesIn: 10, bytesOut: 20, seconds: 0.001, aborted });
};

describe('request metrics', () => {
  it('keep each API to 200 operation and code values; more count as `other`', async () => {
    for (let i = 0; i < 250; i++) answer('sts', `Action${i}`, `Code${i}`);
    answer('s3', 'PutObject');
    const text = await registry.metrics();
    const ops = new Set([...text.matchAll(/^aerostore_http_requests_total\{api="sts",operation="([^"]*)"/gm)].map((m) => m[1]));
    assert.equal(ops.size, 201);
    assert.ok(ops.has('Action0') && ops.has('Action199') && ops.has('other') && !ops.has('Action200'));
    assert.match(text, /^aerostore_http_requests_total\{api="sts",operation="other",status_class="4xx"\} 50$/m);
    assert.match(text, /^aerostore_http_errors_total\{api="sts",code="other"\} 50$/m);
    // Another API has its own 200.
    assert.match(text, /^aerostore_http_requests_total\{api="s3",operation="PutObject",status_class="2xx"\} 1$/m);
    assert.match(text, /^aerostore_http_requests_in_flight 0$/m);
  });

  it('names a request refused before it had an API or operation `unknown`', async () => {
    requestStarted();
    requestAnswered({ api: undefined, operation: undefined, status: 400, code: undefined, bytesIn: 1, bytesOut: 1, seconds: 0, aborted: false });
    assert.match(await registry.metrics(), /^aerostore_http_requests_total\{api="unknown",operation="unknown",status_class="4xx"\} 1$/m);
  });

  it('counts responses cut off, by API', async () => {
    answer('storage', 'GET /storage/v1/object/*', undefined, true);
    answer('storage', 'GET /storage/v1/object/*', undefined, true);
    assert.match(await registry.metrics(), /^aerostore_http_requests_aborted_total\{api="storage"\} 2$/m);
  });
});
