// Request body parsing. JSON bodies are capped at BODY_LIMIT_BYTES, except the subscriber import,
// which also takes CSV and NDJSON as streams so 100k-row files never sit in memory whole.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { AppConfig } from '../config/config';
import { DomainException, ErrorCode, FieldError } from './problem';
import { validationException } from './validation';

const STREAMED_ROUTES = /^\/v1\/subscribers\/import(\?|$)/;

function limitFor(request: FastifyRequest, config: AppConfig): number {
  return STREAMED_ROUTES.test(request.url) ? config.importBodyLimitBytes : config.bodyLimitBytes;
}

function tooLarge(limit: number): DomainException {
  return new DomainException(
    ErrorCode.PayloadTooLarge,
    `The request body is larger than ${limit} bytes, the most this endpoint accepts.`,
  );
}

async function readLimited(payload: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      payload.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Deeper JSON is refused before validation walks it (class-transformer recurses; 10,000 levels overflow). */
export const MAX_JSON_DEPTH = 64;

/**
 * Problems no field validator catches: NUL characters (PostgreSQL text cannot hold them, so they
 * would fail at INSERT as a 500) and nesting deeper than MAX_JSON_DEPTH. Field names follow the
 * validation errors: `items[0].name`, `subject.de`.
 */
export function unsafeJsonProblems(value: unknown): FieldError[] {
  const problems: FieldError[] = [];
  const path: (string | number)[] = [];
  const name = () =>
    path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '') || 'body';
  const walk = (node: unknown, depth: number): void => {
    if (problems.length >= 20) return;
    if (typeof node === 'string') {
      if (node.includes('\u0000')) problems.push({ field: name(), message: 'must not contain NUL characters' });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (depth >= MAX_JSON_DEPTH) {
      problems.push({ field: name(), message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
      return;
    }
    // Plain loops: a 100,000-row JSON import passes through here too.
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        walk(node[i], depth + 1);
        path.pop();
      }
      return;
    }
    for (const key in node as Record<string, unknown>) {
      path.push(key);
      if (key.includes('\u0000')) problems.push({ field: name(), message: 'must not contain NUL characters' });
      walk((node as Record<string, unknown>)[key], depth + 1);
      path.pop();
    }
  };
  walk(value, 0);
  return problems;
}

function refuseUnsafe<T>(value: T): T {
  const problems = unsafeJsonProblems(value);
  if (problems.length > 0) throw validationException(problems);
  return value;
}

/** Form fields; a repeated name (checkboxes) becomes an array. */
export function formFields(body: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = fields[name];
    fields[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return fields;
}

export function registerBodyParsers(fastify: FastifyInstance, config: AppConfig): void {
  // The same rule for the URL: a NUL in a path or query parameter would reach PostgreSQL as a 500.
  fastify.addHook('onRequest', async (request: FastifyRequest) => {
    if (/%00|\u0000/i.test(request.url)) {
      throw validationException([{ field: 'url', message: 'must not contain NUL characters' }]);
    }
  });
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser(['application/json', 'application/problem+json'], async (request: FastifyRequest, payload: Readable) => {
    const limit = limitFor(request, config);
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) throw tooLarge(limit);
    const text = await readLimited(payload, limit);
    // Signed webhooks verify the exact bytes that were sent.
    (request as FastifyRequest & { rawBody?: string }).rawBody = text;
    if (text.trim() === '') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      throw new DomainException(ErrorCode.Validation, 'The request body is not valid JSON.', [
        { field: 'body', message: 'is not valid JSON' },
      ]);
    }
    return refuseUnsafe(parsed);
  });

  // HTML forms on the customer pages (and RFC 8058 one-click POSTs).
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void) => {
      try {
        done(null, refuseUnsafe(formFields(body.toString())));
      } catch (error) {
        done(error as Error);
      }
    },
  );

  // Streams are handed to the import controller untouched; every other route refuses them.
  fastify.addContentTypeParser(['text/csv', 'application/x-ndjson'], async (request: FastifyRequest, payload: Readable) => {
    if (!STREAMED_ROUTES.test(request.url)) {
      throw new DomainException(ErrorCode.UnsupportedMediaType, 'Only the subscriber import accepts CSV or NDJSON bodies.');
    }
    return payload;
  });
}
