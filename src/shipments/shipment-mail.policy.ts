// Which shipment mail is due, and may a queued one still go? Pure decisions: the service feeds
// them the shipment's state read under a row lock in the transaction that hands the mail over.
import { Reason } from '../reasons/reason-codes';
import { ShipmentStatus } from './shipment-state.policy';

export const SHIPMENT_MAIL_KINDS = ['shipment_shipped', 'shipment_out_for_delivery', 'shipment_exception'] as const;
export type ShipmentMailKind = (typeof SHIPMENT_MAIL_KINDS)[number];

/**
 * The order confirmation is the receipt of the contract (BGB §312i: without delay; §312f: it
 * carries the contract's details). It is neither held nor suppressed by any parcel's state: a
 * parcel that arrived first changes nothing about what the customer bought.
 */
export const ORDER_CONFIRMATION_KIND = 'order_confirmation';

/**
 * A status mail waits SHIPMENT_SETTLE_SECONDS after it was queued and after each later change of
 * the shipment's status, but never longer than this many holds after it was queued: a carrier
 * that keeps changing the status cannot starve the mail.
 */
export const MAX_HOLDS = 10;

/**
 * When a held status mail may go, given a status change now: the hold restarts, up to the cap,
 * and a mail already due later (a retry) is never brought forward. The SQL in
 * ShipmentMailsService.holdStatusMails computes the same for every pending row.
 */
export function settledAt(current: Date, queuedAt: Date, now: Date, holdSeconds: number): Date {
  const restarted = Math.min(now.getTime() + holdSeconds * 1000, queuedAt.getTime() + MAX_HOLDS * holdSeconds * 1000);
  return new Date(Math.max(current.getTime(), restarted));
}

/** The mails a change of state triggers (once per shipment and kind: the outbox key sees to that). */
export function mailsForTransition(before: ShipmentStatus, after: ShipmentStatus, options: { outForDeliveryMail: boolean }): ShipmentMailKind[] {
  if (before === after) return [];
  if (after === 'out_for_delivery' && options.outForDeliveryMail) return ['shipment_out_for_delivery'];
  if (after === 'exception') return ['shipment_exception'];
  return [];
}

export interface MailCheck {
  kind: ShipmentMailKind;
  /** The shipment's status now, read with the row locked. */
  status: ShipmentStatus;
  /** An out-for-delivery mail exists for this shipment (queued, sent or decided otherwise). */
  outForDeliveryMailExists: boolean;
}

/**
 * The re-check at hand-over, after the hold (so the status read here has settled). A tracking mail for a parcel the customer already has is the "curse
 * of automatisms": once delivered, nothing but history remains. A queued mail whose news is
 * overtaken by a newer status gives way to the mail for that status (the customer never reads
 * "on its way" after "arrives today"); a problem mail whose problem resolved itself is dropped.
 */
export function shipmentMailVerdict(check: MailCheck): Reason | null {
  const { kind, status } = check;
  if (status === 'delivered') return Reason.AlreadyDelivered;
  if (kind === 'shipment_exception') {
    // `returned` is where an unresolved problem ends: the customer still needs to hear of it.
    return status === 'exception' || status === 'returned' ? null : Reason.Superseded;
  }
  // Tracking a parcel that is on its way back to the shop helps nobody.
  if (status === 'returned') return Reason.Expired;
  // The problem mail carries the tracking link and the news that matters now.
  if (status === 'exception') return Reason.Superseded;
  if (kind === 'shipment_shipped' && status === 'out_for_delivery' && check.outForDeliveryMailExists) return Reason.Superseded;
  return null;
}

export interface OrderItem {
  sku: string;
  name: string;
  quantity: number;
}

export interface ShipmentItem {
  sku: string;
  quantity: number;
}

export interface ShipmentItems {
  id: string;
  status: ShipmentStatus;
  items: ShipmentItem[];
}

export interface StillComing {
  sku: string;
  name: string;
  quantity: number;
  /** true: in another parcel that is on its way; false: not shipped yet, follows later. */
  separately: boolean;
}

const countBySku = (shipments: ShipmentItems[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const shipment of shipments) for (const item of shipment.items) counts.set(item.sku, (counts.get(item.sku) ?? 0) + item.quantity);
  return counts;
};

/**
 * What of the order the customer still waits for, apart from this parcel: items in other parcels
 * still on their way, and items not shipped yet. Delivered parcels are done; a returned parcel's
 * items have to be sent again, so they count as not shipped.
 */
export function itemsStillComing(order: OrderItem[], shipments: ShipmentItems[], currentShipmentId: string | null): StillComing[] {
  const current = countBySku(shipments.filter((s) => s.id === currentShipmentId));
  const delivered = countBySku(shipments.filter((s) => s.id !== currentShipmentId && s.status === 'delivered'));
  const onTheWay = countBySku(shipments.filter((s) => s.id !== currentShipmentId && s.status !== 'delivered' && s.status !== 'returned'));
  const result: StillComing[] = [];
  for (const item of order) {
    const open = Math.max(0, item.quantity - (current.get(item.sku) ?? 0) - (delivered.get(item.sku) ?? 0));
    const separately = Math.min(open, onTheWay.get(item.sku) ?? 0);
    if (separately > 0) result.push({ sku: item.sku, name: item.name, quantity: separately, separately: true });
    if (open - separately > 0) result.push({ sku: item.sku, name: item.name, quantity: open - separately, separately: false });
  }
  return result;
}

/** Units per SKU the shop may still put into a new parcel: ordered minus what is in parcels not returned. */
export function unshippedQuantities(order: OrderItem[], shipments: ShipmentItems[]): Map<string, number> {
  const shipped = countBySku(shipments.filter((s) => s.status !== 'returned'));
  return new Map(order.map((item) => [item.sku, Math.max(0, item.quantity - (shipped.get(item.sku) ?? 0))]));
}
