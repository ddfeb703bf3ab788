// Every XML shape the S3 front end speaks, in one place. Request bodies are
// parsed with fast-xml-parser, entity processing off and DOCTYPE refused, so
// no entity expansion and no external fetch can be triggered by a client.
import { XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Markup already serialised (and escaped) by its producer: written as is. */
export class RawXml {
  constructor(readonly xml: string) {}
}

type XmlValue = string | number | boolean | undefined | null | RawXml | XmlNode | XmlValue[];
export interface XmlNode {
  [name: string]: XmlValue;
}

/**
 * Text content escaped for XML 1.0. CR is written as a character reference
 * because parsers fold a literal CR into LF (S3 does the same for keys).
 */
export function escapeXml(text: string): string {
  return /[&<>\r]/.test(text)
    ? text.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'))
    : text;
}

function writeElement(out: string[], name: string, value: XmlValue): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) writeElement(out, name, item);
    return;
  }
  if (value instanceof RawXml) {
    out.push(value.xml);
    return;
  }
  if (typeof value !== 'object') {
    out.push(`<${name}>${escapeXml(String(value))}</${name}>`);
    return;
  }
  let attrs = '';
  let text = '';
  const children: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('@_')) attrs += ` ${k.slice(2)}="${escapeXml(String(v)).replace(/"/g, '&quot;')}"`;
    else if (k === '#text') text = escapeXml(String(v));
    else writeElement(children, k, v);
  }
  out.push(`<${name}${attrs}>`, text, ...children, `</${name}>`);
}

/**
 * Serialises `{ Root: {...} }`, adding the S3 namespace to the root element.
 * Written out here rather than with fast-xml-parser's XMLBuilder: a 1,000-key
 * ListObjectsV2 page took 2.5 ms to build with it (a third of the request's
 * CPU, docs/benchmarks.md). Parsing, where the security questions are, stays
 * with fast-xml-parser.
 */
export function toXml(root: string, body: XmlNode, namespace = true): string {
  const out: string[] = [DECLARATION];
  writeElement(out, root, namespace ? { '@_xmlns': S3_NS, ...body } : body);
  return out.join('');
}

/** A text element, escaped: for hand-written hot paths (listing pages). */
export function xmlElement(name: string, text: string | number): string {
  return `<${name}>${escapeXml(String(text))}</${name}>`;
}

export function errorXml(fields: { code: string; message: string; resource?: string; requestId: string } & {
  details?: Record<string, string>;
}): string {
  return toXml(
    'Error',
    {
      Code: fields.code,
      Message: fields.message,
      ...fields.details,
      Resource: fields.resource,
      RequestId: fields.requestId,
    },
    false,
  );
}

/** S3 timestamps in XML: ISO 8601 with milliseconds, UTC. */
export function isoTime(d: Date): string {
  return d.toISOString();
}

const parser = new XMLParser({
  ignoreAttributes: true,
  processEntities: false,
  parseTagValue: false,
  trimValues: true,
  removeNSPrefix: true,
  isArray: (_name, jpath) => XML_ARRAYS.has(String(jpath)),
});

/**
 * Text of a parsed element with its character references resolved: the
 * parser runs with processEntities off, so `&amp;`, `&#34;` (Go's encoding of
 * `"`, which rclone sends in ETags) and the like arrive as written.
 */
export function decodeXmlText(text: string): string {
  if (!text.includes('&')) return text;
  // A bare '&' or a reference to an entity no DTD declared is not well-formed
  // XML (XML 1.0 §4.1 WFC: Entity Declared): S3 answers MalformedXML, and
  // taking it literally would name another key.
  if (/&(?!(?:#x[0-9a-fA-F]+|#[0-9]+|quot|amp|apos|lt|gt);)/.test(text)) throw new S3Error('MalformedXML', 'Undefined entity or bare "&" in the XML.');
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|quot|amp|apos|lt|gt);/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      // A surrogate is no character (XML 1.0 §2.2): it would be stored as U+FFFD, another key.
      if (!(code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) throw new S3Error('MalformedXML', `Invalid character reference ${whole}.`);
      return String.fromCodePoint(code);
    }
    return ({ quot: '"', amp: '&', apos: "'", lt: '<', gt: '>' } as Record<string, string>)[ref];
  });
}

/** Elements that may repeat, so that one occurrence still parses as a list. */
const XML_ARRAYS = new Set([
  'Delete.Object',
  'CompleteMultipartUpload.Part',
  'AccessControlPolicy.AccessControlList.Grant',
  'CORSConfiguration.CORSRule',
  'CORSConfiguration.CORSRule.AllowedOrigin',
  'CORSConfiguration.CORSRule.AllowedMethod',
  'CORSConfiguration.CORSRule.AllowedHeader',
  'CORSConfiguration.CORSRule.ExposeHeader',
  'Tagging.TagSet.Tag',
  'LifecycleConfiguration.Rule',
  'LifecycleConfiguration.Rule.Filter.And.Tag',
]);

/** Largest request XML body we parse (DeleteObjects of 1,000 long keys fits). */
export const MAX_REQUEST_XML = 2 * 1024 * 1024;

/**
 * Object keys and tag values keep their leading and trailing spaces, so the
 * documents that carry them are parsed verbatim; the rest are trimmed.
 */
const verbatimParser = new XMLParser({
  ignoreAttributes: true,
  processEntities: false,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  isArray: (_name, jpath) => XML_ARRAYS.has(String(jpath)),
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request document's text. Bytes that are not UTF-8 are MalformedXML (as
 * in S3), never decoded to U+FFFD, which could name a different key.
 */
export function xmlText(body: Buffer): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new S3Error('MalformedXML', 'The XML you provided is not valid UTF-8.');
  }
}

export function parseXml(text: string, opts: { keepWhitespace?: boolean } = {}): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML', 'DOCTYPE and entity declarations are not allowed.');
  // Outside a DTD, "<!" opens a comment or a CDATA section and nothing else;
  // the parser reads other "<!..." as an element and nests what follows in
  // it (fuzzing found a CORS rule list turned into an object that way).
  if (/<!(?!--|\[CDATA\[)/.test(text)) throw new S3Error('MalformedXML', 'Markup declarations are not allowed.');
  try {
    return (opts.keepWhitespace ? verbatimParser : parser).parse(text, true) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML');
  }
}
