// SSE-S3 on the wire (issue 20, step 2): the request header
// x-amz-server-side-encryption, and the response header S3 sends for an
// encrypted object on PUT, GET, HEAD, CopyObject and the multipart
// operations (S3 user guide, "Using server-side encryption with Amazon S3
// managed keys (SSE-S3)"). Whether new content is sealed is the server's
// setting (AEROSTORE_ENCRYPTION); what a response reports is how the
// object's blob is stored on disk, so it never claims what is not so.
import type { IncomingHttpHeaders } from 'node:http';
import type { Services } from '../core/services.ts';
import { sealedSize } from '../blobs/sealed.ts';
import { S3Error } from './errors.ts';

export const SSE_HEADER = 'x-amz-server-side-encryption';

/**
 * A write's x-amz-server-side-encryption: AES256 is what every new object
 * gets with encryption on. With it off the header is accepted and the
 * object stored as before this step (in plaintext, and no response claims
 * otherwise): refusing it would break clients that always send it while
 * encryption is still off by default. aws:kms and aws:kms:dsse (SSE-KMS)
 * are not implemented: 501, S3's NotImplemented (issue 20 allows it), in
 * either mode. Anything else is S3's InvalidArgument.
 */
export function checkRequestedEncryption(headers: IncomingHttpHeaders): void {
  const raw = headers[SSE_HEADER];
  if (raw === undefined) return;
  const value = String(raw).trim();
  if (value === 'AES256') return;
  if (value === 'aws:kms' || value === 'aws:kms:dsse') {
    throw new S3Error('NotImplemented', `Server-side encryption with ${value} is not implemented; use AES256.`, { Header: SSE_HEADER });
  }
  throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: SSE_HEADER, ArgumentValue: value });
}

/** The response header for an object whose content is `sha256` of `size` bytes in the bucket: present when its blob is sealed. */
export async function encryptionHeaderOf(storage: Services, bucketId: string, object: { sha256: string; size: number | string }): Promise<Record<string, string>> {
  const st = await storage.blobs.statBlob(bucketId, object.sha256).catch(() => undefined);
  return st !== undefined && st.size === sealedSize(Number(object.size)) ? { [SSE_HEADER]: 'AES256' } : {};
}

/** For an upload in progress (its parts are sealed as they arrive): the server's setting. */
export function uploadEncryptionHeader(storage: Services): Record<string, string> {
  return storage.sealing ? { [SSE_HEADER]: 'AES256' } : {};
}
