// The slug rule, once: keys of topics, senders, carriers and webinars are lower-case letters,
// digits and dashes, starting with a letter or digit (the migrations check the same in SQL).
import { Matches, ValidationOptions } from 'class-validator';

/** The pattern of a slug of at most `maxLength` characters (63 unless said otherwise). */
export function slugPattern(maxLength = 63): RegExp {
  return new RegExp(`^[a-z0-9][a-z0-9-]{0,${maxLength - 1}}$`);
}

export const SLUG = slugPattern();

/** A slug (each element a slug, with `each`), refused with `message` naming what it should be. */
export function IsSlug(message = 'must be a slug', options: Pick<ValidationOptions, 'each'> & { maxLength?: number } = {}): PropertyDecorator {
  return Matches(slugPattern(options.maxLength), { message, each: options.each });
}
