// The shipments domain's statements (docs/SQL.md): orders, parcels, carrier events and the
// transactional mails about them, re-checked against the parcel's state at hand-over.
import { queries, sql } from '../database/statements';
import type { Locale } from '../config/config';
import type { OrderItem, ShipmentItem, ShipmentItems } from './shipment-mail.policy';
import type { CarrierEvent, ShipmentStatus } from './shipment-state.policy';

export interface OrderRow {
  id: string;
  shop: string;
  number: string;
  subscriber_id: string | null;
  customer_email: string;
  locale: Locale;
  items: OrderItem[];
  placed_at: Date;
  created_at: Date;
}

export interface ShipmentRow {
  id: string;
  order_id: string;
  subscriber_id: string | null;
  carrier: string;
  tracking_number: string;
  tracking_url: string;
  items: ShipmentItem[];
  status: ShipmentStatus;
  status_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
}

export interface MailRow {
  id: string;
  kind: string;
  status: string;
  reason: string;
  created_at: Date;
  sent_at: Date | null;
}

const ORDER = `id, shop, number, subscriber_id, customer_email, locale, items, placed_at, created_at`;
const SHIPMENT = `id, order_id, subscriber_id, carrier, tracking_number, tracking_url, items, status, status_at, delivered_at, created_at`;

export const ShipmentQueries = queries('shipments', {
  // ---- orders ----
  customerByEmail: sql<[email: string], { id: string; locale: Locale }>(
    "The subscriber behind an order's address, if any: their mails then show on their timeline.",
    `SELECT id, locale FROM subscribers WHERE email = $1`,
  ),
  createOrder: sql<
    [shop: string, number: string, subscriberId: string | null, email: string, locale: Locale, items: string, placedAt: Date, at: Date],
    { id: string }
  >(
    'A new order; the same shop and number again inserts nothing (and is compared with what is stored).',
    `INSERT INTO orders (shop, number, subscriber_id, customer_email, locale, items, placed_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
     ON CONFLICT (shop, number) DO NOTHING
     RETURNING id`,
  ),
  orderByNumber: sql<[shop: string, number: string], OrderRow>(
    'An order by its shop and number.',
    `SELECT ${ORDER} FROM orders WHERE shop = $1 AND number = $2`,
  ),
  order: sql<[id: string], OrderRow>('An order by id.', `SELECT ${ORDER} FROM orders WHERE id = $1`),
  orderShipments: sql<[orderId: string], { id: string }>(
    "An order's parcels in the order they were registered.",
    `SELECT id FROM shipments WHERE order_id = $1 ORDER BY created_at, id`,
  ),

  // ---- shipments ----
  lockOrder: sql<[shop: string, number: string], { id: string; subscriber_id: string | null; customer_email: string; items: OrderItem[] }>(
    'The order a parcel belongs to, locked: two parcels of one order registered at once must not both take the last unit.',
    `SELECT id, subscriber_id, customer_email, items FROM orders WHERE shop = $1 AND number = $2 FOR UPDATE`,
  ),
  shipmentByTracking: sql<[carrier: string, trackingNumber: string], ShipmentRow>(
    'A parcel by carrier and tracking number (unique).',
    `SELECT ${SHIPMENT} FROM shipments WHERE carrier = $1 AND tracking_number = $2`,
  ),
  siblings: sql<[orderId: string], ShipmentItems>(
    'Every parcel of an order with its items: what is not in a parcel yet.',
    `SELECT id, status, items FROM shipments WHERE order_id = $1`,
  ),
  linkOrder: sql<[orderId: string], { subscriber_id: string }>(
    "A customer who signed up after ordering is linked now, so the parcel's mails reach their timeline.",
    `UPDATE orders o SET subscriber_id = s.id FROM subscribers s
     WHERE o.id = $1 AND o.subscriber_id IS NULL AND s.email = o.customer_email
     RETURNING o.subscriber_id`,
  ),
  createShipment: sql<
    [orderId: string, subscriberId: string | null, carrier: string, trackingNumber: string, trackingUrl: string, items: string, at: Date],
    { id: string }
  >(
    'A new parcel; none when the tracking number was registered for another order meanwhile (the order lock covers only this order).',
    `INSERT INTO shipments (order_id, subscriber_id, carrier, tracking_number, tracking_url, items, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'created', $7, $7)
     ON CONFLICT (carrier, tracking_number) DO NOTHING
     RETURNING id`,
  ),
  lockShipmentById: sql<[id: string], ShipmentRow>(
    'The parcel an event is about, locked until commit: a mail being handed over for it (FOR SHARE) finished before, or sees the new state.',
    `SELECT ${SHIPMENT} FROM shipments WHERE id = $1 FOR UPDATE`,
  ),
  lockShipmentByTracking: sql<[carrier: string, trackingNumber: string], ShipmentRow>(
    'The parcel a webhook event names by tracking number, locked (as above).',
    `SELECT ${SHIPMENT} FROM shipments WHERE carrier = $1 AND tracking_number = $2 FOR UPDATE`,
  ),
  recordEvent: sql<
    [carrier: string, eventId: string, shipmentId: string, subscriberId: string | null, status: string, occurredAt: Date, at: Date, source: string],
    { fresh: 1 }
  >(
    "A carrier event once: the carrier's event id again inserts nothing.",
    `INSERT INTO shipment_events (carrier, event_id, shipment_id, subscriber_id, status, occurred_at, received_at, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (carrier, event_id) DO NOTHING
     RETURNING 1 AS fresh`,
  ),
  storedEvent: sql<[carrier: string, eventId: string], { shipment_id: string; status: string; occurred_at: Date }>(
    'An event received before, to tell a true repeat from a reused id.',
    `SELECT shipment_id, status, occurred_at FROM shipment_events WHERE carrier = $1 AND event_id = $2`,
  ),
  events: sql<[shipmentId: string], { event_id: string; status: CarrierEvent['status']; occurred_at: Date; received_at: Date; source: string }>(
    "Every event of a parcel: its state is derived from all of them, so repeats and late arrivals give the carrier's own order.",
    `SELECT event_id, status, occurred_at, received_at, source FROM shipment_events WHERE shipment_id = $1`,
  ),
  setState: sql<[id: string, status: string, statusAt: Date | null, deliveredAt: Date | null, at: Date]>(
    "The parcel's derived state.",
    `UPDATE shipments SET status = $2, status_at = $3, delivered_at = $4, updated_at = $5 WHERE id = $1`,
  ),
  shipment: sql<[id: string], ShipmentRow & { order_number: string; shop: string }>(
    'A parcel as the API shows it, with its order.',
    `SELECT s.${SHIPMENT.split(', ').join(', s.')}, o.number AS order_number, o.shop FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.id = $1`,
  ),

  // ---- mails ----
  enqueueMail: sql<[orderId: string, kind: string, refId: string, idempotencyKey: string, priority: number, at: Date, reason: string, due: Date]>(
    "One transactional mail about an order or parcel, once per kind and ref (the key). A linked order's mail goes to the subscriber, an unlinked one to the order's address; a status mail is held (reason queued_settling, due later) so a quick change of status replaces it.",
    `INSERT INTO deliveries (subscriber_id, to_address, class, kind, ref_id, locale, status, reason, idempotency_key,
                             payload, priority, next_attempt_at, created_at, updated_at)
     SELECT o.subscriber_id, CASE WHEN o.subscriber_id IS NULL THEN o.customer_email END, 'transactional', $2, $3, o.locale,
            'queued', $7, $4, '{}'::jsonb, $5, $8, $6, $6
     FROM orders o WHERE o.id = $1`,
  ),
  holdStatusMails: sql<[shipmentId: string, kinds: string[], now: Date, holdSeconds: number, maxHoldSeconds: number]>(
    "A change of status restarts the hold of the parcel's status mails still waiting, at most MAX_HOLDS holds after each was queued (set-based settledAt()). Under the shipment's row lock; SKIP LOCKED: a row a worker is claiming is due already, and its gate waits for this event's commit and decides on the new status.",
    `WITH waiting AS (
       SELECT id FROM deliveries
       WHERE ref_id = $1 AND kind = ANY($2::text[]) AND status = 'queued'
       FOR UPDATE SKIP LOCKED)
     UPDATE deliveries d
     SET next_attempt_at = GREATEST(d.next_attempt_at, LEAST($3::timestamptz + make_interval(secs => $4::float8), d.created_at + make_interval(secs => $5::float8))),
         updated_at = $3
     FROM waiting WHERE d.id = waiting.id`,
  ),
  mailsFor: sql<[refId: string, kinds: string[]], MailRow>(
    'Every mail about one order or parcel, oldest first, with its decision.',
    `SELECT id, kind, status, reason, created_at, sent_at FROM deliveries WHERE ref_id = $1 AND kind = ANY($2::text[]) ORDER BY id`,
  ),
  addressStatus: sql<[email: string], { status: string }>(
    "At hand-over, for mail to an order's address: whether it has since become a subscriber's that bounced (shared lock: a bounce being recorded waits).",
    `SELECT status FROM subscribers WHERE email = $1 FOR SHARE`,
  ),
  orderExists: sql<[orderId: string]>(
    "Whether the order a receipt is about still exists (the receipt is never suppressed by a parcel's state).",
    `SELECT 1 FROM orders WHERE id = $1`,
  ),
  lockShipmentStatus: sql<[id: string], { status: ShipmentStatus }>(
    'FOR SHARE: a carrier event (FOR UPDATE) waits until this hand-over has committed, and this check waits for an event being applied; the state read here is the one the mail goes out under.',
    `SELECT status FROM shipments WHERE id = $1 FOR SHARE`,
  ),
  mailExists: sql<[idempotencyKey: string]>(
    'Whether a mail with this key was queued (read after the lock: one queued by the event waited for is seen). The keys ' +
      'live in delivery_keys (the decision log is partitioned by month and holds no global unique key).',
    `SELECT 1 FROM delivery_keys WHERE key_hash = md5($1)::uuid`,
  ),
  confirmationData: sql<[orderId: string], { number: string; items: OrderItem[]; placed_at: Date; time_zone: string | null }>(
    'What the order confirmation shows.',
    `SELECT o.number, o.items, o.placed_at, s.time_zone FROM orders o LEFT JOIN subscribers s ON s.id = o.subscriber_id WHERE o.id = $1`,
  ),
  shipmentMailData: sql<
    [shipmentId: string],
    {
      id: string;
      order_id: string;
      carrier: string;
      tracking_number: string;
      tracking_url: string;
      items: ShipmentItem[];
      status: ShipmentStatus;
      number: string;
      order_items: OrderItem[];
    }
  >(
    'What a parcel mail shows, with the order it belongs to.',
    `SELECT s.id, s.order_id, s.carrier, s.tracking_number, s.tracking_url, s.items, s.status, o.number, o.items AS order_items
     FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.id = $1`,
  ),
});
