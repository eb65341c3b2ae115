// Every validation failure names its field with a path into the body, and no constraint is lost on the way.
import 'reflect-metadata';
import { Type, plainToInstance } from 'class-transformer';
import { IsArray, IsInt, IsString, Min, ValidateNested, ValidationError, validateSync } from 'class-validator';
import fc from 'fast-check';
import { DomainException, ErrorCode } from '../../src/common/problem';
import { flattenValidationErrors, validationException } from '../../src/common/validation';
import { CreateSubscriberDto, UpdateSubscriberDto } from '../../src/subscribers/dto/subscriber.dto';

/** Validates like the app's ValidationPipe does: unknown fields forbidden, every error collected. */
function validate<T extends object>(cls: new () => T, plain: unknown) {
  return flattenValidationErrors(validateSync(plainToInstance(cls, plain) as object, { whitelist: true, forbidNonWhitelisted: true }));
}

class Line {
  @IsString() sku!: string;
  @IsInt() @Min(1) quantity!: number;
}

class Order {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => Line)
  lines!: Line[];
}

describe('flattenValidationErrors on real DTOs', () => {
  it('names a nested field with a dotted path and keeps a custom message whole', () => {
    const errors = validate(CreateSubscriberDto, { email: 'nope', consent: { source: 'fax' } });
    expect(errors).toEqual([
      { field: 'email', message: 'must be a valid e-mail address' },
      { field: 'consent.source', message: expect.stringMatching(/^must be one of the following values: api, import, form, webinar$/) },
    ]);
  });

  it('reports an unknown field, top-level or nested, as "is not a known field"', () => {
    const errors = validate(CreateSubscriberDto, { email: 'a@example.com', shoeSize: 44, consent: { source: 'form', mood: 'happy' } });
    expect(errors).toEqual([
      { field: 'shoeSize', message: 'is not a known field' },
      { field: 'consent.mood', message: 'is not a known field' },
    ]);
  });

  it('rejects unknown fields on the PATCH shape too', () => {
    expect(validate(UpdateSubscriberDto, { email: 'changed@example.com', cadence: 'daily' })).toEqual([
      { field: 'email', message: 'is not a known field' },
      { field: 'cadence', message: 'must be one of the following values: weekly, biweekly' },
    ]);
  });

  it('reports each bad element of an array under its own index', () => {
    const errors = validate(Order, {
      lines: [
        { sku: 'a', quantity: 1 },
        { sku: 7, quantity: 0 },
        { sku: 'c', quantity: 2, price: 3 },
      ],
    });
    expect(errors).toEqual([
      { field: 'lines[1].sku', message: 'must be a string' },
      { field: 'lines[1].quantity', message: 'must not be less than 1' },
      { field: 'lines[2].price', message: 'is not a known field' },
    ]);
  });

  it('says "each value" for per-element rules on a list of scalars', () => {
    const errors = validate(CreateSubscriberDto, { email: 'a@example.com', topics: ['ok', 7] });
    expect(errors).toHaveLength(2);
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'topics', message: 'each value must be a string' },
        { field: 'topics', message: 'must be topic keys' },
      ]),
    );
  });
});

describe('flattenValidationErrors on hand-built trees', () => {
  const leaf = (property: string, constraints: Record<string, string>, children: ValidationError[] = []): ValidationError =>
    Object.assign(new ValidationError(), { property, constraints, children });

  it('builds paths through objects and array indexes', () => {
    const tree = [
      leaf('topics', {}, [leaf('1', { matches: 'must be topic keys' })]),
      leaf('consent', {}, [leaf('source', { isIn: 'source must be one of: a, b' })]),
    ];
    expect(flattenValidationErrors(tree)).toEqual([
      { field: 'topics[1]', message: 'must be topic keys' },
      { field: 'consent.source', message: 'must be one of: a, b' },
    ]);
  });

  it('applies a prefix when given one', () => {
    expect(flattenValidationErrors([leaf('0', { x: 'bad' })], 'rows')).toEqual([{ field: 'rows[0]', message: 'bad' }]);
  });

  const property = fc.oneof(fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/), fc.nat({ max: 20 }).map(String));
  const message = fc.stringMatching(/^[a-z]{1,6}( [a-z]{1,6}){0,3}$/);
  /** A random class-validator error tree, at most `depth` levels deep. */
  const node = (depth: number): fc.Arbitrary<ValidationError> =>
    fc
      .record({
        property,
        constraints: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), message, { maxKeys: 3 }),
        children: depth <= 1 ? fc.constant([]) : fc.array(node(depth - 1), { maxLength: 3 }),
      })
      .map((r) => Object.assign(new ValidationError(), r));

  function constraintCount(errors: ValidationError[]): number {
    return errors.reduce((n, e) => n + Object.keys(e.constraints ?? {}).length + constraintCount(e.children ?? []), 0);
  }

  it('never loses a constraint and never produces an empty field or message', () => {
    fc.assert(
      fc.property(fc.array(node(4), { maxLength: 3 }), (errors) => {
        const flat = flattenValidationErrors(errors);
        expect(flat).toHaveLength(constraintCount(errors));
        for (const e of flat) {
          expect(e.field).not.toBe('');
          expect(e.field).not.toMatch(/^[.[]|\.\.|\.\[/);
          expect(e.message.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});

describe('validationException', () => {
  it('is a 400 validation problem listing each field in the detail', () => {
    const error = validationException([
      { field: 'email', message: 'must be a valid e-mail address' },
      { field: 'topics[0]', message: '"x" is not a topic' },
    ]);
    expect(error).toBeInstanceOf(DomainException);
    expect(error.code).toBe(ErrorCode.Validation);
    expect(error.status).toBe(400);
    expect(error.detail).toBe('email must be a valid e-mail address; topics[0] "x" is not a topic');
    expect(error.toProblem().errors).toHaveLength(2);
  });
});
