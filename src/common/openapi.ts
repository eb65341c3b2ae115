// The OpenAPI document (GET /docs/openapi.json) and its building blocks, so that every route
// describes each of its answers the same way: ApiOk (a JSON success with its schema and an
// example), ApiNoContent, ApiText, ApiPage (the customer pages' HTML), ApiProblems
// (application/problem+json errors, all one Problem schema), ApiForm and ApiBodyContent (request
// bodies @ApiBody cannot describe), the property helpers for instants, ids and integers, and
// finishDocument, which adds the answers that come from the global hooks rather than from a route
// and writes the document as OpenAPI 3.1 (see there).
import { applyDecorators, Type } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiExtension,
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  ApiQuery,
  ApiResponse,
  ApiSchema,
  DocumentBuilder,
  getSchemaPath,
  SwaggerModule,
} from '@nestjs/swagger';
import type { ApiPropertyOptions, ContentObject, HeadersObject, OpenAPIObject, OperationObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { DomainException, ErrorCode } from './problem';

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
export const HTML_MEDIA_TYPE = 'text/html';

// ---- property helpers ----------------------------------------------------------------------

type PropertyOptions = Omit<ApiPropertyOptions, 'type' | 'format' | 'nullable'> & { nullable?: boolean };

/** An RFC 3339 instant in UTC, as every response writes them (`Date.toISOString()`). */
export const ApiInstant = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({
    example: '2026-03-02T09:00:00.000Z',
    ...options,
    type: String,
    format: 'date-time',
    ...(options.nullable ? { nullable: true } : {}),
  } as ApiPropertyOptions);

/** A UUID (subscribers, campaigns, webinars, orders, shipments, API keys, …). */
export const ApiUuid = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({
    example: '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f',
    ...options,
    type: String,
    format: 'uuid',
    ...(options.nullable ? { nullable: true } : {}),
  } as ApiPropertyOptions);

/** A whole number (counts, hours, minutes): `integer`, never `number`. */
export const ApiInteger = (options: PropertyOptions = {}): PropertyDecorator =>
  ApiProperty({ ...options, type: 'integer', ...(options.nullable ? { nullable: true } : {}) } as ApiPropertyOptions);

/** Free attributes (audience filters read them): string, number, boolean or null values. */
export const ATTRIBUTE_MAP: { type: 'object'; additionalProperties: SchemaObject } = {
  type: 'object',
  additionalProperties: { oneOf: [{ type: 'string', nullable: true }, { type: 'number' }, { type: 'boolean' }] },
};

/** An audience filter, as campaigns/audience-filter.ts reads it: any JSON object, checked there. */
export const AUDIENCE_FILTER: { type: 'object'; additionalProperties: true } = { type: 'object', additionalProperties: true };

/** A map from each of `keys` to a count: every key optional, no other key. */
export function countsByKey(keys: readonly string[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: Object.fromEntries(keys.map((key) => [key, { type: 'integer', minimum: 0 }])),
    additionalProperties: false,
  };
}

// ---- the Problem schema ----------------------------------------------------------------------

@ApiSchema({ name: 'FieldError', description: 'One offending input.' })
export class FieldErrorResponse {
  @ApiProperty({ example: 'email', description: 'A dotted path into the body or query (`topics[2]`, `consent.source`), a parameter name, or `body`.' })
  field: string;

  @ApiProperty({ example: 'must be a valid e-mail address' })
  message: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, example: 3, description: 'Bulk input (imports): the 1-based position of the offending row.' })
  row?: number;
}

@ApiSchema({ name: 'Problem', description: 'An error, as RFC 9457 problem details (`application/problem+json`). Never a stack trace or SQL.' })
export class ProblemResponse {
  @ApiProperty({ format: 'uri', example: 'https://tactful.dev/problems/validation', description: 'Identifies the kind of problem; one per `code`.' })
  type: string;

  @ApiProperty({ example: 'Invalid request' })
  title: string;

  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 400, description: 'The HTTP status, repeated.' })
  status: number;

  @ApiProperty({ example: 'email must be a valid e-mail address', description: 'What went wrong, for a person.' })
  detail: string;

  @ApiProperty({ enum: Object.values(ErrorCode), enumName: 'ErrorCode', example: ErrorCode.Validation, description: 'What went wrong, for a program.' })
  code: ErrorCode;

  @ApiPropertyOptional({ example: '/v1/subscribers', description: 'The path of the request (without its query).' })
  instance?: string;

  @ApiPropertyOptional({ type: [FieldErrorResponse], description: 'Each offending field (validation, bad import rows, conflicting fields).' })
  errors?: FieldErrorResponse[];

  // Extension members (RFC 9457 §3.2), each set by the errors named in its description.
  @ApiPropertyOptional({ type: [String], example: ['read', 'subscribers:write'], description: '403: the scopes of which the route needs one (or `admin`).' })
  requiredScopes?: string[];

  @ApiPropertyOptional({
    enum: ['duplicate', 'full', 'cancelled', 'started', 'erased', 'bounced', 'complained'],
    description: 'Registering for a webinar (409, 422): why not.',
  })
  reason?: string;

  @ApiPropertyOptional({ format: 'uuid', description: '409 `duplicate`: the registration that exists.' })
  registrationId?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'An atomic import refused (422): rows received.' })
  received?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'An atomic import refused (422): bad rows.' })
  rejected?: number;

  @ApiPropertyOptional({ description: 'An atomic import refused (422): more rows were bad than `errors` lists.' })
  errorsTruncated?: boolean;

  @ApiPropertyOptional({ description: 'An atomic import refused (422): always false, nothing was stored.' })
  applied?: boolean;

  @ApiPropertyOptional({ format: 'uuid', description: 'Revoking an API key refused (409): the key.' })
  apiKeyId?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: '503 (busy): seconds to wait before retrying, as the Retry-After header says.' })
  retryAfterSeconds?: number;
}

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 503;

const PROBLEM_CODE: Record<ProblemStatus, ErrorCode> = {
  400: ErrorCode.Validation,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  410: ErrorCode.Gone,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  422: ErrorCode.Unprocessable,
  429: ErrorCode.TooManyRequests,
  500: ErrorCode.Internal,
  503: ErrorCode.Unavailable,
};

const DEFAULT_DESCRIPTION: Record<ProblemStatus, string> = {
  400: 'The request is invalid: `errors` names each offending body or query field, parameter, or the URL itself.',
  401: 'No API key, or an unknown or revoked one.',
  403: 'The API key lacks the scope for this route (`requiredScopes`).',
  404: 'It does not exist.',
  409: 'It conflicts with what is stored.',
  410: 'It is gone.',
  413: 'The request body is larger than this route accepts (BODY_LIMIT_BYTES, IMPORT_BODY_LIMIT_BYTES).',
  415: 'The route does not accept the request’s Content-Type.',
  422: 'The request is well-formed but cannot be carried out.',
  429: 'Too many requests; see Retry-After.',
  500: 'An unexpected error; it is logged (with the request id), and the answer says nothing more.',
  503: 'The service is busy (no database connection came free in time, or a statement ran too long) or stopping; retry after Retry-After.',
};

const EXAMPLE: Record<ProblemStatus, () => DomainException> = {
  400: () => new DomainException(ErrorCode.Validation, 'email must be a valid e-mail address', [{ field: 'email', message: 'must be a valid e-mail address' }]),
  401: () => new DomainException(ErrorCode.Unauthorized, 'Send an API key as "Authorization: Bearer <key>".'),
  403: () =>
    new DomainException(ErrorCode.Forbidden, 'This API key lacks the scope for this route; it needs one of: read, subscribers:write.', undefined, {
      requiredScopes: ['read', 'subscribers:write'],
    }),
  404: () => new DomainException(ErrorCode.NotFound, 'Campaign 0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f does not exist'),
  409: () => new DomainException(ErrorCode.Conflict, 'A topic with key trade-fairs exists', [{ field: 'key', message: 'is taken' }]),
  410: () => new DomainException(ErrorCode.Gone, 'It is gone.'),
  413: () => new DomainException(ErrorCode.PayloadTooLarge, 'The request body is larger than 1048576 bytes, the most this endpoint accepts.'),
  415: () => new DomainException(ErrorCode.UnsupportedMediaType, 'This endpoint does not accept text/plain.'),
  422: () => new DomainException(ErrorCode.Unprocessable, 'The campaign has no en version.', [{ field: 'locale', message: 'has no content' }]),
  429: () => new DomainException(ErrorCode.TooManyRequests, 'Too many requests; retry later.'),
  500: () => new DomainException(ErrorCode.Internal, 'An unexpected error occurred. It has been logged.'),
  503: () =>
    new DomainException(ErrorCode.Unavailable, 'The service is busy: no database connection came free in time. Retry shortly.', undefined, {
      retryAfterSeconds: 5,
    }),
};

/** The problem+json content of an error response, with an example made by the code that makes real ones. */
export function problemContent(status: ProblemStatus): ContentObject {
  const example = EXAMPLE[status]().toProblem();
  if (example.code !== PROBLEM_CODE[status]) throw new Error(`problem example for ${status} has code ${example.code}`);
  return { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: getSchemaPath(ProblemResponse) }, example } };
}

type ProblemSpec = ProblemStatus | Partial<Record<ProblemStatus, string>>;

/**
 * The errors a route answers as application/problem+json: statuses with the default description,
 * or `{ 409: 'why, on this route' }`. 400, 413 and 415 come from the global hooks and are added by
 * finishDocument to every route that can answer them.
 */
export function ApiProblems(...specs: ProblemSpec[]) {
  const entries: [ProblemStatus, string][] = specs.flatMap((spec) =>
    typeof spec === 'number'
      ? [[spec, DEFAULT_DESCRIPTION[spec]] as [ProblemStatus, string]]
      : (Object.entries(spec) as unknown as [ProblemStatus, string][]).map(([s, d]) => [Number(s) as ProblemStatus, d] as [ProblemStatus, string]),
  );
  return applyDecorators(
    ApiExtraModels(ProblemResponse, FieldErrorResponse),
    ...entries.map(([status, description]) => ApiResponse({ status, description, content: problemContent(status) })),
  );
}

// ---- success responses -----------------------------------------------------------------------

interface OkOptions {
  /** 200 unless said otherwise. */
  status?: 200 | 201 | 202;
  description?: string;
  headers?: HeadersObject;
}

/**
 * A JSON success: the response class (its @ApiProperty fields are the schema) and an example,
 * type-checked against the class. `[Type]` for a list.
 */
export function ApiOk<T>(type: Type<T>, example: T, options?: OkOptions): MethodDecorator & ClassDecorator;
export function ApiOk<T>(type: [Type<T>], example: T[], options?: OkOptions): MethodDecorator & ClassDecorator;
export function ApiOk<T>(type: Type<T> | [Type<T>], example: T | T[], options: OkOptions = {}) {
  const model = Array.isArray(type) ? type[0] : type;
  const ref = { $ref: getSchemaPath(model) };
  const status = options.status ?? 200;
  return applyDecorators(
    ApiExtraModels(model),
    ApiResponse({
      status,
      description: options.description ?? (status === 201 ? 'Created.' : status === 202 ? 'Accepted.' : 'OK.'),
      headers: options.headers,
      content: { 'application/json': { schema: Array.isArray(type) ? { type: 'array', items: ref } : ref, example } },
    }),
  );
}

/** 204: done, no body. */
export const ApiNoContent = (description: string) => ApiResponse({ status: 204, description });

/** A success that is text (Prometheus metrics). */
export const ApiText = (mediaType: string, description: string, example: string) =>
  ApiResponse({ status: 200, description, content: { [mediaType]: { schema: { type: 'string' }, example } } });

// ---- the customer pages ----------------------------------------------------------------------

const HTML_EXAMPLE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Your newsletter settings</title></head><body>…</body></html>';

export interface PageAnswers {
  /** Each status answered with an HTML page, and what that page says. */
  html: Partial<Record<200 | 400 | 401 | 403 | 404 | 409 | 410 | 422 | 429, string>>;
  /** Statuses (also) answered with application/problem+json, beyond 400/413/415 (finishDocument). */
  problems?: ProblemSpec[];
  /** Response headers of the 200 page (a cookie, say). */
  headers?: HeadersObject;
}

const RETRY_AFTER: HeadersObject = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } } };

/** A customer page: server-rendered HTML by status (no JavaScript needed), some errors as problem+json. */
export function ApiPage(answers: PageAnswers) {
  const decorators = Object.entries(answers.html).map(([code, description]) => {
    const status = Number(code);
    return ApiResponse({
      status,
      description,
      headers: status === 429 ? RETRY_AFTER : status === 200 ? answers.headers : undefined,
      content: { [HTML_MEDIA_TYPE]: { schema: { type: 'string' }, example: HTML_EXAMPLE } },
    });
  });
  return applyDecorators(...decorators, ...(answers.problems?.length ? [ApiProblems(...answers.problems)] : []));
}

// ---- the finishing pass ----------------------------------------------------------------------

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Adds problem+json for `status` to a response, keeping what the route declared (an HTML page, say). */
function addProblem(operation: OperationObject, status: ProblemStatus, headers?: HeadersObject): void {
  const existing = operation.responses[status] as ResponseObject | undefined;
  if (!existing) {
    operation.responses[status] = { description: DEFAULT_DESCRIPTION[status], headers, content: problemContent(status) };
    return;
  }
  if (existing.content?.[PROBLEM_MEDIA_TYPE]) return;
  existing.content = { ...existing.content, ...problemContent(status) };
  existing.description = `${existing.description} Or: ${DEFAULT_DESCRIPTION[status]}`;
}

/**
 * One schema in OpenAPI 3.1 (JSON Schema 2020-12) terms. @nestjs/swagger writes 3.0: `nullable`
 * (which cannot make a `$ref` nullable: a nullable nested object or enum would refuse its own null)
 * and `allOf: [one $ref]` to give a reference siblings, which 3.1 allows directly.
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'example' || key === 'examples' ? value : toJsonSchema(value);
  if (Array.isArray(out.allOf) && out.allOf.length === 1) {
    const [only] = out.allOf as Record<string, unknown>[];
    delete out.allOf;
    if (out.type === 'object' && only.$ref) delete out.type;
    Object.assign(out, only);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.$ref === 'string') {
      const { $ref, ...rest } = out;
      return { ...rest, oneOf: [{ $ref }, { type: 'null' }] };
    }
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (out.oneOf || out.anyOf) return { ...out, ...{ [out.oneOf ? 'oneOf' : 'anyOf']: [...((out.oneOf ?? out.anyOf) as unknown[]), { type: 'null' }] } };
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  } else if (out.nullable === false) delete out.nullable;
  return out;
}

/**
 * What no single route declares because the global hooks answer it, on every route they apply to:
 * - 400: every URL is checked before routing for NUL characters, lone surrogates and prototype
 *   keys (common/body-parsers.ts), so every operation can answer 400.
 * - 413 and 415: every body passes the body parsers, which refuse a media type the route does not
 *   take and a body over the limit, whether or not the route reads a body.
 * - 500 and 503: the one exception filter answers an unexpected error with 500, and an exhausted
 *   connection budget, a statement over DB_STATEMENT_TIMEOUT_MS or a stopping import with 503.
 * - `security: []`: an operation without an API key requirement (no @RequireScopes) is public:
 *   customer pages, signed webhooks, /health, /metrics.
 * Responses are then ordered by status, for people reading the document, and the schemas are
 * written as OpenAPI 3.1 (see toJsonSchema).
 */
export function finishDocument(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      addProblem(operation, 400);
      addProblem(operation, 500);
      addProblem(operation, 503, RETRY_AFTER);
      if (method !== 'get' && method !== 'head') {
        addProblem(operation, 413);
        addProblem(operation, 415);
      }
      if (!operation.security) operation.security = [];
      const extended = operation as unknown as Record<string, unknown>;
      if (extended[REQUEST_BODY_EXTENSION]) {
        operation.requestBody = extended[REQUEST_BODY_EXTENSION] as OperationObject['requestBody'];
        delete extended[REQUEST_BODY_EXTENSION];
      }
      operation.responses = Object.fromEntries(Object.entries(operation.responses).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
  return {
    ...document,
    openapi: '3.1.0',
    paths: toJsonSchema(document.paths) as OpenAPIObject['paths'],
    components: toJsonSchema(document.components) as OpenAPIObject['components'],
  };
}

/** The document served at /docs/openapi.json (and shown by the Swagger UI at /docs). */
export function buildOpenApiDocument(app: INestApplication, publicUrl: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tactful')
    .setDescription(
      'Keep in touch with customers without bombarding them. Every /v1 route needs an API key ' +
        '(`Authorization: Bearer tk_…`) with one of the scopes its `x-required-scopes` lists; errors are ' +
        '`application/problem+json` (RFC 9457) naming the offending fields. The customer pages (`/p`, `/u`, ' +
        '`/f`, `/confirm`, `/webinars/…`) answer HTML and take HTML forms; the webhooks are signed.',
    )
    .setVersion('1')
    .addServer(publicUrl, 'This instance (PUBLIC_URL)')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'opaque API key (tk_…)',
      description:
        'An API key: generated ones are tk_ and 40 URL-safe characters (POST /v1/api-keys, or the admin key printed on the first start); ADMIN_API_KEY may be any secret of 24 characters or more. Not a JWT: an opaque secret, stored only as a hash.',
    })
    .build();
  return finishDocument(SwaggerModule.createDocument(app, config, { extraModels: [ProblemResponse, FieldErrorResponse] }));
}

/** The answers every linked customer page shares. */
export const PAGE_INVALID_LINK =
  'The one “invalid link” page: a forged, truncated or foreign link, or a genuine one whose person (or registration) is gone — the same page for all, so no oracle.';
export const PAGE_TOO_MANY =
  'Too many failed links (or form requests) from this address: a page in the visitor’s language, with Retry-After. A genuine link is never refused.';

/** An HTML form body (application/x-www-form-urlencoded; the one-click unsubscribe also multipart/form-data). */
export function ApiForm(schema: SchemaObject, options: { multipart?: boolean; required?: boolean; description?: string } = {}) {
  return applyDecorators(
    ApiConsumes('application/x-www-form-urlencoded', ...(options.multipart ? ['multipart/form-data'] : [])),
    ApiBody({ schema, required: options.required ?? true, description: options.description }),
  );
}

const REQUEST_BODY_EXTENSION = 'x-tactful-request-body';

/**
 * A request body with its own schema per media type (the subscriber import: a JSON array, or NDJSON
 * or CSV text), which @ApiBody cannot say: finishDocument puts it in place.
 */
export const ApiBodyContent = (body: { required: boolean; description?: string; content: ContentObject }) => ApiExtension(REQUEST_BODY_EXTENSION, body);

/** `?lang=de|en`: the page's language (default: the person's, else DEFAULT_LOCALE). */
export const ApiLangQuery = () =>
  ApiQuery({
    name: 'lang',
    required: false,
    enum: ['de', 'en'],
    description: 'The page’s language; default the person’s (or the webinar’s), else DEFAULT_LOCALE.',
  });
