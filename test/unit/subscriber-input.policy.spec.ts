// The checks every subscriber input passes before it is stored, whether it came from the API or an import.
import fc from 'fast-check';
import { CreateSubscriberDto } from '../../src/subscribers/dto/subscriber.dto';
import { toSubscriberRow, TopicRef } from '../../src/subscribers/subscriber-input.policy';
import { normalizeEmail } from '../../src/addresses/email';

const topics: ReadonlyMap<string, TopicRef> = new Map([
  ['trade-fairs', { id: 'id-fairs', archived: false }],
  ['offers', { id: 'id-offers', archived: false }],
  ['old-news', { id: 'id-old', archived: true }],
]);
const now = new Date('2026-03-10T12:00:00Z');

const input = (fields: Partial<CreateSubscriberDto>): CreateSubscriberDto => Object.assign(new CreateSubscriberDto(), { email: 'a@example.com', ...fields });

function errorsOf(fields: Partial<CreateSubscriberDto>) {
  const result = toSubscriberRow(input(fields), topics, now, 'api');
  if (result.ok) throw new Error('expected the input to be rejected');
  return result.errors;
}

function rowOf(fields: Partial<CreateSubscriberDto>, source: 'api' | 'import' = 'api') {
  const result = toSubscriberRow(input(fields), topics, now, source);
  if (!result.ok) throw new Error(`expected the input to pass: ${JSON.stringify(result.errors)}`);
  return result.row;
}

describe('toSubscriberRow', () => {
  it('turns a minimal input into a pending row: normalised address, nothing else decided here', () => {
    expect(rowOf({ email: '  Anna.Schmidt@Example.DE ' })).toEqual({
      email: 'anna.schmidt@example.de',
      locale: null,
      timeZone: null,
      cadence: null,
      digestWeekday: null,
      digestHour: null,
      attributes: null,
      topicIds: [],
      consent: { source: 'api', confirmedAt: null, ip: null, userAgent: null, textVersion: null },
    });
  });

  it('keeps every given field and the consent evidence', () => {
    const row = rowOf({
      locale: 'en',
      timeZone: 'America/New_York',
      cadence: 'biweekly',
      digestWeekday: 5,
      digestHour: 0,
      attributes: { company: 'Acme' },
      topics: ['offers'],
      consent: { source: 'form', confirmedAt: '2026-03-01T10:00:00Z', ip: '203.0.113.7', userAgent: 'UA', textVersion: 'v3' },
    });
    expect(row).toMatchObject({ locale: 'en', timeZone: 'America/New_York', cadence: 'biweekly', digestWeekday: 5, digestHour: 0 });
    expect(row.topicIds).toEqual(['id-offers']);
    expect(row.consent).toEqual({ source: 'form', confirmedAt: new Date('2026-03-01T10:00:00Z'), ip: '203.0.113.7', userAgent: 'UA', textVersion: 'v3' });
  });

  it('uses the caller’s default source when the input names none', () => {
    expect(rowOf({ topics: ['offers'] }, 'import').consent.source).toBe('import');
    expect(rowOf({ topics: ['offers'], consent: { source: 'webinar' } }, 'import').consent.source).toBe('webinar');
  });

  it('reports an unknown and an archived topic by their index', () => {
    expect(errorsOf({ topics: ['offers', 'nope', 'old-news'] })).toEqual([
      { field: 'topics[1]', message: '"nope" is not a topic' },
      { field: 'topics[2]', message: '"old-news" is archived' },
    ]);
  });

  it('stores a topic named twice once, in the order given', () => {
    expect(rowOf({ topics: ['offers', 'trade-fairs', 'offers'] }).topicIds).toEqual(['id-offers', 'id-fairs']);
  });

  it('refuses confirmed consent dated in the future, beyond a minute of clock skew', () => {
    expect(errorsOf({ topics: ['offers'], consent: { source: 'form', confirmedAt: '2026-03-10T12:02:00Z' } })).toEqual([
      { field: 'consent.confirmedAt', message: 'lies in the future' },
    ]);
    expect(rowOf({ topics: ['offers'], consent: { source: 'form', confirmedAt: '2026-03-10T12:00:59Z' } }).consent.confirmedAt).toEqual(
      new Date('2026-03-10T12:00:59Z'),
    );
  });

  it('requires a source with confirmed consent (where was consent given?)', () => {
    const errors = errorsOf({ topics: ['offers'], consent: { confirmedAt: '2026-03-01T10:00:00Z' } });
    expect(errors).toEqual([expect.objectContaining({ field: 'consent.source' })]);
  });

  it('requires the topics that confirmed consent covers', () => {
    expect(errorsOf({ consent: { source: 'form', confirmedAt: '2026-03-01T10:00:00Z' } })).toEqual([
      { field: 'topics', message: 'must name the topics the confirmed consent covers' },
    ]);
  });

  it('collects every problem of one input at once', () => {
    const fields = errorsOf({ topics: ['nope'], consent: { confirmedAt: '2027-01-01T00:00:00Z' } }).map((e) => e.field);
    expect(fields).toEqual(['topics[0]', 'consent.confirmedAt', 'consent.source']);
  });
});

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail('\t Anna@Example.DE\n')).toBe('anna@example.de');
  });

  it('is idempotent', () => {
    fc.assert(fc.property(fc.string(), (email) => normalizeEmail(normalizeEmail(email)) === normalizeEmail(email)));
    fc.assert(fc.property(fc.emailAddress(), (email) => normalizeEmail(normalizeEmail(email)) === normalizeEmail(email)));
  });

  it('maps addresses differing only in case and surrounding space to one subscriber row', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.stringMatching(/^[ \t]{0,3}$/), (email, pad) => {
        const shouted = pad + email.toUpperCase() + pad;
        expect(rowOf({ email: shouted }).email).toBe(rowOf({ email }).email);
      }),
    );
  });
});
