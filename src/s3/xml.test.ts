import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Error } from './errors.ts';
import { errorXml, parseXml, toXml } from './xml.ts';

describe('xml', () => {
  it('builds namespaced documents with escaped text and repeated elements', () => {
    const xml = toXml('ListBucketResult', { Name: 'b', Contents: [{ Key: 'a&<b>' }, { Key: 'c' }], IsTruncated: false });
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<ListBucketResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    assert.match(xml, /<Contents><Key>a&amp;&lt;b&gt;<\/Key><\/Contents><Contents><Key>c<\/Key><\/Contents>/);
    assert.match(xml, /<IsTruncated>false<\/IsTruncated>/);
    assert.match(toXml('R', { Key: 'line\r\nbreak' }), /<Key>line&#13;\nbreak<\/Key>/);
  });

  it('builds S3 error bodies with details and no namespace', () => {
    const xml = errorXml({ code: 'NoSuchKey', message: 'gone', resource: '/b/k', requestId: 'R1', details: { Key: 'k' } });
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>gone</Message><Key>k</Key><Resource>/b/k</Resource><RequestId>R1</RequestId></Error>',
    );
  });

  it('parses request documents, lists as arrays even with one element', () => {
    const doc = parseXml('<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object></Delete>');
    assert.deepEqual(doc, { Delete: { Object: [{ Key: 'a' }] } });
  });

  it('refuses DOCTYPE and entities, and malformed documents', () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>';
    assert.throws(() => parseXml(bomb), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML');
    assert.throws(() => parseXml('<a><b></a>'), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML');
  });

  it('refuses "<!" markup other than comments and CDATA, which the parser would nest elements under', () => {
    // Found by fuzz/xml.fuzz.ts: the parser took "<!!ENTITYPUT</AllowedMethod" for an element name.
    const stray = '<CORSConfiguration><CORSRule><AllowedMethod><!!ENTITYPUT</AllowedMethod></CORSRule><CORSRule/></CORSConfiguration>';
    for (const doc of [stray, '<a><!ELEMENT a ANY></a>', '<a><! x></a>']) {
      assert.throws(() => parseXml(doc), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML', doc);
    }
    assert.deepEqual(parseXml('<a><!-- note --><b><![CDATA[x<y]]></b></a>'), { a: { b: 'x<y' } });
  });
});
