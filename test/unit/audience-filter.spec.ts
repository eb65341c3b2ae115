// The audience filter's webinar condition: "registered for this webinar", optionally by attendance,
// validated with a field path and compiled to bound parameters only.
import { compileAudience, validateAudience } from '../../src/campaigns/audience-filter';

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
