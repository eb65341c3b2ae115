// Request ids: the caller's `x-request-id` when it is a safe token, else a fresh UUID. Fastify uses
// it as request.id, so every pino log line of the request carries it, and it is echoed back.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

export function echoRequestId(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
}
