// The shipment state is a pure function of the set of carrier events: ordered by carrier time,
// repeats counted once, terminal states final, never backwards.
import fc from 'fast-check';
import {
  CARRIER_STATUSES,
  CarrierEvent,
  CarrierStatus,
  compareEvents,
  deriveShipmentState,
  ShipmentState,
  statusRank,
} from '../../src/shipments/shipment-state.policy';

const T0 = Date.parse('2026-03-02T08:00:00Z');
const MIN = 60_000;
const at = (minutes: number) => new Date(T0 + minutes * MIN);
/** Events from statuses, one minute apart, in that carrier order. */
const seq = (...statuses: CarrierStatus[]): CarrierEvent[] => statuses.map((status, i) => ({ eventId: `e${i}`, status, occurredAt: at(i) }));
const statusOf = (events: CarrierEvent[]) => deriveShipmentState(events).status;

const LINEAR_RANK: Record<'label_created' | 'in_transit' | 'out_for_delivery', number> = {
  label_created: 1,
  in_transit: 2,
  out_for_delivery: 3,
};

/**
 * The rules written declaratively, independent of the fold: any delivery decides (the first one
 * in carrier order); else the first return; else the furthest stage reached, unless an exception
 * came after the last event of that stage.
 */
function oracle(events: CarrierEvent[]): Pick<ShipmentState, 'status' | 'statusAt' | 'deliveredAt'> {
  // Unique ids (the property tests use unique ids; duplicates are identical copies).
  const sorted = [...new Map(events.map((e) => [e.eventId, e])).values()].sort(compareEvents);
  const delivered = sorted.find((e) => e.status === 'delivered');
  if (delivered) return { status: 'delivered', statusAt: delivered.occurredAt, deliveredAt: delivered.occurredAt };
  const returnedAt = sorted.findIndex((e) => e.status === 'returned');
  if (returnedAt >= 0) return { status: 'returned', statusAt: sorted[returnedAt].occurredAt, deliveredAt: null };
  const linear = sorted.filter((e) => e.status !== 'exception');
  const maxRank = Math.max(0, ...linear.map((e) => LINEAR_RANK[e.status as keyof typeof LINEAR_RANK]));
  const lastAtMax = [...sorted].reverse().find((e) => e.status !== 'exception' && LINEAR_RANK[e.status as keyof typeof LINEAR_RANK] === maxRank);
  const lastAtMaxIndex = lastAtMax ? sorted.indexOf(lastAtMax) : -1;
  const exceptionAfter = [...sorted].reverse().find((e, i) => e.status === 'exception' && sorted.length - 1 - i > lastAtMaxIndex);
  if (exceptionAfter) return { status: 'exception', statusAt: exceptionAfter.occurredAt, deliveredAt: null };
  if (lastAtMax) return { status: lastAtMax.status, statusAt: lastAtMax.occurredAt, deliveredAt: null };
  return { status: 'created', statusAt: null, deliveredAt: null };
}

describe('deriveShipmentState', () => {
  it('is `created` without events', () => {
    expect(deriveShipmentState([])).toEqual({ status: 'created', progress: 'created', statusAt: null, deliveredAt: null, eventCount: 0 });
  });

  it('follows the parcel forward and records the carrier time of each step', () => {
    const state = deriveShipmentState(seq('label_created', 'in_transit', 'out_for_delivery', 'delivered'));
    expect(state).toEqual({ status: 'delivered', progress: 'delivered', statusAt: at(3), deliveredAt: at(3), eventCount: 4 });
  });

  it('ignores a late in_transit after delivered: delivered is final', () => {
    expect(statusOf(seq('in_transit', 'delivered', 'in_transit'))).toBe('delivered');
    expect(statusOf(seq('delivered', 'out_for_delivery', 'exception', 'returned'))).toBe('delivered');
  });

  it('orders by carrier time, not by arrival: delivered arriving first still wins over an earlier out_for_delivery', () => {
    const delivered = { eventId: 'd', status: 'delivered' as const, occurredAt: at(10) };
    const out = { eventId: 'o', status: 'out_for_delivery' as const, occurredAt: at(5) };
    expect(deriveShipmentState([delivered, out])).toMatchObject({ status: 'delivered', deliveredAt: at(10) });
  });

  it('never moves backwards: an older stage reported later (by carrier time) changes nothing', () => {
    expect(statusOf(seq('out_for_delivery', 'in_transit'))).toBe('out_for_delivery');
    expect(statusOf(seq('in_transit', 'label_created'))).toBe('in_transit');
  });

  it('marks an exception at the stage reached and clears it with the next forward step', () => {
    expect(deriveShipmentState(seq('in_transit', 'out_for_delivery', 'exception'))).toMatchObject({ status: 'exception', progress: 'out_for_delivery' });
    expect(statusOf(seq('in_transit', 'exception', 'in_transit'))).toBe('in_transit');
    expect(statusOf(seq('out_for_delivery', 'exception', 'out_for_delivery'))).toBe('out_for_delivery');
    expect(statusOf(seq('out_for_delivery', 'exception', 'delivered'))).toBe('delivered');
    // An earlier stage after the exception is not a step forward.
    expect(statusOf(seq('out_for_delivery', 'exception', 'in_transit'))).toBe('exception');
  });

  it('ends in returned when the parcel goes back; later stages are history', () => {
    expect(statusOf(seq('in_transit', 'exception', 'returned'))).toBe('returned');
    expect(statusOf(seq('returned', 'out_for_delivery', 'exception'))).toBe('returned');
    expect(deriveShipmentState(seq('returned')).deliveredAt).toBeNull();
  });

  it('lets a delivery outrank a contradictory return, whatever their carrier times: delivered never turns back', () => {
    expect(statusOf(seq('delivered', 'returned'))).toBe('delivered');
    expect(statusOf(seq('returned', 'delivered'))).toBe('delivered');
  });

  it('counts a repeated event id once', () => {
    const events = seq('in_transit', 'out_for_delivery');
    expect(deriveShipmentState([...events, events[0], events[1], events[0]])).toMatchObject({ status: 'out_for_delivery', eventCount: 2 });
  });

  it('breaks a tie of carrier times by taking the further status as the later one', () => {
    const same = at(0);
    expect(
      statusOf([
        { eventId: 'a', status: 'out_for_delivery', occurredAt: same },
        { eventId: 'b', status: 'in_transit', occurredAt: same },
      ]),
    ).toBe('out_for_delivery');
    expect(
      statusOf([
        { eventId: 'a', status: 'delivered', occurredAt: same },
        { eventId: 'b', status: 'exception', occurredAt: same },
      ]),
    ).toBe('delivered');
    expect(
      statusOf([
        { eventId: 'a', status: 'out_for_delivery', occurredAt: same },
        { eventId: 'b', status: 'exception', occurredAt: same },
      ]),
    ).toBe('out_for_delivery');
  });

  it('matches the declarative rules for every carrier sequence of up to four events', () => {
    let checked = 0;
    const grow = (prefix: CarrierStatus[]): void => {
      const events = seq(...prefix);
      const state = deriveShipmentState(events);
      expect({ prefix, ...oracle(events) }).toEqual({ prefix, status: state.status, statusAt: state.statusAt, deliveredAt: state.deliveredAt });
      checked += 1;
      if (prefix.length < 4) for (const status of CARRIER_STATUSES) grow([...prefix, status]);
    };
    grow([]);
    expect(checked).toBe(1 + 6 + 36 + 216 + 1296);
  });
});

// Random event sets: few distinct times so that ties happen, ids unique per set.
const eventSet = fc
  .array(fc.record({ status: fc.constantFrom(...CARRIER_STATUSES), minute: fc.integer({ min: 0, max: 6 }) }), { minLength: 0, maxLength: 9 })
  .map((raw) => raw.map((e, i): CarrierEvent => ({ eventId: `evt-${i}`, status: e.status, occurredAt: at(e.minute) })));

/** An arrival sequence: the set shuffled, with some events repeated (retries, replays). */
const arrivals = (events: CarrierEvent[]) =>
  fc
    .tuple(
      fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      fc.array(fc.nat({ max: Math.max(0, events.length - 1) }), { maxLength: 6 }),
    )
    .chain(([shuffled, repeats]) => {
      const withRepeats = [...shuffled, ...(events.length > 0 ? repeats.map((i) => ({ ...events[i] })) : [])];
      return fc.shuffledSubarray(withRepeats, { minLength: withRepeats.length, maxLength: withRepeats.length });
    });

describe('deriveShipmentState over random arrivals (fast-check)', () => {
  it('gives, for any arrival order with duplicates, the state of the carrier-sorted sequence', () => {
    fc.assert(
      fc.property(
        eventSet.chain((events) => fc.tuple(fc.constant(events), arrivals(events))),
        ([events, arrived]) => {
          const sorted = [...events].sort(compareEvents);
          expect(deriveShipmentState(arrived)).toEqual(deriveShipmentState(sorted));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees with the declarative rules', () => {
    fc.assert(
      fc.property(eventSet, (events) => {
        const state = deriveShipmentState(events);
        expect({ status: state.status, statusAt: state.statusAt, deliveredAt: state.deliveredAt }).toEqual(oracle(events));
      }),
      { numRuns: 2000 },
    );
  });

  it('never moves backwards as events arrive one by one, in any order', () => {
    fc.assert(
      fc.property(
        eventSet.chain((events) => arrivals(events)),
        (arrived) => {
          let rank = 0;
          let delivered: Date | null = null;
          for (let i = 1; i <= arrived.length; i += 1) {
            const state = deriveShipmentState(arrived.slice(0, i));
            expect(statusRank(state)).toBeGreaterThanOrEqual(rank);
            rank = statusRank(state);
            // Once delivered, it stays delivered, whatever arrives (a second, earlier delivery report may only move the time back).
            if (delivered) {
              expect(state.status).toBe('delivered');
              expect(state.deliveredAt!.getTime()).toBeLessThanOrEqual(delivered.getTime());
            }
            if (state.status === 'delivered') delivered = state.deliveredAt;
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
