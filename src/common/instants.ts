// The one way an instant enters Tactful: an RFC 3339 date-time (`2026-03-01T10:15:00Z`,
// `2026-03-01T11:15:00.250+01:00`). ISO 8601 allows far more (week dates, ordinal dates, the basic
// format, comma fractions, hour-only offsets, no offset at all) that neither `new Date()` nor
// PostgreSQL reads the same way, so validating with one parser and reading with another let such
// values through as 500s. Here the validator and the reader are the same function.
import { Transform } from 'class-transformer';
import { registerDecorator, ValidationOptions } from 'class-validator';

export const INSTANT_MESSAGE = 'must be an RFC 3339 date-time with an offset, such as 2026-03-01T10:15:00Z';

// RFC 3339 §5.6: full-date "T" full-time; T and Z may be lower case; the fraction has any number of
// digits (at most 9 here: nanoseconds); the offset is Z or ±hh:mm. No space instead of T.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** The earliest and latest instant accepted: four-digit years in UTC, which every reader prints and parses alike. */
const MIN_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

/**
 * The instant an RFC 3339 date-time names, or null when `value` is anything else. Fractions beyond
 * milliseconds are cut (JavaScript dates hold milliseconds). A leap second (`:60`) is refused: no
 * clock here can represent it. The instant must lie in the years 0001–9999 (UTC).
 */
export function parseInstant(value: unknown): Date | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0–99 as 1900–1999.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, millis);
  const ms = local.getTime() - offsetMinutes * 60_000;
  if (ms < MIN_MS || ms > MAX_MS) return null;
  return new Date(ms);
}

/**
 * A DTO field that takes an instant. The value is validated with parseInstant and rewritten to its
 * canonical form (`2026-03-01T09:15:00.000Z`), so whatever reads it later (`new Date()`,
 * PostgreSQL) reads exactly the instant that was validated. Anything else stays as sent and fails
 * validation with INSTANT_MESSAGE. Document such a field with `format: 'date-time'`.
 */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  const canonical = Transform(({ value }) => parseInstant(value)?.toISOString() ?? value, { toClassOnly: true });
  return (target: object, propertyName: string | symbol) => {
    canonical(target, propertyName);
    registerDecorator({
      name: 'isInstant',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: INSTANT_MESSAGE, ...options },
      validator: { validate: (value: unknown) => parseInstant(value) !== null },
    });
  };
}
