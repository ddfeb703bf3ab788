// The shapes an S3 operation works with: what it is given, what it returns.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Services } from '../core/services.ts';
import type { KeyResolver } from '../principals/keys.ts';
import type { Principal } from '../principals/principal.ts';
import type { VerifiedSignature } from '../principals/sigv4.ts';
import type { S3Route } from './router.ts';

export interface S3Context {
  storage: Services;
  route: S3Route;
  req: IncomingMessage;
  res: ServerResponse;
  principal: Principal;
  /** null for anonymous requests. */
  signature: VerifiedSignature | null;
  requestId: string;
  /** The access keys, for endpoints that authenticate themselves (POST Object: the form's policy signature). */
  keys?: KeyResolver;
  /** Whether they may accept a legacy SigV2 signature (AEROSTORE_SIGV2): POST Object's AWSAccessKeyId + signature. */
  sigv2?: boolean;
}

export type HeaderValue = string | number | readonly string[];

export interface S3Reply {
  status: number;
  headers?: Record<string, HeaderValue | undefined>;
  body?: string | Buffer | Readable;
}

export type S3Operation = (ctx: S3Context) => Promise<S3Reply>;

/** Route parts that the router guarantees for bucket and object endpoints. */
export function bucketOf(ctx: S3Context): string {
  return ctx.route.bucket as string;
}

export function keyOf(ctx: S3Context): string {
  return ctx.route.key as string;
}

export function xmlReply(body: string, status = 200): S3Reply {
  return { status, headers: { 'content-type': 'application/xml' }, body };
}
