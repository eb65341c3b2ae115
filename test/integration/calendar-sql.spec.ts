// The calendar rules live twice: as pure TypeScript (the policy, unit-tested) and as SQL functions
// (used by the set-based dispatch and digest composition). These properties hold them equal.
import fc from 'fast-check';
import { Client } from 'pg';
import { nextDigestAt } from '../../src/cadence/cadence.policy';
import { DEFAULT_QUIET_HOURS, NO_QUIET_HOURS } from '../../src/config/quiet-hours';
import { nextSlot, outsideQuietHours, windowEnd } from '../../src/cadence/slots';
import { connectedTestDatabase } from '../support/database';

let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await connectedTestDatabase());
});
afterAll(() => close());

const zones = fc.constantFrom('Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'UTC', 'America/Sao_Paulo', 'Asia/Kolkata');
// Whole minutes around the 2026 and 2027 daylight-saving changes of both hemispheres.
const instant = fc
  .integer({ min: Date.parse('2026-01-01T00:00:00Z') / 60_000, max: Date.parse('2027-12-31T00:00:00Z') / 60_000 })
  .map((m) => new Date(m * 60_000));
const samples = <T>(arb: fc.Arbitrary<T>, n: number) => fc.sample(arb, { numRuns: n, seed: 20261124 });

it('tactful_next_slot equals nextSlot', async () => {
  const cases = samples(fc.tuple(instant, zones, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 23 })), 400);
  const { rows } = await client.query(
    `SELECT tactful_next_slot(a, z, w, h) AS slot FROM unnest($1::timestamptz[], $2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(a, z, w, h, i) ORDER BY i`,
    [cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[2]), cases.map((c) => c[3])],
  );
  const mismatches = cases.filter((c, i) => rows[i].slot.getTime() !== nextSlot(c[0], c[1], c[2], c[3]).getTime());
  expect(mismatches).toEqual([]);
});

it('tactful_window_end equals windowEnd (calendar days in the customer’s zone)', async () => {
  const cases = samples(fc.tuple(instant, zones, fc.constantFrom('weekly' as const, 'biweekly' as const)), 400);
  const { rows } = await client.query(
    `SELECT tactful_window_end(a, z, tactful_window_days(c)) AS e FROM unnest($1::timestamptz[], $2::text[], $3::text[]) WITH ORDINALITY AS t(a, z, c, i) ORDER BY i`,
    [cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[2])],
  );
  const mismatches = cases.filter((c, i) => rows[i].e.getTime() !== windowEnd(c[0], c[1], c[2]).getTime());
  expect(mismatches).toEqual([]);
});

it('tactful_next_digest equals nextDigestAt, with and without a window held', async () => {
  const cases = samples(
    fc.tuple(instant, zones, fc.option(fc.integer({ min: 0, max: 20 * 24 * 60 })), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 23 })),
    400,
  );
  const last = cases.map(([now, , ago]) => (ago === null ? null : new Date(now.getTime() - ago * 60_000)));
  const { rows } = await client.query(
    `SELECT tactful_next_digest(CASE WHEN l IS NULL THEN NULL ELSE tactful_window_end(l, z, 7) END, n, z, w, h) AS d
     FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], $4::int[], $5::int[]) WITH ORDINALITY AS t(l, n, z, w, h, i) ORDER BY i`,
    [last, cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[3]), cases.map((c) => c[4])],
  );
  const mismatches = cases.filter((c, i) => {
    const expected = nextDigestAt({ lastMarketingAt: last[i], cadence: 'weekly', timeZone: c[1], digestWeekday: c[3], digestHour: c[4] }, c[0]);
    return rows[i].d.getTime() !== expected.getTime();
  });
  expect(mismatches).toEqual([]);
});

it('tactful_outside_quiet equals outsideQuietHours, for the default and any configured quiet hours (QUIET_HOURS), and for none', async () => {
  const hours = fc.integer({ min: 0, max: 23 });
  const quiet = fc.oneof(fc.constant(DEFAULT_QUIET_HOURS), fc.constant(NO_QUIET_HOURS), fc.record({ start: hours, end: hours }));
  const cases = samples(fc.tuple(instant, zones, quiet), 1000);
  const { rows } = await client.query(
    `SELECT tactful_outside_quiet(a, z, s, e) AS q FROM unnest($1::timestamptz[], $2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(a, z, s, e, i) ORDER BY i`,
    [cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[2].start), cases.map((c) => c[2].end)],
  );
  const mismatches = cases.filter((c, i) => rows[i].q.getTime() !== outsideQuietHours(c[0], c[1], c[2]).getTime());
  expect(mismatches).toEqual([]);
  // Switched off, nothing moves.
  expect(cases.filter((c, i) => c[2].start === c[2].end && rows[i].q.getTime() !== c[0].getTime())).toEqual([]);
});
