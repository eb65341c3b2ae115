// Domain errors carry a code; one filter (problem.filter.ts) turns every error into
// application/problem+json (RFC 9457) so clients never see a stack trace or SQL.

export enum ErrorCode {
  Validation = 'validation',
  BadRequest = 'bad_request',
  Unauthorized = 'unauthorized',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  Gone = 'gone',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  Unprocessable = 'unprocessable',
  TooManyRequests = 'too_many_requests',
  Internal = 'internal',
  Unavailable = 'unavailable',
}

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.Validation]: 400,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.Gone]: 410,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.Unprocessable]: 422,
  [ErrorCode.TooManyRequests]: 429,
  [ErrorCode.Internal]: 500,
  [ErrorCode.Unavailable]: 503,
};

const TITLE: Record<ErrorCode, string> = {
  [ErrorCode.Validation]: 'Invalid request',
  [ErrorCode.BadRequest]: 'Bad request',
  [ErrorCode.Unauthorized]: 'Missing or invalid API key',
  [ErrorCode.Forbidden]: 'Not allowed',
  [ErrorCode.NotFound]: 'Not found',
  [ErrorCode.Conflict]: 'Conflict',
  [ErrorCode.Gone]: 'Gone',
  [ErrorCode.PayloadTooLarge]: 'Request body too large',
  [ErrorCode.UnsupportedMediaType]: 'Unsupported media type',
  [ErrorCode.Unprocessable]: 'Request cannot be processed',
  [ErrorCode.TooManyRequests]: 'Too many requests',
  [ErrorCode.Internal]: 'Internal error',
  [ErrorCode.Unavailable]: 'Service unavailable',
};

/** One offending input: `field` is a dotted path into the body or query (`topics[2]`, `consent.source`). */
export interface FieldError {
  field: string;
  message: string;
  /** For bulk input: the 1-based position of the offending row. */
  row?: number;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class DomainException extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'DomainException';
  }

  get status(): number {
    return STATUS[this.code];
  }

  toProblem(instance?: string): ProblemBody {
    return {
      type: `https://tactful.dev/problems/${this.code.replace(/_/g, '-')}`,
      title: TITLE[this.code],
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...(this.errors && this.errors.length > 0 ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

export const notFound = (what: string, id: string): DomainException => new DomainException(ErrorCode.NotFound, `${what} ${id} does not exist`);

export const invalid = (field: string, message: string): DomainException =>
  new DomainException(ErrorCode.Validation, `${field}: ${message}`, [{ field, message }]);
