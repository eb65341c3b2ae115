// What the logs must never hold: API keys (wherever a client put them: Authorization, X-API-Key,
// the query string), signed customer tokens (anyone holding a preferences or unsubscribe link acts
// as that customer), e-mail addresses and attribute values (personal data), secrets in other
// headers. Used by the pino set-up in app.module.ts, in two layers:
//   1. serializers that build what is logged from allow-lists (request and response headers,
//      query parameters, the fields of an error), so values are never copied in by default;
//   2. a last pass over every line written (scrubLogLine) for the shapes of keys, tokens and
//      addresses, whatever path they took into a message.

/** pino `redact` paths: the value is replaced by "[Redacted]" (the serializers below drop these already). */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-tactful-signature"]',
  'res.headers["set-cookie"]',
];

export const REDACTED = '[Redacted]';

// Every route whose path carries a signed token: /p/:token(/suggest), /u/:token, /f/:token,
// /confirm/:token, /webinars/unregister/:token, /webinars/:slug/confirm/:token.
const TOKEN_IN_PATH = /^(\/(?:p|u|f|confirm|webinars\/unregister|webinars\/[^/?#]+\/confirm))\/[^/?#]+/;

/**
 * Query parameters whose values are logged: short, harmless choices. Any other parameter is
 * logged by name only (`email=[Redacted]`), so a key or an address sent in the query string
 * (`?api_key=…`, `?email=…`) never reaches the log.
 */
const LOGGED_QUERY_VALUES = new Set(['lang', 'locale', 'status', 'cadence', 'limit', 'atomic', 'includeArchived', 'v', 'job', 'topic', 'kind']);
const SAFE_QUERY_NAME = /^[A-Za-z][A-Za-z0-9_.[\]-]{0,63}$/;
const SAFE_QUERY_VALUE = /^[A-Za-z0-9_.:-]{0,64}$/;

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      if (pair === '') return pair;
      const at = pair.indexOf('=');
      const rawName = at < 0 ? pair : pair.slice(0, at);
      let name: string;
      let value: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
        value = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
      } catch {
        return REDACTED;
      }
      if (!SAFE_QUERY_NAME.test(name) || looksSecret(name)) return REDACTED;
      if (at < 0) return name;
      const keep = LOGGED_QUERY_VALUES.has(name) && SAFE_QUERY_VALUE.test(value) && !looksSecret(value);
      return `${name}=${keep ? value : REDACTED}`;
    })
    .join('&');
}

/** The URL as it may be logged: a token in its path becomes "[token]", query values are dropped unless harmless. */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return url;
  const at = url.indexOf('?');
  const path = (at < 0 ? url : url.slice(0, at)).replace(TOKEN_IN_PATH, '$1/[token]');
  return at < 0 ? path : `${path}?${redactQuery(url.slice(at + 1))}`;
}

/** Request headers logged with their value; every other header is logged by name with "[Redacted]". */
const LOGGED_REQUEST_HEADERS = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-language',
  'accept-encoding',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'origin',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);
const LOGGED_RESPONSE_HEADERS = new Set(['content-type', 'content-length', 'x-request-id', 'retry-after', 'cache-control', 'idempotent-replayed']);

function redactHeaders(headers: unknown, allowed: Set<string>): Record<string, unknown> | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    const lower = name.toLowerCase();
    if (lower === 'location' && typeof value === 'string') out[name] = redactLocation(value);
    else out[name] = allowed.has(lower) ? value : REDACTED;
  }
  return out;
}

/** A redirect's target keeps its path (tokens replaced) and loses query values. */
function redactLocation(location: string): string {
  try {
    const url = new URL(location, 'http://relative.invalid');
    const redacted = redactUrl(url.pathname + url.search) ?? '';
    return url.origin === 'http://relative.invalid' ? redacted : url.origin + redacted;
  } catch {
    return REDACTED;
  }
}

interface LoggableRequest {
  id?: unknown;
  method?: string;
  url?: string;
  headers?: unknown;
  remoteAddress?: string;
  remotePort?: number;
}

/** pino-http `serializers.req`: only the fields below, each redacted. */
export function serializeRequest(req: LoggableRequest): Record<string, unknown> {
  return {
    id: req.id,
    method: req.method,
    url: redactUrl(req.url),
    headers: redactHeaders(req.headers, LOGGED_REQUEST_HEADERS),
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
  };
}

/** pino-http `serializers.res`. */
export function serializeResponse(res: { statusCode?: number; headers?: unknown }): Record<string, unknown> {
  return { statusCode: res.statusCode, headers: redactHeaders(res.headers, LOGGED_RESPONSE_HEADERS) };
}

/** Fields of an error (and of PostgreSQL's errors) that are names and codes, never values. */
const ERROR_NAME_FIELDS = ['code', 'severity', 'constraint', 'table', 'column', 'schema', 'dataType', 'routine', 'status', 'statusCode', 'responseCode', 'command'];
const MAX_CAUSE_DEPTH = 3;

/**
 * pino `serializers.err`: message and stack (scrubbed), codes and names; never an error's
 * `parameters` (TypeORM's QueryFailedError carries the statement's bind values: addresses,
 * attributes), nor the values in PostgreSQL's `detail` ("Key (email)=(…)", "Failing row
 * contains (…)"). The statement text is kept: it holds placeholders, not values.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (error === null || typeof error !== 'object') return typeof error === 'string' ? scrubSecrets(error) : error;
  const e = error as Record<string, unknown>;
  const out: Record<string, unknown> = {
    type: typeof e.type === 'string' ? e.type : (error as object).constructor?.name,
    message: typeof e.message === 'string' ? scrubSecrets(e.message) : undefined,
    stack: typeof e.stack === 'string' ? scrubSecrets(e.stack) : undefined,
  };
  for (const field of ERROR_NAME_FIELDS) {
    const value = e[field];
    if (typeof value === 'string' || typeof value === 'number') out[field] = typeof value === 'string' ? scrubSecrets(value) : value;
  }
  if (typeof e.detail === 'string') out.detail = redactPgDetail(e.detail);
  if (typeof e.where === 'string') out.where = scrubSecrets(e.where);
  if (typeof e.query === 'string') out.query = scrubSecrets(e.query.slice(0, 2000));
  if (Array.isArray(e.parameters)) out.parameters = `[${e.parameters.length} bind values not logged]`;
  if (depth < MAX_CAUSE_DEPTH && e.cause !== undefined) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/**
 * PostgreSQL's detail with every value replaced: which key or row, never what was in it. Values
 * may hold any character (parentheses too), so nothing of them is parsed: the detail is rebuilt
 * from its columns (before the first ")=(") and PostgreSQL's fixed wording.
 */
export function redactPgDetail(detail: string): string {
  if (detail.startsWith('Failing row contains')) return `Failing row contains (${REDACTED}).`;
  const split = detail.startsWith('Key (') ? detail.indexOf(')=(') : -1;
  if (split < 0) return scrubSecrets(detail);
  const key = `${detail.slice(0, split + 1)}=(${REDACTED})`;
  if (detail.endsWith(') already exists.')) return `${key} already exists.`;
  if (detail.includes(') conflicts with existing key (')) return `${key} conflicts with existing key (${REDACTED}).`;
  const table = / is (not present in|still referenced from) table ("[^"]*")\.$/.exec(detail);
  if (table) return `${key} is ${table[1]} table ${table[2]}.`;
  return `${key} …`;
}

// The shapes of what must never be written, for the last pass over every line.
const API_KEY = /tk_[A-Za-z0-9_-]{6,}/g;
/** `<key id>.<payload>.<mac>` (links/tokens.ts): 4, at least 22 and 27 base64url characters. */
const CUSTOMER_TOKEN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]{22,}\.[A-Za-z0-9_-]{27}(?![A-Za-z0-9_-])/g;
// Starts only where a run of address characters starts: linear, even on a 16 kB header of letters.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const BEARER = /(Bearer\s+)[^\s"',;]+/gi;

const ONE_TOKEN = new RegExp(CUSTOMER_TOKEN.source);
const looksSecret = (value: string): boolean => /tk_|@|%40/i.test(value) || ONE_TOKEN.test(value);

/** Replaces every customer token (`/p/<token>` becomes `/p/[redacted]`). */
export function redactCustomerTokens(text: string): string {
  return text.replace(CUSTOMER_TOKEN, '[redacted]');
}

/** Replaces API keys, bearer credentials, customer tokens and e-mail addresses in free text. */
export function scrubSecrets(text: string): string {
  return text.replace(BEARER, `$1${REDACTED}`).replace(API_KEY, `tk_${REDACTED}`).replace(CUSTOMER_TOKEN, '[token]').replace(EMAIL, '[email]');
}

/** The last pass over each serialized log line (after the serializers). */
export function scrubLogLine(line: string): string {
  return scrubSecrets(line).replace(/(Key \(.*?\))=\((?:[^()"\\]|\\.)*\)/g, `$1=(${REDACTED})`).replace(/Failing row contains \((?:[^"\\]|\\.)*\)/g, `Failing row contains (${REDACTED})`);
}

/** A pino destination that scrubs every line before it reaches `out` (stdout by default). */
export function scrubbingDestination(out: { write(line: string): unknown }): { write(line: string): void } {
  return { write: (line: string) => void out.write(scrubLogLine(line)) };
}
