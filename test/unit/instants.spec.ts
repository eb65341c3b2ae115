// The one RFC 3339 parser: what it accepts it reads exactly, everything else ISO 8601 or
// `new Date()` would also take is refused, and a DTO field validates with the same function.
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import { INSTANT_MESSAGE, IsInstant, parseInstant } from '../../src/common/instants';
import { flattenValidationErrors, Omittable } from '../../src/common/validation';

const ACCEPTED: [string, string][] = [
  ['2026-03-01T10:15:00Z', '2026-03-01T10:15:00.000Z'],
  ['2026-03-01t10:15:00z', '2026-03-01T10:15:00.000Z'],
  ['2026-03-01T11:15:00+01:00', '2026-03-01T10:15:00.000Z'],
  ['2026-03-01T05:45:00-04:30', '2026-03-01T10:15:00.000Z'],
  ['2026-03-01T10:15:00-00:00', '2026-03-01T10:15:00.000Z'],
  ['2026-03-01T10:15:00.5Z', '2026-03-01T10:15:00.500Z'],
  ['2026-03-01T10:15:00.123Z', '2026-03-01T10:15:00.123Z'],
  ['2026-03-01T10:15:00.123456789Z', '2026-03-01T10:15:00.123Z'], // cut to milliseconds, not rounded
  ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ['2000-02-29T23:59:59Z', '2000-02-29T23:59:59.000Z'],
  ['2026-12-31T23:30:00-01:00', '2027-01-01T00:30:00.000Z'],
  ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
  ['0050-06-01T12:00:00Z', '0050-06-01T12:00:00.000Z'], // not 1950 (Date.UTC would say so)
  ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ['2026-03-01T10:15:00+23:59', '2026-02-28T10:16:00.000Z'],
];

const REFUSED: [string, unknown][] = [
  ['a week date', '2030-W10-1'],
  ['a week date with time', '2030-W10-1T10:15:00Z'],
  ['an ordinal date', '2030-060T10:15:00Z'],
  ['the basic format', '20300301T101500Z'],
  ['a comma fraction', '2030-03-01T10:15:00,5Z'],
  ['an hour-only offset', '2030-03-01T10:15:00+01'],
  ['an offset without colon', '2030-03-01T10:15:00+0100'],
  ['no offset', '2030-03-01T10:15:00'],
  ['a date only', '2030-03-01'],
  ['no seconds', '2030-03-01T10:15Z'],
  ['a space instead of T', '2030-03-01 10:15:00Z'],
  ['February 30', '2030-02-30T10:15:00Z'],
  ['February 29 in a common year', '2030-02-29T10:15:00Z'],
  ['February 29 in 1900', '1900-02-29T10:15:00Z'],
  ['April 31', '2030-04-31T10:15:00Z'],
  ['month 13', '2030-13-01T10:15:00Z'],
  ['month 0', '2030-00-01T10:15:00Z'],
  ['day 0', '2030-03-00T10:15:00Z'],
  ['hour 24', '2030-03-01T24:00:00Z'],
  ['minute 60', '2030-03-01T10:60:00Z'],
  ['a leap second', '2016-12-31T23:59:60Z'],
  ['offset hour 24', '2030-03-01T10:15:00+24:00'],
  ['offset minute 60', '2030-03-01T10:15:00+01:60'],
  ['an expanded year', '+002030-03-01T10:15:00Z'],
  ['a negative year', '-2030-03-01T10:15:00Z'],
  ['a five-digit year', '12030-03-01T10:15:00Z'],
  ['before the year 1 in UTC', '0001-01-01T00:30:00+01:00'],
  ['after the year 9999 in UTC', '9999-12-31T23:30:00-01:00'],
  ['ten fraction digits', '2030-03-01T10:15:00.1234567890Z'],
  ['an empty fraction', '2030-03-01T10:15:00.Z'],
  ['surrounding spaces', ' 2030-03-01T10:15:00Z '],
  ['a trailing newline', '2030-03-01T10:15:00Z\n'],
  ['Arabic-Indic digits', '٢٠٣٠-03-01T10:15:00Z'],
  ['a Date.parse form', 'Fri, 01 Mar 2030 10:15:00 GMT'],
  ['a time zone name', '2030-03-01T10:15:00 Europe/Berlin'],
  ['epoch milliseconds', '1900000000000'],
  ['a number', 1_900_000_000_000],
  ['a Date object', new Date('2030-03-01T10:15:00Z')],
  ['null', null],
  ['an empty string', ''],
];

describe('parseInstant', () => {
  it.each(ACCEPTED)('reads %s as %s', (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso);
  });

  it.each(REFUSED)('refuses %s (%p)', (_name, value) => {
    expect(parseInstant(value)).toBeNull();
  });

  it('reads back every instant from its canonical form (round trip)', () => {
    const instant = fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    fc.assert(
      fc.property(instant, (date) => parseInstant(date.toISOString())?.getTime() === date.getTime()),
      { numRuns: 5000 },
    );
  });

  it('reads every offset form of an instant as the same instant, and agrees with Date where Date can read it', () => {
    const instant = fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9000-12-31T00:00:00Z'), noInvalidDate: true });
    const offset = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(instant, offset, (date, minutes) => {
        const local = new Date(date.getTime() + minutes * 60_000).toISOString().slice(0, 23);
        const sign = minutes < 0 ? '-' : '+';
        const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
        const mm = String(Math.abs(minutes) % 60).padStart(2, '0');
        const text = `${local}${sign}${hh}:${mm}`;
        const parsed = parseInstant(text);
        return parsed !== null && parsed.getTime() === date.getTime() && parsed.getTime() === new Date(text).getTime();
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses every string that is not an RFC 3339 date-time, whatever Date.parse thinks of it', () => {
    const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9TZtz:+\-., W]{8,30}$/)), (text) => rfc3339.test(text) || parseInstant(text) === null),
      { numRuns: 5000 },
    );
  });
});

class Event {
  @IsInstant() at!: string;
  @Omittable() @IsInstant() until?: string;
}

const validate = (plain: unknown) => {
  const dto = plainToInstance(Event, plain);
  return { dto, errors: flattenValidationErrors(validateSync(dto, { whitelist: true, forbidNonWhitelisted: true })) };
};

describe('IsInstant on a DTO field', () => {
  it('validates with parseInstant and hands the code the canonical form, so any later reader reads the same instant', () => {
    const { dto, errors } = validate({ at: '2026-03-01T11:15:00.250+01:00' });
    expect(errors).toEqual([]);
    expect(dto.at).toBe('2026-03-01T10:15:00.250Z');
  });

  it.each(REFUSED.map(([name, value]) => [name, value] as [string, unknown]))('refuses %s, naming the field', (_name, value) => {
    expect(validate({ at: value }).errors).toEqual([{ field: 'at', message: INSTANT_MESSAGE }]);
  });

  it('refuses a missing required instant, and a null for an omittable one', () => {
    expect(validate({}).errors).toEqual([{ field: 'at', message: INSTANT_MESSAGE }]);
    expect(validate({ at: '2026-03-01T10:15:00Z', until: null }).errors).toEqual([{ field: 'until', message: INSTANT_MESSAGE }]);
    expect(validate({ at: '2026-03-01T10:15:00Z' }).errors).toEqual([]);
  });
});
