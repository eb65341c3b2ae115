// What the request log must never hold: credentials in headers and the signed tokens that sit in
// the paths of the customer pages (anyone holding a preferences or unsubscribe link acts as that
// customer). Used by the pino-http set-up in app.module.ts.

/** pino `redact` paths: the value is replaced by "[Redacted]". */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-tactful-signature"]',
  'res.headers["set-cookie"]',
];

// Every route whose path carries a signed token: /p/:token(/suggest), /u/:token, /f/:token,
// /confirm/:token, /webinars/unregister/:token.
const TOKEN_IN_PATH = /^(\/(?:p|u|f|confirm|webinars\/unregister))\/[^/?#]+/;

/** The URL as it may be logged: a token in its path becomes "[token]". */
export function redactUrl(url: string | undefined): string | undefined {
  return url === undefined ? url : url.replace(TOKEN_IN_PATH, '$1/[token]');
}

/** pino-http `serializers.req`: gets the standard serialized request. */
export function serializeRequest<T extends { url?: string }>(req: T): T {
  req.url = redactUrl(req.url);
  return req;
}
