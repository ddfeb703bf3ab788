// The /storage/v1 REST API (what @supabase/storage-js speaks): JSON in and
// out, a user's JWT as `Authorization: Bearer` (storage-js also sends it as
// `apikey`), the same principals, RLS and core as the S3 protocol. Errors are
// JSON { statusCode, error, message } with stable codes (errors.ts).
import { Hono } from 'hono';
import { answerFailure } from '../http/failure.ts';
import { clientAddress } from '../http/client-address.ts';
import { noteRequest } from '../http/request-log.ts';
import { rateLimitedJson } from '../http/json-error.ts';
import { RateLimited, type RateLimits } from '../http/rate-limit.ts';
import type { Services } from '../core/services.ts';
import { authenticate, type Authenticator } from '../principals/authenticate.ts';
import type { EventFeed } from '../events/feed.ts';
import { bucketRoutes } from './buckets.ts';
import { eventRoutes } from './events.ts';
import { listRoutes } from './list.ts';
import { objectRoutes } from './objects.ts';
import { versionRoutes } from './versions.ts';
import { openApiDocument } from './openapi.ts';
import { fileRoutes } from './files.ts';
import { signedUrlRoutes, signingRoutes, type SignedUrlSettings } from './signed-urls.ts';
import { apiErrorResponse, isStorageAnswer, StorageApiError } from './errors.ts';
import type { ApiEnv } from '../http/env.ts';

export interface StorageApiDeps {
  storage: Services;
  auth: Authenticator;
  maxFileSize: number;
  signedUrls: SignedUrlSettings;
  feed: EventFeed;
  /** The signed-URL and principal limits (the address limit is http/app.ts's). */
  limits: RateLimits;
}

export function storageApi(deps: StorageApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  // Signed URLs carry their own permission: answered here, before (and without) authentication.
  app.route('/object', signedUrlRoutes(deps.storage, deps.signedUrls, deps.maxFileSize, deps.limits));
  // The API's description is public, like the API's existence.
  const openApi = openApiDocument();
  app.get('/openapi.json', (c) => c.json(openApi));

  app.use('*', async (c, next) => {
    const req = c.env.incoming;
    const headers = { ...req.headers };
    // storage-js sends the key as `apikey` too; without Authorization it is the credential.
    if (headers.authorization === undefined && typeof headers.apikey === 'string' && headers.apikey !== '') {
      headers.authorization = `Bearer ${headers.apikey}`;
    }
    const { principal } = await authenticate({ method: req.method ?? 'GET', url: req.url ?? '/', headers, address: clientAddress(req) }, deps.auth);
    noteRequest(req, { principal });
    // Authenticated, nothing else done yet: the principal's limit.
    deps.limits.admit(req, { principal });
    c.set('principal', principal);
    await next();
  });

  app.route('/bucket', bucketRoutes(deps.storage));
  app.route('/events', eventRoutes(deps.storage, deps.feed));
  // Before objectRoutes, whose POST /* (upload) would take /sign/... as a bucket named "sign".
  app.route('/object', signingRoutes(deps.storage, deps.signedUrls));
  app.route('/object', listRoutes(deps.storage));
  app.route('/object', versionRoutes(deps.storage));
  app.route('/object', objectRoutes(deps.storage, deps.maxFileSize));
  app.route('/file', fileRoutes(deps.storage, deps.signedUrls));

  app.notFound((c) => apiErrorResponse(c, new StorageApiError(404, 'NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) =>
    answerFailure(c, err, { isAnswer: isStorageAnswer(err) || err instanceof RateLimited, log: deps.storage.log }, (failure) =>
      err instanceof RateLimited ? rateLimitedJson(c, err, 'TOO_MANY_REQUESTS') : apiErrorResponse(c, err, failure),
    ),
  );
  return app;
}
