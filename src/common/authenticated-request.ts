// A request the API-key guard (src/auth/api-key.guard.ts) let through: it names the key, so the
// idempotency store and the audit fields can scope by it without importing the auth module.
import type { FastifyRequest } from 'fastify';

export interface AuthenticatedRequest extends FastifyRequest {
  apiKey?: { id: string; scopes: string[] };
}
