// The Hono environment of the service APIs (http/app.ts, admin/, storage-api/):
// the Node request and response they run on, and — once their middleware
// has authenticated the request — its principal.
import type http from 'node:http';
import type { Principal } from '../principals/principal.ts';

export type NodeBindings = { incoming: http.IncomingMessage; outgoing: http.ServerResponse };

/** An app before authentication (health, the dispatching shell). */
export type HttpEnv = { Bindings: NodeBindings };

/** An API whose middleware set `principal` (admin/, storage-api/). */
export type ApiEnv = { Bindings: NodeBindings; Variables: { principal: Principal } };
