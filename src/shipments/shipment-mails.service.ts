// The transactional mails of orders and shipments: how they are queued, and the check each one
// makes in the transaction that hands it to SMTP. Status mails are held in the outbox (their
// next_attempt_at) until the shipment's status has settled (SHIPMENT_SETTLE_SECONDS): the hold is
// a row in PostgreSQL, so it survives restarts and holds for every instance, and the decision is
// the gate's at hand-over, on the status of that moment. The shipment mails read the shipment row
// FOR SHARE there, while a carrier event takes it FOR UPDATE: "delivered committed" and "mail
// handed over" serialize, so no tracking mail reaches SMTP after the parcel was reported delivered.
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import type { Sql } from '../database/sql';
import { ClaimedDelivery, ComposedMessage, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { Reason } from '../reasons/reason-codes';
import { OrderConfirmationData, ShipmentMailData } from '../rendering/template-renderer';
import {
  itemsStillComing,
  ORDER_CONFIRMATION_KIND,
  OrderItem,
  SHIPMENT_MAIL_KINDS,
  ShipmentItem,
  MAX_HOLDS,
  ShipmentMailKind,
  shipmentMailVerdict,
} from './shipment-mail.policy';
import { MailRow, ShipmentQueries as Q } from './shipments.queries';

const TEMPLATES: Record<ShipmentMailKind | typeof ORDER_CONFIRMATION_KIND, string> = {
  order_confirmation: 'order-confirmation',
  shipment_shipped: 'shipment-shipped',
  shipment_out_for_delivery: 'shipment-out-for-delivery',
  shipment_exception: 'shipment-problem',
};

/** Ahead of marketing in the outbox: a customer waiting for a parcel should not wait for a newsletter batch. */
const TRANSACTIONAL_PRIORITY = 20;

export type { MailRow };

/** "dhl-express" → "DHL Express": short words are acronyms in carrier names. */
export function carrierLabel(carrier: string): string {
  return carrier
    .split(/[-_]/)
    .filter(Boolean)
    .map((word) => (word.length <= 3 ? word.toUpperCase() : word[0].toUpperCase() + word.slice(1)))
    .join(' ');
}

@Injectable()
export class ShipmentMailsService implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly kinds: DeliveryKinds,
  ) {}

  onModuleInit(): void {
    this.kinds.register({
      kind: ORDER_CONFIRMATION_KIND,
      gate: (tx, delivery) => this.gateOrderConfirmation(tx, delivery),
      compose: (tx, delivery) => this.composeOrderConfirmation(tx, delivery),
    });
    for (const kind of SHIPMENT_MAIL_KINDS) {
      this.kinds.register({
        kind,
        gate: (tx, delivery) => this.gateShipmentMail(tx, delivery, kind),
        compose: (tx, delivery) => this.composeShipmentMail(tx, delivery, kind),
      });
    }
  }

  /**
   * Queues one transactional mail for an order (refId: the order or the shipment it is about).
   * A linked order's mail goes to the subscriber (and shows on their timeline); an unlinked one
   * to the order's address. The key makes it once per order or shipment and kind. A shipment
   * status mail is held for the settle time (reason `queued_settling`); the order confirmation,
   * the receipt, goes at once.
   */
  async enqueue(tx: Sql, input: { orderId: string; kind: string; refId: string; at: Date }): Promise<boolean> {
    const held = input.kind !== ORDER_CONFIRMATION_KIND && this.config.shipmentSettleSeconds > 0;
    const due = held ? new Date(input.at.getTime() + this.config.shipmentSettleSeconds * 1000) : input.at;
    const queued = await tx.run(Q.enqueueMail, [
      input.orderId,
      input.kind,
      input.refId,
      `${input.kind}:${input.refId}`,
      TRANSACTIONAL_PRIORITY,
      input.at,
      held ? Reason.QueuedSettling : Reason.Queued,
      due,
    ]);
    return queued > 0;
  }

  /**
   * The shipment's status changed: every status mail of it still waiting restarts its hold (see
   * settledAt() in the policy, which this computes set-based), so a burst of carrier events
   * settles before any of them is mailed. Called under the shipment's row lock. SKIP LOCKED: a
   * row a worker is claiming right now is due already, and its gate waits for this event's commit
   * (FOR SHARE on the shipment) and decides on the new status.
   */
  async holdStatusMails(tx: Sql, shipmentId: string, now: Date): Promise<number> {
    const hold = this.config.shipmentSettleSeconds;
    if (hold === 0) return 0;
    return tx.run(Q.holdStatusMails, [shipmentId, [...SHIPMENT_MAIL_KINDS], now, hold, hold * MAX_HOLDS]);
  }

  /** Every mail about one order or shipment, oldest first, with its decision. */
  mailsFor(sql: Sql, refId: string): Promise<MailRow[]> {
    return sql.rows(Q.mailsFor, [refId, Object.keys(TEMPLATES)]);
  }

  /**
   * Transactional mail passes consent unless the address bounced or the person was erased. A
   * customer who is not a subscriber has no consent record; if the address has since become a
   * subscriber's and bounced, that still counts.
   */
  private async addressGate(tx: Sql, delivery: ClaimedDelivery): Promise<GateVerdict | null> {
    const consent = await subscriberGate(tx, delivery);
    if (consent) return consent;
    if (delivery.subscriberId === null) {
      const subscriber = await tx.row(Q.addressStatus, [delivery.email]);
      if (subscriber?.status === 'bounced') return { status: 'suppressed', reason: Reason.SuppressedBounced };
    }
    return null;
  }

  /** The receipt of the order: only the address decides (bounced, erased), never a parcel's state. */
  private async gateOrderConfirmation(tx: Sql, delivery: ClaimedDelivery): Promise<GateVerdict | null> {
    const address = await this.addressGate(tx, delivery);
    if (address) return address;
    const order = await tx.row(Q.orderExists, [delivery.refId!]);
    if (!order) return { status: 'expired', reason: Reason.Expired };
    return null;
  }

  private async gateShipmentMail(tx: Sql, delivery: ClaimedDelivery, kind: ShipmentMailKind): Promise<GateVerdict | null> {
    const address = await this.addressGate(tx, delivery);
    if (address) return address;
    // FOR SHARE: a carrier event (FOR UPDATE) waits until this hand-over has committed, and this
    // check waits for an event being applied. The state read here is the one the mail goes out under.
    const shipment = await tx.row(Q.lockShipmentStatus, [delivery.refId!]);
    if (!shipment) return { status: 'expired', reason: Reason.Expired };
    const status = shipment.status;
    // Read after the lock: an out-for-delivery mail queued by the event we waited for is seen.
    const outForDeliveryMailExists =
      kind === 'shipment_shipped' && status === 'out_for_delivery'
        ? (await tx.row(Q.mailExists, [`shipment_out_for_delivery:${delivery.refId}`])) !== undefined
        : false;
    const reason = shipmentMailVerdict({ kind, status, outForDeliveryMailExists });
    if (!reason) return null;
    return { status: reason === Reason.Expired ? 'expired' : 'suppressed', reason };
  }

  private async composeOrderConfirmation(tx: Sql, delivery: ClaimedDelivery): Promise<ComposedMessage> {
    const order = (await tx.row(Q.confirmationData, [delivery.refId!]))!;
    const data: Omit<OrderConfirmationData, 'companyName' | 'postalAddress'> = {
      orderNumber: order.number,
      placedOn: this.formatDate(order.placed_at, delivery.locale, order.time_zone),
      items: (order.items as OrderItem[]).map(({ name, quantity }) => ({ name, quantity })),
    };
    return { template: TEMPLATES.order_confirmation, data };
  }

  private async composeShipmentMail(tx: Sql, delivery: ClaimedDelivery, kind: ShipmentMailKind): Promise<ComposedMessage> {
    const shipment = (await tx.row(Q.shipmentMailData, [delivery.refId!]))!;
    const orderItems = shipment.order_items;
    const siblings = await tx.rows(Q.siblings, [shipment.order_id]);
    const names = new Map(orderItems.map((item) => [item.sku, item.name]));
    const data: Omit<ShipmentMailData, 'companyName' | 'postalAddress'> = {
      orderNumber: shipment.number,
      carrierName: carrierLabel(shipment.carrier),
      trackingNumber: shipment.tracking_number,
      trackingUrl: shipment.tracking_url,
      items: (shipment.items as ShipmentItem[]).map((item) => ({ name: names.get(item.sku) ?? item.sku, quantity: item.quantity })),
      stillComing: itemsStillComing(orderItems, siblings, shipment.id).map(({ name, quantity, separately }) => ({ name, quantity, separately })),
      returned: shipment.status === 'returned',
    };
    return { template: TEMPLATES[kind], data };
  }

  private formatDate(at: Date, locale: Locale, timeZone: string | null): string {
    return new Intl.DateTimeFormat(locale === 'de' ? 'de-DE' : 'en-GB', {
      dateStyle: 'long',
      timeZone: timeZone ?? this.config.defaultTimeZone,
    }).format(at);
  }
}
