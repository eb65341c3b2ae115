// Which shipment mail is due, whether a queued one may still go, and what a partial delivery
// tells the customer: pure decisions, checked case by case.
import fc from 'fast-check';
import { Reason } from '../../src/reasons/reason-codes';
import {
  itemsStillComing,
  mailsForTransition,
  MAX_HOLDS,
  settledAt,
  SHIPMENT_MAIL_KINDS,
  ShipmentItems,
  ShipmentMailKind,
  shipmentMailVerdict,
  unshippedQuantities,
} from '../../src/shipments/shipment-mail.policy';
import { SHIPMENT_STATUSES, ShipmentStatus } from '../../src/shipments/shipment-state.policy';

describe('mailsForTransition', () => {
  const on = { outForDeliveryMail: true };
  it('queues the out-for-delivery mail on reaching out_for_delivery, unless switched off', () => {
    expect(mailsForTransition('in_transit', 'out_for_delivery', on)).toEqual(['shipment_out_for_delivery']);
    expect(mailsForTransition('exception', 'out_for_delivery', on)).toEqual(['shipment_out_for_delivery']);
    expect(mailsForTransition('in_transit', 'out_for_delivery', { outForDeliveryMail: false })).toEqual([]);
  });

  it('queues the problem mail on an exception', () => {
    expect(mailsForTransition('in_transit', 'exception', on)).toEqual(['shipment_exception']);
    expect(mailsForTransition('out_for_delivery', 'exception', on)).toEqual(['shipment_exception']);
  });

  it('queues nothing when the status stays, or for any other step', () => {
    for (const before of SHIPMENT_STATUSES) {
      for (const after of SHIPMENT_STATUSES) {
        if (after === 'out_for_delivery' || after === 'exception') {
          if (before === after) expect(mailsForTransition(before, after, on)).toEqual([]);
          continue;
        }
        expect({ before, after, mails: mailsForTransition(before, after, on) }).toEqual({ before, after, mails: [] });
      }
    }
  });
});

describe('shipmentMailVerdict', () => {
  // Every kind × status × "an out-for-delivery mail exists", spelled out.
  const expected: Record<ShipmentMailKind, Record<ShipmentStatus, Reason | null | [Reason | null, Reason | null]>> = {
    shipment_shipped: {
      created: null,
      label_created: null,
      in_transit: null,
      // [no out-for-delivery mail, one exists]: the tracking link still helps when no "arrives today" mail brings it.
      out_for_delivery: [null, Reason.Superseded],
      exception: Reason.Superseded,
      returned: Reason.Expired,
      delivered: Reason.AlreadyDelivered,
    },
    shipment_out_for_delivery: {
      created: null,
      label_created: null,
      in_transit: null,
      out_for_delivery: null,
      exception: Reason.Superseded,
      returned: Reason.Expired,
      delivered: Reason.AlreadyDelivered,
    },
    shipment_exception: {
      created: Reason.Superseded,
      label_created: Reason.Superseded,
      in_transit: Reason.Superseded,
      out_for_delivery: Reason.Superseded,
      exception: null,
      returned: null,
      delivered: Reason.AlreadyDelivered,
    },
  };

  it.each(SHIPMENT_MAIL_KINDS)('decides %s for every status exactly as the table says', (kind) => {
    for (const status of SHIPMENT_STATUSES) {
      const want = expected[kind][status];
      const [without, withMail] = Array.isArray(want) ? want : [want, want];
      expect({ status, verdict: shipmentMailVerdict({ kind, status, outForDeliveryMailExists: false }) }).toEqual({ status, verdict: without });
      expect({ status, verdict: shipmentMailVerdict({ kind, status, outForDeliveryMailExists: true }) }).toEqual({ status, verdict: withMail });
    }
  });

  it('never lets any shipment mail go once the parcel is delivered', () => {
    for (const kind of SHIPMENT_MAIL_KINDS) {
      for (const flag of [false, true]) expect(shipmentMailVerdict({ kind, status: 'delivered', outForDeliveryMailExists: flag })).toBe(Reason.AlreadyDelivered);
    }
  });
});

describe('itemsStillComing (partial delivery)', () => {
  const order = [
    { sku: 'MUG', name: 'Mug', quantity: 2 },
    { sku: 'POT', name: 'Teapot', quantity: 1 },
    { sku: 'LID', name: 'Lid', quantity: 3 },
  ];

  it('is empty when the parcel holds the whole order', () => {
    const shipments: ShipmentItems[] = [{ id: 's1', status: 'created', items: [{ sku: 'MUG', quantity: 2 }, { sku: 'POT', quantity: 1 }, { sku: 'LID', quantity: 3 }] }];
    expect(itemsStillComing(order, shipments, 's1')).toEqual([]);
  });

  it('lists what is not shipped yet as following later', () => {
    const shipments: ShipmentItems[] = [{ id: 's1', status: 'created', items: [{ sku: 'MUG', quantity: 2 }, { sku: 'LID', quantity: 1 }] }];
    expect(itemsStillComing(order, shipments, 's1')).toEqual([
      { sku: 'POT', name: 'Teapot', quantity: 1, separately: false },
      { sku: 'LID', name: 'Lid', quantity: 2, separately: false },
    ]);
  });

  it('tells apart items in another parcel on its way, items delivered already, and items not shipped', () => {
    const shipments: ShipmentItems[] = [
      { id: 's1', status: 'in_transit', items: [{ sku: 'MUG', quantity: 1 }] },
      { id: 's2', status: 'delivered', items: [{ sku: 'MUG', quantity: 1 }] },
      { id: 's3', status: 'in_transit', items: [{ sku: 'LID', quantity: 2 }] },
      // Returned to the shop: its item has to be sent again.
      { id: 's4', status: 'returned', items: [{ sku: 'POT', quantity: 1 }] },
    ];
    expect(itemsStillComing(order, shipments, 's1')).toEqual([
      { sku: 'POT', name: 'Teapot', quantity: 1, separately: false },
      { sku: 'LID', name: 'Lid', quantity: 2, separately: true },
      { sku: 'LID', name: 'Lid', quantity: 1, separately: false },
    ]);
    expect(unshippedQuantities(order, shipments)).toEqual(new Map([['MUG', 0], ['POT', 1], ['LID', 1]]));
  });

  it('accounts for every ordered unit exactly once: in this parcel, delivered, on its way, or following', () => {
    const skus = order.map((o) => o.sku);
    const parcels = fc.array(
      fc.record({
        status: fc.constantFrom<ShipmentStatus>('created', 'in_transit', 'out_for_delivery', 'exception', 'delivered'),
        take: fc.array(fc.nat({ max: 3 }), { minLength: skus.length, maxLength: skus.length }),
      }),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(parcels, (raw) => {
        // Fill parcels in order from what is left, as the API allows.
        const left = new Map(order.map((o) => [o.sku, o.quantity]));
        const shipments: ShipmentItems[] = raw.map((p, i) => ({
          id: `s${i}`,
          status: p.status,
          items: skus
            .map((sku, k) => {
              const quantity = Math.min(p.take[k], left.get(sku)!);
              left.set(sku, left.get(sku)! - quantity);
              return { sku, quantity };
            })
            .filter((item) => item.quantity > 0),
        }));
        const current = shipments[0];
        const coming = itemsStillComing(order, shipments, current.id);
        for (const item of order) {
          const inParcel = current.items.find((i) => i.sku === item.sku)?.quantity ?? 0;
          const delivered = shipments.filter((s) => s !== current && s.status === 'delivered').flatMap((s) => s.items).filter((i) => i.sku === item.sku).reduce((n, i) => n + i.quantity, 0);
          const stillComing = coming.filter((c) => c.sku === item.sku).reduce((n, c) => n + c.quantity, 0);
          expect(inParcel + delivered + stillComing).toBe(item.quantity);
        }
        expect(coming.every((c) => c.quantity > 0)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('settledAt: the hold of a status mail', () => {
  const queued = new Date('2026-03-02T09:00:00Z');
  const at = (seconds: number) => new Date(queued.getTime() + seconds * 1000);

  it('restarts the hold on a change of status, so a burst of events settles first', () => {
    // Queued at 0 with a 120 s hold (due at 120); delivered reported at 1 s: due at 121.
    expect(settledAt(at(120), queued, at(1), 120)).toEqual(at(121));
    expect(settledAt(at(121), queued, at(100), 120)).toEqual(at(220));
  });

  it('never holds a mail longer than MAX_HOLDS holds after it was queued', () => {
    expect(settledAt(at(1190), queued, at(1150), 120)).toEqual(at(MAX_HOLDS * 120));
  });

  it('never brings a mail forward (a retry scheduled later stays later)', () => {
    expect(settledAt(at(5000), queued, at(10), 120)).toEqual(at(5000));
  });

  it('for any sequence of changes: never earlier than before, never later than the cap unless it was already', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 600 }), (changes, hold) => {
        let due = at(hold);
        for (const change of [...changes].sort((a, b) => a - b)) {
          const next = settledAt(due, queued, at(change), hold);
          expect(next.getTime()).toBeGreaterThanOrEqual(due.getTime());
          expect(next.getTime()).toBeLessThanOrEqual(Math.max(due.getTime(), at(MAX_HOLDS * hold).getTime()));
          if (change + hold <= MAX_HOLDS * hold) expect(next.getTime()).toBeGreaterThanOrEqual(at(change + hold).getTime());
          due = next;
        }
      }),
    );
  });
});
