// Which connection budget (database/connection-budgets.ts) an HTTP request draws from, by its
// route. Everything not listed is 'api'.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { runAs, WorkClass } from '../database/connection-budgets';

const ROUTE_CLASSES: Record<string, WorkClass> = {
  '/health': 'health',
  '/v1/subscribers/import': 'import',
  // Aggregates over a campaign's whole audience or every decision about it.
  '/v1/campaigns/:id/audience': 'reports',
  '/v1/campaigns/:id/stats': 'reports',
  '/v1/campaigns/:id/feedback': 'reports',
  '/v1/topics/:key/feedback': 'reports',
  // What the mail world sends back: a burst after a large campaign must not take the API's connections.
  '/webhooks/mail-events': 'inbound',
  '/webhooks/mail-events/ses': 'inbound',
  '/webhooks/mail-events/sendgrid': 'inbound',
  '/webhooks/mail-events/postmark': 'inbound',
  '/webhooks/mail-events/mailgun': 'inbound',
};

export function workClassOf(request: Pick<FastifyRequest, 'routeOptions'>): WorkClass {
  return ROUTE_CLASSES[request.routeOptions.url ?? ''] ?? 'api';
}

/**
 * From preHandler on (authentication, interceptors, the handler) a request runs in its class.
 * Not earlier: body parsing runs in the socket's async context, which would lose it.
 */
export function registerWorkClasses(fastify: FastifyInstance): void {
  fastify.addHook('preHandler', (request, _reply, done) => runAs(workClassOf(request), () => done()));
}
