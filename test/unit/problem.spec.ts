// Every error leaves the service as RFC 9457 problem+json: type, title, status, detail, and the fields at fault.
import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { DomainException, ErrorCode, invalid, notFound } from '../../src/common/problem';
import { toDomainException } from '../../src/common/problem.filter';

describe('DomainException.toProblem', () => {
  it('has type, title, status, detail, code and instance', () => {
    const problem = new DomainException(ErrorCode.Conflict, 'topic offers exists').toProblem('/v1/topics');
    expect(problem).toEqual({
      type: 'https://tactful.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'topic offers exists',
      code: 'conflict',
      instance: '/v1/topics',
    });
  });

  it('omits instance and an empty error list, and includes the field errors when there are some', () => {
    expect(new DomainException(ErrorCode.Validation, 'x', []).toProblem()).not.toHaveProperty('errors');
    expect(new DomainException(ErrorCode.Validation, 'x').toProblem()).not.toHaveProperty('instance');
    const problem = invalid('timeZone', 'is not an IANA time zone').toProblem();
    expect(problem).toMatchObject({
      status: 400,
      detail: 'timeZone: is not an IANA time zone',
      errors: [{ field: 'timeZone', message: 'is not an IANA time zone' }],
    });
  });

  it('turns underscores in the code into dashes in the type URI and carries extensions', () => {
    const problem = new DomainException(ErrorCode.PayloadTooLarge, 'too big', undefined, { limitBytes: 2048 }).toProblem();
    expect(problem).toMatchObject({ type: 'https://tactful.dev/problems/payload-too-large', status: 413, limitBytes: 2048 });
  });

  it.each<[ErrorCode, number]>([
    [ErrorCode.Validation, 400],
    [ErrorCode.BadRequest, 400],
    [ErrorCode.Unauthorized, 401],
    [ErrorCode.Forbidden, 403],
    [ErrorCode.NotFound, 404],
    [ErrorCode.Conflict, 409],
    [ErrorCode.Gone, 410],
    [ErrorCode.PayloadTooLarge, 413],
    [ErrorCode.UnsupportedMediaType, 415],
    [ErrorCode.Unprocessable, 422],
    [ErrorCode.TooManyRequests, 429],
    [ErrorCode.Internal, 500],
    [ErrorCode.Unavailable, 503],
  ])('maps %s to HTTP %i with a title', (code, status) => {
    const problem = new DomainException(code, 'd').toProblem();
    expect(problem.status).toBe(status);
    expect(problem.title.length).toBeGreaterThan(0);
  });

  it('names the thing that was not found', () => {
    expect(notFound('Subscriber', 'abc').toProblem()).toMatchObject({ status: 404, detail: 'Subscriber abc does not exist' });
  });
});

describe('toDomainException', () => {
  it('keeps a DomainException as it is', () => {
    const original = invalid('email', 'is taken');
    expect(toDomainException(original)).toBe(original);
  });

  it('maps Nest HTTP exceptions by status', () => {
    expect(toDomainException(new NotFoundException('Cannot GET /x')).toProblem()).toMatchObject({ status: 404, detail: 'Cannot GET /x' });
    expect(toDomainException(new BadRequestException()).status).toBe(400);
    expect(toDomainException(new PayloadTooLargeException()).status).toBe(413);
  });

  it('maps Fastify body errors without leaking their internals', () => {
    const tooLarge = toDomainException({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'Request body is too large' });
    expect(tooLarge.toProblem()).toMatchObject({ status: 413, detail: 'The request body is larger than this endpoint accepts.' });
    const json = toDomainException({
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      message: "Body is not valid JSON but content-type is set to 'application/json'",
    });
    expect(json.errors).toEqual([{ field: 'body', message: 'is not valid JSON' }]);
  });

  it('turns anything else into a bare 500 with no stack trace, SQL or message from the error', () => {
    const error = new Error('duplicate key value violates unique constraint "subscribers_email_key" at SELECT * FROM subscribers');
    const problem = toDomainException(error).toProblem('/v1/subscribers');
    expect(problem).toMatchObject({ status: 500, code: 'internal' });
    expect(JSON.stringify(problem)).not.toMatch(/SELECT|constraint|at .*\.ts/);
    expect(toDomainException({ statusCode: 502, message: 'upstream' }).status).toBe(500);
  });
});
