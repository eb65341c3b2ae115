// The one place errors become HTTP responses: application/problem+json, no stack traces, no SQL.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isPoolExhausted, isStatementTimeout } from '../database/pg-errors';
import { DomainException, ErrorCode, FieldError } from './problem';

const FROM_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.BadRequest,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  422: ErrorCode.Unprocessable,
  429: ErrorCode.TooManyRequests,
  503: ErrorCode.Unavailable,
};

/** Turns anything thrown into a DomainException; unknown errors become a bare 500. */
export function toDomainException(error: unknown): DomainException {
  if (error instanceof DomainException) return error;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response ? String((response as { message: unknown }).message) : error.message;
    return new DomainException(FROM_STATUS[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest), message);
  }
  // Overload, not a fault: the request's connection budget is used up, or it ran past statement_timeout.
  if (isPoolExhausted(error)) {
    return new DomainException(ErrorCode.Unavailable, 'The service is busy: no database connection came free in time. Retry shortly.', undefined, {
      retryAfterSeconds: 5,
    });
  }
  if (isStatementTimeout(error)) {
    return new DomainException(
      ErrorCode.Unavailable,
      'The request took longer than this service lets one database statement run (DB_STATEMENT_TIMEOUT_MS); narrow it or retry later.',
      undefined,
      { retryAfterSeconds: 30 },
    );
  }
  // Errors raised by Fastify itself (body parsing, size limits, media types) carry a statusCode.
  const fastifyError = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode < 500) {
    const code = FROM_STATUS[fastifyError.statusCode] ?? ErrorCode.BadRequest;
    const errors: FieldError[] | undefined =
      fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(fastifyError.message ?? '')
        ? [{ field: 'body', message: 'is not valid JSON' }]
        : undefined;
    return new DomainException(code, publicMessage(fastifyError), errors);
  }
  return new DomainException(ErrorCode.Internal, 'An unexpected error occurred. It has been logged.');
}

function publicMessage(error: { code?: string; message?: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is larger than this endpoint accepts.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'This endpoint does not accept that Content-Type.';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request body is empty but its Content-Type says JSON.';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path parameter is longer than this service accepts.';
    case 'FST_ERR_BAD_URL':
      return 'The URL is not valid.';
    default:
      return error.message ?? 'Bad request';
  }
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: unknown, logger: Logger): void {
  const exception = toDomainException(error);
  if (exception.status >= 500) {
    logger.error({ err: error, reqId: request.id }, 'request failed');
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json; charset=utf-8' };
  const retryAfter = exception.extensions.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  // Answered before the whole body arrived (an upload cut off): close the connection instead of
  // keeping it open for the rest of a body nobody reads.
  if (request.raw.complete === false) headers.connection = 'close';
  void reply
    .status(exception.status)
    .headers(headers)
    .send(JSON.stringify(exception.toProblem(request.url.split('?')[0])));
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), error, this.logger);
  }
}
