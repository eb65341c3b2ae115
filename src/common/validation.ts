// Request validation: unknown fields are rejected, and every failure names its field.
import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateIf } from 'class-validator';
import { DomainException, ErrorCode, FieldError } from './problem';

/**
 * class-validator's default messages start with the property ("email must be an email"); the field
 * is reported separately, so that prefix goes. Custom messages ("must be a valid e-mail address") stay whole.
 */
function withoutProperty(property: string, message: string): string {
  if (message.startsWith(`${property} `)) return message.slice(property.length + 1);
  if (message.startsWith(`each value in ${property} `)) return `each value ${message.slice(`each value in ${property} `.length)}`;
  return message;
}

/**
 * The field may be left out. Unlike class-validator's IsOptional, null is not "left out": it goes
 * through the field's rules like any other value and is refused naming the field, instead of
 * passing as absent and reaching the code (or a NOT NULL column) as a null it did not expect.
 */
export const Omittable = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined);

export function flattenValidationErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const isIndex = /^\d+$/.test(error.property);
    const field = prefix === '' ? error.property : isIndex ? `${prefix}[${error.property}]` : `${prefix}.${error.property}`;
    for (const [rule, message] of Object.entries(error.constraints ?? {})) {
      out.push({
        field,
        message: rule === 'whitelistValidation' ? 'is not a known field' : withoutProperty(error.property, message),
      });
    }
    if (error.children && error.children.length > 0) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

export function validationException(errors: FieldError[]): DomainException {
  const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ');
  return new DomainException(ErrorCode.Validation, detail, errors);
}

/**
 * A body validated against a DTO is a JSON object or absent. Nest's pipe would validate `7`,
 * `null`, `"x"` or `[…]` as an empty object, so a request shape of only optional fields accepted them.
 */
class BodyValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const dto = metadata.type === 'body' && metadata.metatype !== undefined && this.toValidate(metadata);
    if (dto && value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw validationException([{ field: 'body', message: 'must be a JSON object' }]);
    }
    return super.transform(value, metadata);
  }
}

export function createValidationPipe(): ValidationPipe {
  return new BodyValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => validationException(flattenValidationErrors(errors)),
  });
}
