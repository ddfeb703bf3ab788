// The STS Query API at the service root, as far as S3 clients need it:
// AssumeRoleWithWebIdentity turns a JWT into temporary S3 credentials, which is
// how the AWS SDKs' web-identity credential providers (AWS_WEB_IDENTITY_TOKEN_FILE)
// and MinIO-style setups obtain keys. Like AWS, the call is unsigned: the web
// identity token is the credential. Shapes follow the STS API reference
// (API_AssumeRoleWithWebIdentity.html, CommonErrors.html).
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { closeAfterResponse } from '../http/lingering-close.ts';
import { noteRequest } from '../http/request-log.ts';
import { JwtError, type JwtVerifier } from '../principals/jwt.ts';
import type { Principal } from '../principals/principal.ts';
import type { StsCredentials } from '../principals/sts.ts';
import { toXml, type XmlNode } from '../s3/xml.ts';

export interface StsDeps {
  jwt: JwtVerifier | undefined;
  sts: StsCredentials;
  log: Logger;
}

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MAX_BODY = 64 * 1024;
/** DurationSeconds bounds and default of AssumeRoleWithWebIdentity. */
const MIN_DURATION = 900;
const MAX_DURATION = 43_200;
const DEFAULT_DURATION = 3600;
/** AWS's RoleSessionName constraint: 2..64 of [\w+=,.@-]. */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** The account id in the ARNs we hand out: there is one, notional, account. */
const ACCOUNT = '000000000000';

/** Codes (STS error shapes and AWS common errors) with their HTTP status. */
const STS_ERRORS = {
  AccessDenied: 403,
  ExpiredTokenException: 400,
  InternalFailure: 500,
  InvalidAction: 400,
  InvalidIdentityToken: 400,
  MissingAction: 400,
  MissingParameter: 400,
  RequestEntityTooLarge: 413,
  ValidationError: 400,
} as const satisfies Record<string, number>;

type StsErrorCode = keyof typeof STS_ERRORS;

class StsError extends Error {
  constructor(
    readonly code: StsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StsError';
  }
}

/** Whether a request at the service root is an STS call: POST / with a form content type, or a query with Action=. */
export function isStsRequest(method: string, url: string, headers: IncomingHttpHeaders): boolean {
  if (method !== 'GET' && method !== 'POST') return false;
  const q = url.indexOf('?');
  if ((q === -1 ? url : url.slice(0, q)) !== '/') return false;
  const query = q === -1 ? '' : url.slice(q + 1);
  if (new URLSearchParams(query).has('Action')) return true;
  // With a query string it is an S3 call (POST /?delete from a form-posting
  // client, say); STS puts everything in the body.
  return method === 'POST' && query === '' && isForm(headers['content-type']);
}

/** Answers an STS Query API request (POST / with an application/x-www-form-urlencoded body, or GET /?Action=...). Never throws. */
export async function handleSts(req: IncomingMessage, res: ServerResponse, deps: StsDeps): Promise<void> {
  const requestId = randomUUID();
  noteRequest(req, { api: 'sts', requestId });
  try {
    const params = await readParams(req);
    noteRequest(req, { op: params.get('Action') ?? undefined });
    send(res, 200, await dispatch(params, deps, requestId), requestId);
  } catch (err) {
    try {
      sendError(req, res, err, requestId, deps.log);
    } catch (failure) {
      deps.log.error({ err: failure, requestId }, 'sts: could not send an error response');
      res.destroy();
    }
  }
}

async function dispatch(params: URLSearchParams, deps: StsDeps, requestId: string): Promise<string> {
  const action = params.get('Action');
  if (!action) throw new StsError('MissingAction', 'The request must contain the parameter Action.');
  if (action === 'AssumeRoleWithWebIdentity') return assumeRoleWithWebIdentity(params, deps, requestId);
  throw new StsError('InvalidAction', `Could not find operation ${action} for version 2011-06-15.`);
}

async function assumeRoleWithWebIdentity(params: URLSearchParams, deps: StsDeps, requestId: string): Promise<string> {
  // RoleArn, Version, ProviderId and Policy are accepted and ignored: there is
  // one role, and what a principal may do is decided by its role and user id.
  const token = params.get('WebIdentityToken');
  if (!token) throw new StsError('MissingParameter', 'The request must contain the parameter WebIdentityToken.');
  const durationSeconds = parseDuration(params.get('DurationSeconds'));
  const sessionName = params.get('RoleSessionName') ?? undefined;
  if (sessionName !== undefined && !SESSION_NAME.test(sessionName)) {
    throw new StsError(
      'ValidationError',
      "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*",
    );
  }
  if (!deps.jwt) throw new StsError('InvalidIdentityToken', 'no JWT verifier configured (AEROSTORE_JWT_SECRET / AEROSTORE_JWKS)');

  let principal: Principal;
  try {
    principal = await deps.jwt.verify(token);
  } catch (err) {
    if (!(err instanceof JwtError)) throw err;
    deps.log.info({ requestId, reason: err.message }, 'sts: web identity token refused');
    if (err.reason === 'expired') throw new StsError('ExpiredTokenException', 'Token has expired.');
    throw new StsError('InvalidIdentityToken', `Token is not valid: ${err.message}.`);
  }
  if (principal.kind !== 'user') {
    throw new StsError('AccessDenied', 'An anonymous (role anon) token cannot assume a role.');
  }
  // The credentials end when the token does, if that is sooner than DurationSeconds
  // (clamped, not refused; Expiration says when): they cannot be revoked, so they
  // must not outlive the identity. A token verified within the clock tolerance of
  // its exp has no time left to give.
  if (principal.expiresAt !== undefined && principal.expiresAt - Date.now() < 1000) {
    throw new StsError('ExpiredTokenException', 'Token has expired.');
  }

  const creds = deps.sts.issue(principal, durationSeconds);
  const name = sessionName ?? principal.userId ?? 'service';
  deps.log.info(
    { requestId, accessKeyId: creds.accessKeyId, userId: principal.userId, role: principal.role, durationSeconds, expiration: creds.expiration.toISOString() },
    'sts: issued temporary credentials',
  );
  return stsXml('AssumeRoleWithWebIdentityResponse', {
    AssumeRoleWithWebIdentityResult: {
      SubjectFromWebIdentityToken: principal.userId ?? undefined,
      Audience: audienceOf(token),
      AssumedRoleUser: {
        Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/aerostore/${name}`,
        AssumedRoleId: `${creds.accessKeyId}:${name}`,
      },
      Credentials: {
        AccessKeyId: creds.accessKeyId,
        SecretAccessKey: creds.secretAccessKey,
        SessionToken: creds.sessionToken,
        // STS writes whole seconds: 2026-11-24T12:00:00Z.
        Expiration: creds.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      Provider: 'aerostore',
    },
    ResponseMetadata: { RequestId: requestId },
  });
}

function parseDuration(raw: string | null): number {
  if (raw === null) return DEFAULT_DURATION;
  const value = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  // AWS answers ValidationError (not InvalidParameterValue) for out-of-range durations.
  if (Number.isNaN(value)) {
    throw new StsError('ValidationError', `1 validation error detected: Value '${raw}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer`);
  }
  if (value < MIN_DURATION) {
    throw new StsError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_DURATION}`,
    );
  }
  if (value > MAX_DURATION) {
    throw new StsError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to ${MAX_DURATION}`,
    );
  }
  return value;
}

/** The token's aud (the first, when a list); read only after the token has been verified. */
function audienceOf(token: string): string | undefined {
  const { aud } = decodeJwt(token);
  const first: unknown = Array.isArray(aud) ? aud[0] : aud;
  return typeof first === 'string' ? first : undefined;
}

/** Query-string parameters, overridden by those of a form body. */
async function readParams(req: IncomingMessage): Promise<URLSearchParams> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const body = await readBody(req);
  if (body.length > 0 && isForm(req.headers['content-type'])) {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.set(name, value);
  }
  return params;
}

class BodyTooLarge extends StsError {
  constructor() {
    super('RequestEntityTooLarge', `The request body must not exceed ${MAX_BODY} bytes.`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        cleanup();
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => onError(new Error('the client closed the connection before the body ended'));
    const cleanup = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function isForm(contentType: string | undefined): boolean {
  return contentType?.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function stsXml(root: string, body: XmlNode): string {
  return toXml(root, { '@_xmlns': STS_NS, ...body }, false);
}

function send(res: ServerResponse, status: number, xml: string, requestId: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': requestId,
  });
  res.end(xml);
}

function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string, log: Logger): void {
  if (res.headersSent || (!(err instanceof StsError) && (!req.socket || req.socket.destroyed))) {
    // Mid-response failure, or the client went away while we read its body.
    res.destroy();
    return;
  }
  let error: StsError;
  if (err instanceof StsError) {
    error = err;
  } else {
    log.error({ err, requestId }, 'sts: internal error');
    error = new StsError('InternalFailure', 'The request processing has failed because of an unknown error.');
  }
  // The rest of an oversized body is not read: close rather than drain it.
  if (error instanceof BodyTooLarge) closeAfterResponse(req, res);
  const status = STS_ERRORS[error.code];
  noteRequest(req, { code: error.code });
  const xml = stsXml('ErrorResponse', {
    Error: { Type: status < 500 ? 'Sender' : 'Receiver', Code: error.code, Message: error.message },
    RequestId: requestId,
  });
  send(res, status, xml, requestId);
}
