// Every XML shape the S3 front end speaks, in one place. Responses are
// built with fast-xml-parser's builder; request bodies are parsed with entity
// processing off and DOCTYPE refused, so no entity expansion and no external
// fetch can be triggered by a client.
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

type XmlValue = string | number | boolean | undefined | null | XmlNode | XmlValue[];
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Serialises `{ Root: {...} }`, adding the S3 namespace to the root element. */
export function toXml(root: string, body: XmlNode, namespace = true): string {
  const node = namespace ? { '@_xmlns': S3_NS, ...body } : body;
  return DECLARATION + builder.build({ [root]: node });
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

/** Elements that may repeat, so that one occurrence still parses as a list. */
const XML_ARRAYS = new Set(['Delete.Object', 'CompleteMultipartUpload.Part']);

/** Largest request XML body we parse (DeleteObjects of 1,000 long keys fits). */
export const MAX_REQUEST_XML = 2 * 1024 * 1024;

export function parseXml(text: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML', 'DOCTYPE and entity declarations are not allowed.');
  try {
    const parsed = parser.parse(text, true) as Record<string, unknown>;
    return parsed;
  } catch {
    throw new S3Error('MalformedXML');
  }
}
