// S3 ACLs on the wire: Get/PutBucketAcl, Get/PutObjectAcl, the x-amz-acl and
// x-amz-grant-* headers of the writes that take them, AccessControlPolicy
// documents, and Object Ownership (Get/Put/DeleteBucketOwnershipControls).
// The model is core/acl.ts; who may do what, Postgres's (migration 0021).
import { findVersion, pastVersionAcl, setPastVersionAcl } from '../../core/versions.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { requireAdminister } from '../../core/access.ts';
import {
  bucketAclSettings,
  cannedAcl,
  GROUP_URIS,
  groupGrantee,
  isPermission,
  userGrantee,
  type AclRequest,
  type Grant,
  type Permission,
} from '../../core/acl.ts';
import type { BucketRow, ObjectOwnership } from '../../core/bucket.ts';
import { requireBucket, updateBucketSettings } from '../../core/buckets.ts';
import { DomainError } from '../../core/errors.ts';
import { getObjectAcl, putObjectAcl } from '../../core/object-acl.ts';
import { getBucketAcl, putBucketAcl } from '../../core/bucket-acl.ts';
import { bucketOf, keyOf, xmlReply, type S3Context, type S3Operation } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readXmlBody } from '../request-body.ts';
import { decodeXmlText, toXml, type XmlNode } from '../xml.ts';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** S3 allows at most 100 grants in one ACL. */
const MAX_GRANTS = 100;

/** The grant headers and the permission each gives. */
const GRANT_HEADERS: Record<string, Permission> = {
  'x-amz-grant-read': 'READ',
  'x-amz-grant-write': 'WRITE',
  'x-amz-grant-read-acp': 'READ_ACP',
  'x-amz-grant-write-acp': 'WRITE_ACP',
  'x-amz-grant-full-control': 'FULL_CONTROL',
};

function unresolvableEmail(email: string): S3Error {
  // This server has no e-mail addresses: no grantee can be named by one.
  return new S3Error('UnresolvableGrantByEmailAddress', undefined, { EmailAddress: email });
}

/**
 * One x-amz-grant-* header: `id="<canonical id>"`, `uri="<group URI>"` or
 * `emailAddress="<address>"`, comma-separated, values quoted or not.
 */
export function grantsFromHeader(permission: Permission, value: string, header: string): Grant[] {
  const grants: Grant[] = [];
  const pair = /\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,"\s]+))\s*(?:,|$)/y;
  let at = 0;
  while (at < value.length) {
    pair.lastIndex = at;
    const m = pair.exec(value);
    if (!m || m[0] === '') throw new S3Error('InvalidArgument', `Invalid grant in ${header}`, { ArgumentName: header, ArgumentValue: value });
    at = pair.lastIndex;
    const type = m[1].toLowerCase();
    const who = m[2] ?? m[3];
    if (type === 'id') grants.push({ grantee: userGrantee(who), permission });
    else if (type === 'uri') grants.push({ grantee: groupGrantee(who), permission });
    else if (type === 'emailaddress') throw unresolvableEmail(who);
    else throw new S3Error('InvalidArgument', `Invalid grantee type ${m[1]} in ${header}`, { ArgumentName: header, ArgumentValue: value });
  }
  if (grants.length === 0) throw new S3Error('InvalidArgument', `Invalid grant in ${header}`, { ArgumentName: header, ArgumentValue: value });
  return grants;
}

/**
 * The ACL a write or PutBucketAcl/PutObjectAcl asks for in its headers:
 * x-amz-acl, or the x-amz-grant-* headers (not both, as S3 refuses them
 * together); undefined when it sends neither.
 */
export function aclRequestFromHeaders(headers: IncomingHttpHeaders): AclRequest | undefined {
  const canned = headers['x-amz-acl'];
  const grants: Grant[] = [];
  for (const [header, permission] of Object.entries(GRANT_HEADERS)) {
    const v = headers[header];
    if (v === undefined) continue;
    grants.push(...grantsFromHeader(permission, Array.isArray(v) ? v.join(',') : v, header));
  }
  if (canned !== undefined && grants.length > 0) {
    throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  }
  if (canned !== undefined) return { canned: cannedAcl(Array.isArray(canned) ? canned.join(',') : canned) };
  if (grants.length > MAX_GRANTS) throw new S3Error('MalformedACLError', `An ACL may hold at most ${MAX_GRANTS} grants.`);
  return grants.length ? { grants } : undefined;
}

/**
 * The grants of a parsed `<AccessControlPolicy>`. A Grantee is told by what
 * it carries (the parser drops attributes, and xsi:type says the same):
 * ID (CanonicalUser), URI (Group) or EmailAddress (AmazonCustomerByEmail).
 * Shapes that are not S3's are MalformedACLError; a grantee that names
 * nobody is InvalidArgument or UnresolvableGrantByEmailAddress.
 */
export function grantsFromXml(body: Record<string, unknown> | undefined): Grant[] {
  const policy = body?.AccessControlPolicy;
  const list = policy !== null && typeof policy === 'object' ? (policy as { AccessControlList?: unknown }).AccessControlList : undefined;
  // An empty <AccessControlList/> parses as '': an ACL without grants.
  if (list === '') return [];
  if (list === null || typeof list !== 'object') throw new S3Error('MalformedACLError');
  const text = (v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new S3Error('MalformedACLError');
    return decodeXmlText(v);
  };
  const grants = (list as { Grant?: unknown }).Grant ?? [];
  if (!Array.isArray(grants)) throw new S3Error('MalformedACLError');
  if (grants.length > MAX_GRANTS) throw new S3Error('MalformedACLError', `An ACL may hold at most ${MAX_GRANTS} grants.`);
  return grants.map((g): Grant => {
    if (g === null || typeof g !== 'object') throw new S3Error('MalformedACLError');
    const { Grantee, Permission } = g as { Grantee?: unknown; Permission?: unknown };
    const permission = text(Permission);
    if (permission === undefined || !isPermission(permission)) throw new S3Error('MalformedACLError');
    if (Grantee === null || typeof Grantee !== 'object') throw new S3Error('MalformedACLError');
    const { ID, URI, EmailAddress } = Grantee as { ID?: unknown; URI?: unknown; EmailAddress?: unknown };
    const [id, uri, email] = [text(ID), text(URI), text(EmailAddress)];
    if ([id, uri, email].filter((v) => v !== undefined).length !== 1) throw new S3Error('MalformedACLError');
    if (email !== undefined) throw unresolvableEmail(email);
    return { grantee: id !== undefined ? userGrantee(id) : groupGrantee(uri as string), permission };
  });
}

/** An ACL as S3 writes it: the Owner, then each grant with its grantee's xsi:type. */
export function aclXml(owner: string, grants: readonly Grant[]): string {
  const ownerXml = { ID: owner, DisplayName: owner };
  const grantXml = grants.map(({ grantee, permission }): XmlNode => ({
    Grantee:
      grantee.kind === 'user'
        ? { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ID: grantee.id, DisplayName: grantee.id }
        : { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: GROUP_URIS[grantee.group] },
    Permission: permission,
  }));
  return toXml('AccessControlPolicy', { Owner: ownerXml, AccessControlList: { Grant: grantXml } });
}

/** What a PutBucketAcl / PutObjectAcl asks for: its headers, or else an AccessControlPolicy body (not both). */
async function requestedAcl(ctx: S3Context): Promise<AclRequest> {
  const fromHeaders = aclRequestFromHeaders(ctx.req.headers);
  const body = await readXmlBody(ctx, { optional: fromHeaders !== undefined });
  if (fromHeaders !== undefined) {
    if (body) throw new S3Error('UnexpectedContent', 'This request does not support content together with x-amz-acl or x-amz-grant-* headers.');
    return fromHeaders;
  }
  return { grants: grantsFromXml(body) };
}

export const getBucketAclOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  const { owner, grants } = await getBucketAcl(ctx.storage, bucket, ctx.principal);
  return xmlReply(aclXml(owner, grants));
};

/**
 * A bucket ACL sets the bucket's read preset (core/acl.ts bucketAclSettings).
 * With BucketOwnerEnforced, only an ACL that gives nobody anything more than
 * the owner is taken (S3: AccessControlListNotSupported otherwise).
 */
export function bucketSettingsFor(request: AclRequest, bucket: Pick<BucketRow, 'owner_id' | 'object_ownership'>) {
  const settings = bucketAclSettings(request, bucket);
  if (bucket.object_ownership === 'BucketOwnerEnforced' && (settings.policy !== 'private' || settings.memberWrites || settings.acl)) {
    throw new DomainError('AclNotSupported');
  }
  return settings;
}

export const putBucketAclOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  // Refused before the body is read: anonymous principals change nothing.
  if (ctx.principal.kind === 'anonymous') throw new DomainError('AccessDenied');
  const settings = bucketSettingsFor(await requestedAcl(ctx), bucket);
  await putBucketAcl(ctx.storage, bucket, ctx.principal, settings);
  return { status: 200 };
};

/**
 * ?versionId= on Get/PutObjectAcl: the current version's id acts on the
 * object's ACL; a past version's (core/versions.ts) on the list that version
 * keeps. Undefined: the object's own.
 */
async function pastVersion(ctx: S3Context) {
  const versionId = ctx.route.query.get('versionId');
  if (versionId === null) return undefined;
  const found = await findVersion(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal, 'metadata', versionId);
  // A row of storage.object_versions (it has delete_marker) is a past version.
  return { versionId, past: found.object.delete_marker !== undefined ? found : undefined };
}

export const getObjectAclOp: S3Operation = async (ctx) => {
  const version = await pastVersion(ctx);
  const { owner, grants } = version?.past
    ? pastVersionAcl(version.past.bucket, version.past.object)
    : await getObjectAcl(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal);
  const reply = xmlReply(aclXml(owner, grants));
  return { ...reply, headers: { ...reply.headers, ...(version ? { 'x-amz-version-id': version.versionId } : {}) } };
};

export const putObjectAclOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  // Refused before the body is read: anonymous principals change nothing.
  if (ctx.principal.kind === 'anonymous') throw new DomainError('AccessDenied');
  const version = await pastVersion(ctx);
  const request = await requestedAcl(ctx);
  if (version?.past) await setPastVersionAcl(ctx.storage, version.past.bucket, version.past.object, ctx.principal, request);
  else await putObjectAcl(ctx.storage, bucket.name, keyOf(ctx), ctx.principal, request);
  return { status: 200, headers: version ? { 'x-amz-version-id': version.versionId } : {} };
};

// ---------------------------------------------------------------------------
// Object Ownership.

const OWNERSHIPS: readonly ObjectOwnership[] = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'];

export function objectOwnershipOf(value: string, argumentName: string): ObjectOwnership {
  const v = value.trim();
  if (!(OWNERSHIPS as readonly string[]).includes(v)) {
    throw new S3Error('InvalidArgument', `Invalid ${argumentName}: ${value}`, { ArgumentName: argumentName, ArgumentValue: value });
  }
  return v as ObjectOwnership;
}

/** `<OwnershipControls><Rule><ObjectOwnership>…</ObjectOwnership></Rule></OwnershipControls>`: one rule, one setting. */
export function ownershipFromXml(body: Record<string, unknown> | undefined): ObjectOwnership {
  const controls = body?.OwnershipControls as { Rule?: unknown } | undefined;
  const rule = controls !== null && typeof controls === 'object' ? controls.Rule : undefined;
  const value = rule !== null && typeof rule === 'object' ? (rule as { ObjectOwnership?: unknown }).ObjectOwnership : undefined;
  if (typeof value !== 'string' || !(OWNERSHIPS as readonly string[]).includes(value)) throw new S3Error('MalformedXML');
  return value as ObjectOwnership;
}

/** BucketOwnerEnforced on a bucket whose ACL grants more than its read preset: S3 refuses until the ACL is reset. */
export function requireOwnershipFits(ownership: ObjectOwnership | null, bucket: Pick<BucketRow, 'acl'>): void {
  if (ownership === 'BucketOwnerEnforced' && bucket.acl) throw new S3Error('InvalidBucketAclWithObjectOwnership');
}

export const getBucketOwnershipControlsOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  if (!bucket.object_ownership) throw new S3Error('OwnershipControlsNotFoundError', undefined, { BucketName: bucket.name });
  return xmlReply(toXml('OwnershipControls', { Rule: { ObjectOwnership: bucket.object_ownership } }));
};

export const putBucketOwnershipControlsOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  const ownership = ownershipFromXml(await readXmlBody(ctx, { optional: false }));
  requireOwnershipFits(ownership, bucket);
  await updateBucketSettings(ctx.storage, bucket.name, ctx.principal, { objectOwnership: ownership });
  return { status: 200 };
};

export const deleteBucketOwnershipControlsOp: S3Operation = async (ctx) => {
  const bucket = await requireBucket(ctx.storage, bucketOf(ctx));
  requireAdminister(bucket, ctx.principal);
  await updateBucketSettings(ctx.storage, bucket.name, ctx.principal, { objectOwnership: null });
  return { status: 204 };
};
