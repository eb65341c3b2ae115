// Headers on every response but the Swagger UI: no MIME sniffing, no Referer (customer tokens live
// in URLs: a page must not hand its own address to a site it links to), and the customer pages'
// Content-Security-Policy, whose frame-ancestors 'none' keeps the one-button confirm and
// unsubscribe forms out of other sites' frames (a response that set a stricter policy of its own
// keeps it). JSON answers get the same headers: harmless, and
// a problem body opened in a browser stays inert.
import type { FastifyInstance } from 'fastify';

export function registerSecurityHeaders(fastify: FastifyInstance, contentSecurityPolicy: string): void {
  const headers = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy,
    // For browsers without CSP level 2 (frame-ancestors).
    'x-frame-options': 'DENY',
  };
  fastify.addHook('onSend', async (request, reply, payload) => {
    // Swagger UI runs inline scripts of its own: it keeps its defaults.
    if (request.url === '/docs' || request.url.startsWith('/docs/') || request.url.startsWith('/docs?')) return payload;
    // A page that brings a stricter policy of its own keeps it: the console's view of a mail as
    // the customer got it (sandboxed, no scripts, its own inline styles).
    // It keeps its own X-Frame-Options too: the console's live preview of a draft is a framed
    // mail page, allowed in the console's own frames only (SAMEORIGIN, frame-ancestors 'self').
    if (reply.hasHeader('content-security-policy')) {
      const { 'content-security-policy': _ours, 'x-frame-options': frameOptions, ...rest } = headers;
      void reply.headers(reply.hasHeader('x-frame-options') ? rest : { ...rest, 'x-frame-options': frameOptions });
    } else void reply.headers(headers);
    return payload;
  });
}
