// The audience filter's webinar condition: "registered for this webinar", optionally by attendance,
// validated with a field path and compiled to bound parameters only.
import { AUDIENCE_LIMITS, validateAudience } from '../../src/campaigns/audience-filter';
import { compileAudience } from '../../src/campaigns/campaigns.queries';

const ID = '3f2b8c1e-0000-4000-8000-000000000001';

describe('the webinar condition', () => {
  it('accepts a webinar id alone or with attended true or false', () => {
    expect(validateAudience({ webinar: ID })).toEqual([]);
    expect(validateAudience({ and: [{ webinar: ID, attended: false }, { locale: 'de' }] })).toEqual([]);
  });

  it('names each bad part: an id that is no UUID, a non-boolean attended, an unknown key', () => {
    expect(validateAudience({ or: [{ webinar: "x' OR 1=1" }, { webinar: ID, attended: 'yes' }, { webinar: ID, eq: 1 }] })).toEqual([
      { field: 'audience.or[0].webinar', message: 'must be a webinar id (UUID)' },
      { field: 'audience.or[1].attended', message: 'must be true or false' },
      { field: 'audience.or[2].eq', message: 'is not allowed beside "webinar" (only "attended")' },
    ]);
  });

  it('compiles to an EXISTS over current registrations with the id and attendance as bind parameters', () => {
    const params: unknown[] = ['topic'];
    const sql = compileAudience({ webinar: ID, attended: true }, params, 's');
    expect(sql).toBe(
      `EXISTS (SELECT 1 FROM webinar_registrations wr WHERE wr.subscriber_id = s.id AND wr.webinar_id = $2::uuid AND wr.status = 'registered' AND wr.attended = $3::boolean)`,
    );
    expect(params).toEqual(['topic', ID, true]);
    const any: unknown[] = [];
    expect(compileAudience({ webinar: ID }, any, 's')).not.toContain('attended');
    expect(any).toEqual([ID]);
  });
});

describe('the cost caps', () => {
  const values = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('refuses the filter that stalled the service (99 OR-ed lists of 1,000 values, 471 kB) by its size, without walking it', () => {
    const heavy = { or: Array.from({ length: 99 }, (_, i) => ({ attr: `segment${i}`, in: values(1000, 'v') })) };
    expect(JSON.stringify(heavy).length).toBeGreaterThan(400_000);
    expect(validateAudience(heavy)).toEqual([{ field: 'audience', message: expect.stringMatching(/^is \d+ bytes as JSON; at most 16384 bytes/) }]);
  });

  it('names the list with too many values, and says why', () => {
    const errors = validateAudience({ and: [{ locale: 'de' }, { attr: 'segment', in: values(AUDIENCE_LIMITS.valuesPerList + 1) }] });
    expect(errors).toEqual([
      { field: 'audience.and[1].in', message: expect.stringMatching(/^has 101 values; at most 100 per list \(each one adds to the cost/) },
    ]);
  });

  it('caps the values of all lists together, naming the list that goes over', () => {
    const lists = Array.from({ length: 6 }, (_, i) => ({ attr: `a${i}`, in: values(100) }));
    expect(validateAudience({ or: lists })).toEqual([
      { field: 'audience.or[5].in', message: expect.stringMatching(/^brings the values of all "in" lists to more than 500/) },
    ]);
    expect(validateAudience({ or: lists.slice(0, 5) })).toEqual([]);
  });

  it('caps the number of conditions and the length of a value', () => {
    const many = { or: Array.from({ length: AUDIENCE_LIMITS.conditions }, (_, i) => ({ attr: `a${i}`, exists: true })) };
    expect(validateAudience(many)).toEqual([{ field: 'audience', message: expect.stringMatching(/^has more than 50 conditions/) }]);
    expect(validateAudience({ or: many.or.slice(1) })).toEqual([]);
    expect(validateAudience({ attr: 'segment', eq: 'x'.repeat(201) })).toEqual([{ field: 'audience.eq', message: 'is longer than 200 characters' }]);
    expect(validateAudience({ attr: 'segment', in: ['ok', 'x'.repeat(201)] })).toEqual([{ field: 'audience.in[1]', message: 'is longer than 200 characters' }]);
  });

  it('accepts the heaviest filter within every cap', () => {
    const heaviest = {
      or: [
        ...Array.from({ length: 5 }, (_, i) => ({ attr: `list${i}`, in: values(100) })),
        ...Array.from({ length: AUDIENCE_LIMITS.conditions - 6 }, (_, i) => ({ attr: `attr${i}`, gte: i })),
      ],
    };
    expect(JSON.stringify(heaviest).length).toBeLessThanOrEqual(AUDIENCE_LIMITS.bytes);
    expect(validateAudience(heaviest)).toEqual([]);
  });
});
