import { registerDecorator, ValidationOptions } from 'class-validator';
import { PROTOTYPE_KEYS } from '../../common/body-parsers';

const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Flat attribute maps only: audience filters compare scalars, and nesting would hide injection. */
export function isAttributeMap(value: unknown): value is Record<string, string | number | boolean | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  if (entries.length > 50) return false;
  return entries.every(
    ([key, v]) =>
      KEY.test(key) &&
      !PROTOTYPE_KEYS.has(key) &&
      (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 1000)),
  );
}

export function IsAttributeMap(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isAttributeMap',
      target: target.constructor,
      propertyName: String(propertyName),
      options: {
        message: 'must be a flat object of at most 50 keys (letters, digits, _) with string (≤ 1000 chars), number, boolean or null values',
        ...options,
      },
      validator: { validate: isAttributeMap },
    });
}
