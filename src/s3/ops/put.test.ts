import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metadataText } from './put.ts';
import { storedContentEncoding } from '../request-body.ts';

/** A header value as Node hands it over: the bytes as latin1 characters. */
const fromWire = (bytes: Buffer) => bytes.toString('latin1');

describe('metadataText', () => {
  it('reads UTF-8 header bytes as the text they spell', () => {
    assert.equal(metadataText(fromWire(Buffer.from('Grüße, é', 'utf8'))), 'Grüße, é');
    assert.equal(metadataText(fromWire(Buffer.from('5 € 日本 😀', 'utf8'))), '5 € 日本 😀');
  });

  it('keeps bytes that are not UTF-8 as latin1 characters (a client writing latin1 meant them)', () => {
    assert.equal(metadataText(fromWire(Buffer.from([0x48, 0xe9]))), 'Hé');
    // Cut off in the middle of a character: not UTF-8 either.
    assert.equal(metadataText(fromWire(Buffer.from([0x61, 0xc3]))), 'a\u00c3');
  });

  it('leaves ASCII, and text that never was header bytes (a form field), alone', () => {
    assert.equal(metadataText('plain ascii'), 'plain ascii');
    assert.equal(metadataText('Ã© 日'), 'Ã© 日');
  });
});

describe('storedContentEncoding', () => {
  it('drops only the aws-chunked token and keeps the rest as sent', () => {
    assert.equal(storedContentEncoding(undefined), undefined);
    assert.equal(storedContentEncoding(''), undefined);
    assert.equal(storedContentEncoding('aws-chunked'), undefined);
    assert.equal(storedContentEncoding(' AWS-CHUNKED '), undefined);
    assert.equal(storedContentEncoding('aws-chunked, gzip'), 'gzip');
    assert.equal(storedContentEncoding('gzip,aws-chunked'), 'gzip');
    assert.equal(storedContentEncoding('deflate, aws-chunked, gzip'), 'deflate, gzip');
    assert.equal(storedContentEncoding('deflate, gzip'), 'deflate, gzip');
    assert.equal(storedContentEncoding('deflate,gzip'), 'deflate,gzip');
    assert.equal(storedContentEncoding('identity'), 'identity');
  });
});
