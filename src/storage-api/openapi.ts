// /storage/v1/openapi.json: the API described from the zod schemas its
// handlers validate with, so the document cannot drift from what is checked.
import { restoreBody } from './versions.ts';
import { z } from 'zod';
import { createBody, updateBody } from './buckets.ts';
import { eventsQuery } from './events.ts';
import { listBody, listV2Body } from './list.ts';
import { removeBody, transferBody } from './objects.ts';

/** What a request may carry, as the client writes it (input side of transforms). */
const schema = (s: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** The sign endpoints read `expiresIn` (seconds) and, for a batch, `paths`. */
const signBody = z.object({ expiresIn: z.number().int().positive().optional() });
const signBatchBody = z.object({ expiresIn: z.number().int().positive().optional(), paths: z.array(z.string()).min(1) });

const error = {
  description: 'An error: { statusCode, error, message }',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: { statusCode: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } },
        required: ['statusCode', 'error', 'message'],
      },
    },
  },
};
const json = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: schema(s) } } });
const ok = (description: string) => ({ description });
const op = (summary: string, extra: Record<string, unknown> = {}) => ({
  summary,
  responses: { '200': ok('OK'), '4XX': error },
  ...extra,
});
/** A zod object of query parameters as OpenAPI parameters. */
const queryParams = (s: z.ZodObject) =>
  Object.entries((schema(s) as { properties: Record<string, unknown> }).properties).map(([name, p]) => ({ name, in: 'query', required: false, schema: p }));
const pathParams = (...names: string[]) => names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
const upload = {
  description: 'The file: a raw body with its Content-Type, or multipart/form-data with the file part (and cacheControl, metadata fields)',
  required: true,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } }, 'multipart/form-data': { schema: { type: 'object' } } },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'aerostore /storage/v1', version: '1', description: 'The Supabase-compatible storage API of aerostore.' },
    servers: [{ url: '/storage/v1' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ bearer: [] }, {}],
    paths: {
      '/bucket': {
        get: op('List the buckets the principal can see'),
        post: op('Create a bucket', { requestBody: json(createBody) }),
      },
      '/bucket/{id}': {
        parameters: pathParams('id'),
        get: op('Get a bucket'),
        put: op('Update a bucket', { requestBody: json(updateBody) }),
        delete: op('Delete an empty bucket'),
      },
      '/bucket/{id}/empty': { parameters: pathParams('id'), post: op('Delete every object of a bucket') },
      '/object/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        post: op('Upload (x-upsert: true to overwrite)', { requestBody: upload }),
        put: op('Upload, replacing', { requestBody: upload }),
        get: op('Download'),
        head: op('Object headers'),
        delete: op('Delete'),
      },
      '/object/{bucket}': { parameters: pathParams('bucket'), delete: op('Delete several objects', { requestBody: json(removeBody) }) },
      '/object/public/{bucket}/{path}': { parameters: pathParams('bucket', 'path'), get: op('Download from a public bucket, without credentials') },
      '/object/authenticated/{bucket}/{path}': { parameters: pathParams('bucket', 'path'), get: op('Download as a signed-in principal') },
      '/object/info/{bucket}/{path}': { parameters: pathParams('bucket', 'path'), get: op('Object metadata (?versionId= a past version)') },
      '/object/versions/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        get: op("An object's versions and delete markers, newest first (?limit=, ?cursor= the last version id of the page before)"),
      },
      '/object/restore/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        post: op('Make a past version current again; without versionId, the newest that is not a delete marker (undelete)', {
          requestBody: json(restoreBody),
        }),
      },
      '/file/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        get: op("The File Storage Blueprint's file record (?urls=download,upload adds presigned URLs, ?expires_in= their lifetime, 3600 s by default)"),
      },
      '/object/list/{bucket}': { parameters: pathParams('bucket'), post: op('List a folder', { requestBody: json(listBody) }) },
      '/object/list-v2/{bucket}': { parameters: pathParams('bucket'), post: op('List by prefix, with a cursor', { requestBody: json(listV2Body) }) },
      '/object/move': { post: op('Move an object', { requestBody: json(transferBody) }) },
      '/object/copy': { post: op('Copy an object', { requestBody: json(transferBody) }) },
      '/object/sign/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        post: op('Create a signed download URL', { requestBody: json(signBody) }),
        get: op('Download with ?token= (no other credentials)'),
      },
      '/object/sign/{bucket}': { parameters: pathParams('bucket'), post: op('Create signed download URLs', { requestBody: json(signBatchBody) }) },
      '/object/upload/sign/{bucket}/{path}': {
        parameters: pathParams('bucket', 'path'),
        post: op('Create a signed upload URL (x-upsert: true to allow overwriting)'),
        put: op('Upload once with ?token= (no other credentials)', { requestBody: upload }),
      },
      '/events': {
        get: op('The event log as Server-Sent Events (resume with Last-Event-ID)', {
          parameters: queryParams(eventsQuery),
          responses: { '200': { description: 'text/event-stream' }, '4XX': error },
        }),
      },
    },
  };
}
