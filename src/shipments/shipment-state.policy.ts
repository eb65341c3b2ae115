// What state is a shipment in, given the carrier events received so far? A pure function of the
// set of events: arrival order, repeats and replays do not matter, and a status never moves back.

export const CARRIER_STATUSES = ['label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned'] as const;
export type CarrierStatus = (typeof CARRIER_STATUSES)[number];

/** `created`: the shop registered the shipment and the carrier has not reported anything yet. */
export const SHIPMENT_STATUSES = ['created', ...CARRIER_STATUSES] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

export interface CarrierEvent {
  /** The carrier's id for the event: the same id is the same event, however often it arrives. */
  eventId: string;
  status: CarrierStatus;
  /** The carrier's time of the event, not the time it reached us. */
  occurredAt: Date;
}

export interface ShipmentState {
  status: ShipmentStatus;
  /** How far the parcel got on its way, ignoring detours through `exception`. */
  progress: Exclude<ShipmentStatus, 'exception'>;
  /** Carrier time of the event that set `status`; null while `created`. */
  statusAt: Date | null;
  deliveredAt: Date | null;
  /** The distinct events taken into account, in carrier order. */
  eventCount: number;
}

/**
 * The road of a parcel. `returned` ends it, `delivered` ends it and outranks everything (see
 * below); `exception` is a detour at the current stage (a failed delivery attempt, a damaged
 * label) that the next forward step clears.
 */
const RANK: Record<Exclude<ShipmentStatus, 'exception'>, number> = {
  created: 0,
  label_created: 1,
  in_transit: 2,
  out_for_delivery: 3,
  returned: 4,
  delivered: 5,
};

/** Tie-break for equal carrier times: the further status is taken as the later one. */
const ORDER_AT_SAME_TIME: Record<CarrierStatus, number> = {
  label_created: 1,
  in_transit: 2,
  exception: 3,
  out_for_delivery: 4,
  delivered: 5,
  returned: 6,
};

/** Carrier time first; the rest only makes the order total, so the result never depends on arrival. */
export function compareEvents(a: CarrierEvent, b: CarrierEvent): number {
  return (
    a.occurredAt.getTime() - b.occurredAt.getTime() ||
    ORDER_AT_SAME_TIME[a.status] - ORDER_AT_SAME_TIME[b.status] ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

/** How far along a status is; `exception` counts as the stage it happened at. */
export function statusRank(state: Pick<ShipmentState, 'status' | 'progress'>): number {
  return RANK[state.progress];
}

export const INITIAL_STATE: ShipmentState = { status: 'created', progress: 'created', statusAt: null, deliveredAt: null, eventCount: 0 };

/**
 * Folds the events in carrier-time order:
 * - a repeated event id counts once (the first copy in carrier order wins, so even a carrier
 *   that reuses an id with other data gets one deterministic answer);
 * - any `delivered` event decides: the customer has the parcel, and once we said so, no later
 *   report (a late `in_transit`, a contradictory `returned`) may bring a tracking or problem
 *   mail back to life;
 * - otherwise `returned` ends the road: later events are history;
 * - a forward status moves on and clears an exception; an older stage than reached is ignored;
 * - `exception` marks a problem at the stage reached, until the next forward step.
 */
export function deriveShipmentState(events: readonly CarrierEvent[]): ShipmentState {
  const seen = new Set<string>();
  const distinct = [...events].sort(compareEvents).filter((event) => {
    if (seen.has(event.eventId)) return false;
    seen.add(event.eventId);
    return true;
  });
  const delivered = distinct.find((event) => event.status === 'delivered');
  if (delivered) {
    const at = delivered.occurredAt;
    return { status: 'delivered', progress: 'delivered', statusAt: at, deliveredAt: at, eventCount: distinct.length };
  }
  let state: ShipmentState = { ...INITIAL_STATE, eventCount: distinct.length };
  for (const event of distinct) {
    if (state.status === 'returned') break;
    if (event.status === 'exception') {
      state = { ...state, status: 'exception', statusAt: event.occurredAt };
      continue;
    }
    if (RANK[event.status] < RANK[state.progress]) continue;
    state = {
      ...state,
      status: event.status,
      progress: event.status,
      statusAt: event.occurredAt,
    };
  }
  return state;
}
