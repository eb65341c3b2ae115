// Request body parsing. JSON bodies are capped at BODY_LIMIT_BYTES, except the subscriber import,
// which also takes CSV and NDJSON as streams so 100k-row files never sit in memory whole. Each
// route takes only the media types it reads (accepts); anything else is a 415 before a byte of
// the body is read, and every parsed body passes the same checks (unsafeJsonProblems) whatever its
// media type.
import Busboy from '@fastify/busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { AppConfig } from '../config/config';
import { DomainException, ErrorCode, FieldError } from './problem';
import { validationException } from './validation';

type BodyKind = 'json' | 'form' | 'multipart' | 'stream';

/** The subscriber import: streamed, with its own (larger) body limit. */
const IMPORT_ROUTE = '/v1/subscribers/import';
/** Amazon SNS posts its JSON messages as text/plain: read (and kept raw, for the signature) as JSON there only. */
const SNS_TEXT_ROUTES: ReadonlySet<string> = new Set(['/webhooks/mail-events/ses']);
/** RFC 8058 §3.2 lets a mail client send the one-click unsubscribe as multipart/form-data. */
const MULTIPART_ROUTES: ReadonlySet<string> = new Set(['/u/:token']);

/**
 * May this route (its pattern, `request.routeOptions.url`) take a body of this kind? The API and
 * the webhooks take JSON (the import also CSV and NDJSON), as the OpenAPI document says; the
 * customer pages take forms, the console forms only.
 */
function accepts(request: FastifyRequest, kind: BodyKind): boolean {
  const route = request.routeOptions.url ?? '';
  const api = route.startsWith('/v1/') || route.startsWith('/webhooks/');
  switch (kind) {
    case 'json':
      // The console's forms are HTML forms and nothing else.
      return !route.startsWith('/console');
    case 'form':
      return !api;
    case 'multipart':
      return MULTIPART_ROUTES.has(route);
    case 'stream':
      return route === IMPORT_ROUTE;
  }
}

function unsupported(request: FastifyRequest): DomainException {
  const type = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  return new DomainException(ErrorCode.UnsupportedMediaType, `This endpoint does not accept ${type || 'that Content-Type'}.`);
}

function limitFor(request: FastifyRequest, config: AppConfig): number {
  return request.routeOptions.url === IMPORT_ROUTE ? config.importBodyLimitBytes : config.bodyLimitBytes;
}

function tooLarge(limit: number): DomainException {
  return new DomainException(ErrorCode.PayloadTooLarge, `The request body is larger than ${limit} bytes, the most this endpoint accepts.`);
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
 * Keys that are never a field: assigning them to an object changes its prototype or shadows its
 * constructor, so class-transformer and plain objects drop them silently where any other unknown
 * key is refused.
 */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * False for a string with a lone UTF-16 surrogate, which has no UTF-8 form: PostgreSQL refuses it at
 * INSERT. String.prototype.isWellFormed is in Node 20 (not yet in TypeScript's ES2023 lib).
 */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why PostgreSQL (or any UTF-8 reader) could not take this string as text, if it could not. */
export function unsafeStringProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters';
  if (!isWellFormed(text)) return 'must not contain a lone UTF-16 surrogate (not valid Unicode text)';
  return null;
}

/**
 * Problems no field validator catches: NUL characters and lone surrogates (PostgreSQL text cannot
 * hold them, so they would fail at INSERT as a 500), prototype keys (see PROTOTYPE_KEYS) and nesting
 * deeper than MAX_JSON_DEPTH. Field names follow the validation errors: `items[0].name`, `subject.de`.
 */
export function unsafeJsonProblems(value: unknown): FieldError[] {
  const problems: FieldError[] = [];
  const path: (string | number)[] = [];
  const name = () => path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '') || 'body';
  const walk = (node: unknown, depth: number): void => {
    if (problems.length >= 20) return;
    if (typeof node === 'string') {
      const problem = unsafeStringProblem(node);
      if (problem) problems.push({ field: name(), message: problem });
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
      const problem = PROTOTYPE_KEYS.has(key) ? 'is not a known field' : unsafeStringProblem(key);
      if (problem) problems.push({ field: name(), message: problem });
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

type FormFields = Record<string, string | string[]>;

/** Adds a field; a repeated name (checkboxes) becomes an array. */
function addField(fields: FormFields, name: string, value: string): void {
  const existing = fields[name];
  fields[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
}

/**
 * Form fields, in an object without a prototype: a field named `__proto__` is then a field like
 * any other (and refused by unsafeJsonProblems) instead of silently replacing the prototype.
 */
export function formFields(body: string): FormFields {
  const fields: FormFields = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) addField(fields, name, value);
  return fields;
}

/** Small fields only and no files: the one-click unsubscribe sends one field. */
export const MULTIPART_LIMITS = { fields: 10, fieldSize: 1024, fieldNameSize: 100, files: 0, parts: 10, headerPairs: 20 } as const;
const FORM_BODY_LIMIT = 64 * 1024;

const malformedMultipart = (error: unknown) =>
  new DomainException(ErrorCode.Validation, 'The multipart/form-data body cannot be read.', [
    { field: 'body', message: `is not valid multipart/form-data (${error instanceof Error ? error.message : String(error)})` },
  ]);

/** Reads a multipart/form-data body into fields (a malformed one is a 400, never a 500). */
export function multipartFields(headers: IncomingHttpHeaders, payload: Readable, byteLimit = FORM_BODY_LIMIT): Promise<FormFields> {
  return new Promise<FormFields>((resolve, reject) => {
    let parser: ReturnType<typeof Busboy>;
    try {
      parser = Busboy({ headers: headers as IncomingHttpHeaders & { 'content-type': string }, limits: MULTIPART_LIMITS });
    } catch (error) {
      payload.resume(); // a missing boundary: drain the body, answer 400
      reject(malformedMultipart(error));
      return;
    }
    const fields: FormFields = Object.create(null);
    const problems: FieldError[] = [];
    const limit = (message: string) => () => problems.push({ field: 'body', message });
    parser.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (nameTruncated) problems.push({ field: 'body', message: `has a field name longer than ${MULTIPART_LIMITS.fieldNameSize} bytes` });
      else if (valueTruncated) problems.push({ field: name, message: `is longer than ${MULTIPART_LIMITS.fieldSize} bytes` });
      else addField(fields, name, value);
    });
    parser.on('filesLimit', limit('must not contain files'));
    parser.on('fieldsLimit', limit(`has more than ${MULTIPART_LIMITS.fields} fields`));
    parser.on('partsLimit', limit(`has more than ${MULTIPART_LIMITS.parts} parts`));
    parser.on('error', (error: unknown) => reject(malformedMultipart(error)));
    parser.on('finish', () => (problems.length > 0 ? reject(validationException(problems)) : resolve(fields)));
    let size = 0;
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > byteLimit) {
        payload.unpipe(parser);
        payload.resume();
        reject(tooLarge(byteLimit));
      }
    });
    payload.on('error', reject);
    payload.pipe(parser);
  });
}

/** The same rules for the URL: a NUL in a path or query parameter would reach PostgreSQL as a 500. */
function urlProblems(request: FastifyRequest): FieldError[] {
  const problems: FieldError[] = [];
  const check = (source: unknown) => {
    for (const [name, value] of Object.entries((source ?? {}) as Record<string, unknown>)) {
      const problem = PROTOTYPE_KEYS.has(name)
        ? 'is not a known field'
        : [value]
            .flat()
            .map((v) => unsafeStringProblem(String(v)))
            .find(Boolean);
      if (problem) problems.push({ field: name, message: problem });
    }
  };
  check(request.params);
  check(request.query);
  // eslint-disable-next-line no-control-regex -- NUL is exactly what this refuses
  if (problems.length === 0 && /%00|\u0000/i.test(request.url)) problems.push({ field: 'url', message: 'must not contain NUL characters' });
  return problems;
}

/** Every body parser, multipart/form-data included (RFC 8058 one-click, see MULTIPART_ROUTES). */
export function registerBodyParsers(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRequest', async (request: FastifyRequest) => {
    const problems = urlProblems(request);
    if (problems.length > 0) throw validationException(problems);
  });
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  const json = async (request: FastifyRequest, payload: Readable) => {
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
      throw new DomainException(ErrorCode.Validation, 'The request body is not valid JSON.', [{ field: 'body', message: 'is not valid JSON' }]);
    }
    return refuseUnsafe(parsed);
  };
  fastify.addContentTypeParser(['application/json', 'application/problem+json'], async (request: FastifyRequest, payload: Readable) => {
    if (!accepts(request, 'json')) throw unsupported(request);
    return json(request, payload);
  });
  fastify.addContentTypeParser('text/plain', async (request: FastifyRequest, payload: Readable) => {
    if (!SNS_TEXT_ROUTES.has(request.routeOptions.url ?? '')) throw unsupported(request);
    return json(request, payload);
  });

  // HTML forms on the customer pages (and RFC 8058 one-click POSTs).
  fastify.addContentTypeParser('application/x-www-form-urlencoded', async (request: FastifyRequest, payload: Readable) => {
    if (!accepts(request, 'form')) throw unsupported(request);
    return refuseUnsafe(formFields(await readLimited(payload, FORM_BODY_LIMIT)));
  });

  // Only the one-click unsubscribe; every other route answers 415 without reading the body.
  fastify.addContentTypeParser('multipart/form-data', async (request: FastifyRequest, payload: Readable) => {
    if (!accepts(request, 'multipart')) throw unsupported(request);
    return refuseUnsafe(await multipartFields(request.headers, payload));
  });

  // Streams are handed to the import controller untouched; every other route refuses them.
  fastify.addContentTypeParser(['text/csv', 'application/x-ndjson'], async (request: FastifyRequest, payload: Readable) => {
    if (!accepts(request, 'stream')) {
      throw new DomainException(ErrorCode.UnsupportedMediaType, 'Only the subscriber import accepts CSV or NDJSON bodies.');
    }
    return payload;
  });
}
