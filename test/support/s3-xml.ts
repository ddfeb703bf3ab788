// Reading S3 answers in tests: element texts and error codes, by pattern,
// independently of the server's own XML code.

/** The text of every <tag> element, in document order. */
export function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);
}

/** The text of the first <tag> element. */
export function xmlValue(xml: string, tag: string): string | undefined {
  return xmlValues(xml, tag)[0];
}

/** The S3 error code of an error body (a Buffer or its text). */
export function errorCode(body: Buffer | string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body.toString())?.[1];
}
