// Fuzz target: the XML request parsers (src/s3/xml.ts and the document
// readers of DeleteObjects, CompleteMultipartUpload, PutObjectTagging,
// PutBucketCors, PutBucketAcl, PutBucketOwnershipControls, CreateBucket).
// Invariants: any bytes give a value or the endpoint's own S3 error, nothing
// else, in bounded time; a document with a DOCTYPE or an entity declaration
// is never parsed; what a client escapes properly comes back exactly.
import fc from 'fast-check';
import { validateCorsRules } from '../src/core/cors.ts';
import { bucketAclSettings } from '../src/core/acl.ts';
import { grantsFromXml, ownershipFromXml } from '../src/s3/ops/acl.ts';
import { corsRulesFromXml } from '../src/s3/ops/cors.ts';
import { parseDeleteRequest } from '../src/s3/ops/delete.ts';
import { listedParts } from '../src/s3/ops/multipart.ts';
import { parseTaggingXml } from '../src/s3/ops/tagging.ts';
import { escapeXml, parseXml, xmlText } from '../src/s3/xml.ts';
import { asS3Error } from '../src/s3/errors.ts';
import { bounded, corpus, expectS3Error, fuzzInput, preview, runFuzz } from './harness.ts';

const DICTIONARY = [
  '<Delete>', '</Delete>', '<Object>', '</Object>', '<Key>', '</Key>', '<Quiet>true</Quiet>', '<VersionId>null</VersionId>',
  '<CompleteMultipartUpload>', '<Part>', '</Part>', '<PartNumber>1</PartNumber>', '<ETag>"x"</ETag>',
  '<Tagging>', '<TagSet>', '<Tag>', '</Tag>', '<Value>', '</Value>',
  '<CORSConfiguration>', '<CORSRule>', '</CORSRule>', '<AllowedOrigin>*</AllowedOrigin>', '<AllowedMethod>GET</AllowedMethod>', '<MaxAgeSeconds>',
  '<AccessControlPolicy>', '<AccessControlList>', '<Grant>', '<Grantee>', '<URI>', '<Permission>READ</Permission>',
  '<ID>aerostore</ID>', '<ID>00000000-0000-4000-8000-000000000001</ID>', '<EmailAddress>', '<Permission>WRITE</Permission>',
  '<URI>http://acs.amazonaws.com/groups/s3/LogDelivery</URI>', '<OwnershipControls>', '<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>',
  '<!DOCTYPE x [<!ENTITY e "ee">]>', '<!ENTITY', '<!doctype', '&e;', '&amp;', '&#0;', '&#xD800;', '&#x10FFFF;', '&#99999999;', '&',
  '<![CDATA[', ']]>', '<!--', '-->', '<?xml version="1.0"?>', '<?pi x?>', 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', 'xmlns:a="b"', '<a:Key>',
  '<__proto__>', '<constructor>', '<prototype>', '<toString>', '<#text>', ' a="1"', '/>', '<', '>', '"', "'",
];

/** Errors each reader may report; anything else (a TypeError, a RangeError from the parser) is a bug. */
const READERS: Array<[string, readonly string[], (text: string) => unknown]> = [
  ['parseXml', ['MalformedXML'], (t) => parseXml(t)],
  ['DeleteObjects', ['MalformedXML'], (t) => parseDeleteRequest(t)],
  ['PutObjectTagging', ['MalformedXML', 'InvalidTag', 'BadRequest'], (t) => parseTaggingXml(t)],
  ['CompleteMultipartUpload', ['MalformedXML'], (t) => listedParts(parseXml(t))],
  ['PutBucketCors', ['MalformedXML', 'InvalidRequest'], (t) => validateCorsRules(corsRulesFromXml(parseXml(t)))],
  ['PutBucketAcl', ['MalformedXML', 'MalformedACLError', 'InvalidArgument', 'UnresolvableGrantByEmailAddress', 'NotImplemented'], (t) =>
    bucketAclSettings({ grants: grantsFromXml(parseXml(t)) }, { owner_id: null })],
  ['PutBucketOwnershipControls', ['MalformedXML'], (t) => ownershipFromXml(parseXml(t))],
];

function readAll(bytes: Buffer): void {
  let text: string;
  try {
    text = xmlText(bytes);
  } catch (err) {
    expectS3Error(err, ['MalformedXML'], bytes);
    return;
  }
  const declares = /<!DOCTYPE|<!ENTITY/i.test(text);
  for (const [name, codes, read] of READERS) {
    let parsed = false;
    try {
      // Request documents are at most 2 MiB; these inputs are far smaller, so a second is generous.
      bounded(1000, name, () => read(text));
      parsed = true;
    } catch (err) {
      if (!asS3Error(err) && err instanceof Error && err.message.startsWith(`${name} took`)) throw err;
      expectS3Error(err, codes, `${name}: ${text}`);
    }
    if (parsed && declares) throw new Error(`${name} parsed a document with a DOCTYPE or entity declaration: ${preview(text)}`);
  }
}

// The seeds are valid for their reader: mutations start from documents that get all the way through.
const seeds = corpus('xml');
for (const [i, reader] of [1, 3, 2, 4, 5].entries()) READERS[reader][2](xmlText(seeds[i]));

// Random trees in the shapes the readers expect, with hostile names and text.
const name = fc.constantFrom('Delete', 'Object', 'Key', 'Quiet', 'VersionId', 'Part', 'PartNumber', 'ETag', 'Tagging', 'TagSet', 'Tag', 'Value', 'CORSConfiguration', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'MaxAgeSeconds', 'AccessControlPolicy', 'AccessControlList', 'Grant', 'Grantee', 'URI', 'ID', 'EmailAddress', 'Permission', 'OwnershipControls', 'Rule', 'ObjectOwnership', '__proto__', 'a:Key', 'x');
const textPiece = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }).map(escapeXml),
  fc.constantFrom('&amp;', '&#13;', '&#x1F600;', '&lt;', '&e;', '&', '<![CDATA[<a>]]>', '<!--c-->', '  ', '\r\n', '1', '-1', '10001', 'GET', 'READ', 'true', '"etag"'),
);
const { node } = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.array(textPiece, { maxLength: 3 }).map((t) => t.join('')),
    fc.tuple(name, fc.array(tie('node'), { maxLength: 4 }), fc.boolean()).map(([n, children, attr]) => `<${n}${attr ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/" a="&amp;"' : ''}>${children.join('')}</${n}>`),
  ),
}));

// Keys a client may send (no NUL: aerostore refuses it), escaped as SDKs escape them.
const key = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((k) => !k.includes('\0') && !/[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(k));

await runFuzz('xml', [
  {
    name: 'hostile documents through every reader',
    weight: 3,
    property: fc.property(fuzzInput(seeds, DICTIONARY), (bytes) => readAll(bytes)),
  },
  {
    name: 'generated trees through every reader',
    weight: 2,
    property: fc.property(node, fc.boolean(), (doc, declaration) => readAll(Buffer.from((declaration ? '<?xml version="1.0"?>' : '') + doc))),
  },
  {
    name: 'escaped keys and tags come back exactly',
    property: fc.property(fc.array(key, { minLength: 1, maxLength: 20 }), (keys) => {
      const doc = `<Delete>${keys.map((k) => `<Object><Key>${escapeXml(k).replace(/"/g, '&quot;')}</Key></Object>`).join('')}</Delete>`;
      const got = parseDeleteRequest(xmlText(Buffer.from(doc))).entries.map((e) => e.key);
      // XML folds a literal CR LF or lone CR into LF (§2.11); escapeXml writes CR as &#13;, so nothing folds.
      if (JSON.stringify(got) !== JSON.stringify(keys)) throw new Error(`keys ${JSON.stringify(keys)} came back as ${JSON.stringify(got)}`);
    }),
  },
]);
