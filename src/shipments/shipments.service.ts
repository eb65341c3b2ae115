// Shipments and their carrier events. Every event is applied under the shipment's row lock
// (FOR UPDATE), and the state is re-derived from all events by deriveShipmentState(): so repeats,
// replays and late arrivals give the same state as the carrier's own order, and a mail being
// handed to SMTP (which holds the row FOR SHARE) and a `delivered` event never interleave.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, invalid, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Tx } from '../database/sql';
import { CreateShipmentDto, EventResult, ShipmentEventDto, ShipmentResponse } from './dto/shipment.dto';
import { DEFAULT_SHOP, toMail } from './orders.service';
import { ShipmentMailsService } from './shipment-mails.service';
import { ShipmentQueries as Q, ShipmentRow } from './shipments.queries';
import { mailsForTransition, OrderItem, ShipmentItem, ShipmentItems, unshippedQuantities } from './shipment-mail.policy';
import { CarrierEvent, compareEvents, deriveShipmentState } from './shipment-state.policy';

/** Carrier clocks drift a little; an event further in the future than this is refused. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Which shipment an event is about: by our id (API), or by carrier and tracking number (webhook). */
export type ShipmentRef = { shipmentId: string; carrier?: string } | { carrier: string; trackingNumber: string };

const sameItems = (a: ShipmentItem[], b: ShipmentItem[]): boolean =>
  JSON.stringify(a.map((i) => [i.sku, i.quantity]).sort()) === JSON.stringify(b.map((i) => [i.sku, i.quantity]).sort());

@Injectable()
export class ShipmentsService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly mails: ShipmentMailsService,
  ) {}

  /**
   * Registers a parcel of an order and queues "shipped, here is your tracking link" (once per
   * shipment), held for the settle time: a parcel registered late, whose carrier reports it
   * delivered a moment later, gets no tracking mail.
   */
  async create(input: CreateShipmentDto): Promise<{ shipment: ShipmentResponse; created: boolean }> {
    const now = this.clock.now();
    const shop = input.shop ?? DEFAULT_SHOP;
    const result = await this.db.transaction(async (tx) => {
      // Locked: two parcels of one order registered at once must not both take the last unit.
      const order = await tx.row(Q.lockOrder, [shop, input.orderNumber]);
      if (!order) {
        throw new DomainException(ErrorCode.Unprocessable, `Order ${input.orderNumber} of shop ${shop} does not exist`, [
          { field: 'orderNumber', message: `matches no order of shop ${shop}; POST /v1/orders first` },
        ]);
      }
      const existing = await tx.row(Q.shipmentByTracking, [input.carrier, input.trackingNumber]);
      if (existing) {
        const same =
          existing.order_id === order.id && existing.tracking_url === input.trackingUrl && (!input.items || sameItems(existing.items, input.items));
        if (!same) {
          throw new DomainException(ErrorCode.Conflict, `Shipment ${input.carrier} ${input.trackingNumber} exists already with other content`, [
            { field: 'trackingNumber', message: 'is registered already for another order, tracking URL or set of items' },
          ]);
        }
        return { id: existing.id, created: false };
      }

      const siblings = await tx.rows(Q.siblings, [order.id]);
      const items = this.parcelItems(order.items, siblings, input);
      // A customer who signed up after ordering is linked now, so this parcel's mails reach their timeline.
      const linked = order.subscriber_id ? { subscriber_id: order.subscriber_id } : await tx.row(Q.linkOrder, [order.id]);
      const inserted = await tx.row(Q.createShipment, [
        order.id,
        linked?.subscriber_id ?? null,
        input.carrier,
        input.trackingNumber,
        input.trackingUrl,
        JSON.stringify(items),
        now,
      ]);
      if (!inserted) {
        // Registered for another order in the meantime (the lock above covers only this order).
        throw new DomainException(ErrorCode.Conflict, `Shipment ${input.carrier} ${input.trackingNumber} exists already`, [
          { field: 'trackingNumber', message: 'is registered already' },
        ]);
      }
      await this.mails.enqueue(tx, { orderId: order.id, kind: 'shipment_shipped', refId: inserted.id, at: now });
      return { id: inserted.id, created: true };
    });
    return { shipment: await this.get(result.id), created: result.created };
  }

  /** The parcel's items: as given (each an SKU of the order, within what is not shipped yet), or the rest of the order. */
  private parcelItems(orderItems: OrderItem[], siblings: ShipmentItems[], input: CreateShipmentDto): ShipmentItem[] {
    const open = unshippedQuantities(orderItems, siblings);
    if (!input.items) {
      const rest = [...open].filter(([, quantity]) => quantity > 0).map(([sku, quantity]) => ({ sku, quantity }));
      if (rest.length === 0) throw invalid('items', `everything of order ${input.orderNumber} is in a parcel already`);
      return rest;
    }
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    input.items.forEach((item, index) => {
      if (!open.has(item.sku)) errors.push({ field: `items[${index}].sku`, message: `${item.sku} is not part of order ${input.orderNumber}` });
      else if (seen.has(item.sku)) errors.push({ field: `items[${index}].sku`, message: `${item.sku} appears twice; give one line per SKU` });
      else if (item.quantity > open.get(item.sku)!) {
        errors.push({ field: `items[${index}].quantity`, message: `only ${open.get(item.sku)} of ${item.sku} are not in a parcel yet` });
      }
      seen.add(item.sku);
    });
    if (errors.length > 0) throw validationException(errors);
    return input.items.map(({ sku, quantity }) => ({ sku, quantity }));
  }

  /**
   * Applies one carrier event. The shipment row stays locked until commit, so a worker handing a
   * mail for this shipment to SMTP either finished before (and this waited) or sees the new state.
   */
  async applyEvent(ref: ShipmentRef, event: ShipmentEventDto, source: 'api' | 'webhook'): Promise<EventResult> {
    const occurredAt = new Date(event.occurredAt);
    if (occurredAt.getTime() > this.clock.now().getTime() + FUTURE_TOLERANCE_MS) throw invalid('occurredAt', 'lies in the future');
    return this.db.transaction(async (tx) => {
      const shipment = await this.lockShipment(tx, ref, source);
      const now = this.clock.now(); // after the lock: when the event took effect
      const fresh = await tx.row(Q.recordEvent, [shipment.carrier, event.eventId, shipment.id, shipment.subscriber_id, event.status, occurredAt, now, source]);
      if (!fresh) {
        const stored = (await tx.row(Q.storedEvent, [shipment.carrier, event.eventId]))!;
        if (stored.shipment_id !== shipment.id || stored.status !== event.status || stored.occurred_at.getTime() !== occurredAt.getTime()) {
          throw new DomainException(ErrorCode.Conflict, `Event ${event.eventId} of ${shipment.carrier} was received before with other content`, [
            { field: 'eventId', message: 'was used before for another shipment, status or time' },
          ]);
        }
        return { shipmentId: shipment.id, duplicate: true, previousStatus: shipment.status, status: shipment.status, mailsQueued: [] };
      }

      const events: CarrierEvent[] = (await tx.rows(Q.events, [shipment.id])).map((e) => ({
        eventId: e.event_id,
        status: e.status,
        occurredAt: e.occurred_at,
      }));
      const state = deriveShipmentState(events);
      await tx.run(Q.setState, [shipment.id, state.status, state.statusAt, state.deliveredAt, now]);
      // A change of status restarts the hold of the mails still waiting; the new status's own mail
      // (queued below) starts with a full hold.
      if (state.status !== shipment.status) await this.mails.holdStatusMails(tx, shipment.id, now);
      const mailsQueued: string[] = [];
      for (const kind of mailsForTransition(shipment.status, state.status, { outForDeliveryMail: this.config.shipmentOutForDeliveryMail })) {
        if (await this.mails.enqueue(tx, { orderId: shipment.order_id, kind, refId: shipment.id, at: now })) mailsQueued.push(kind);
      }
      return { shipmentId: shipment.id, duplicate: false, previousStatus: shipment.status, status: state.status, mailsQueued };
    });
  }

  private async lockShipment(tx: Tx, ref: ShipmentRef, source: 'api' | 'webhook'): Promise<ShipmentRow> {
    const shipment =
      'shipmentId' in ref ? await tx.row(Q.lockShipmentById, [ref.shipmentId]) : await tx.row(Q.lockShipmentByTracking, [ref.carrier, ref.trackingNumber]);
    if (source === 'api') {
      if (!shipment) throw notFound('Shipment', (ref as { shipmentId: string }).shipmentId);
      return shipment;
    }
    // The webhook names the shipment in its body: an unknown one is a bad request, not a missing route.
    if (!shipment) {
      const field = 'shipmentId' in ref ? 'shipmentId' : 'trackingNumber';
      throw new DomainException(ErrorCode.Unprocessable, `No shipment matches this ${field} of carrier ${ref.carrier}`, [
        { field, message: `matches no shipment of carrier ${ref.carrier}` },
      ]);
    }
    if (ref.carrier !== undefined && ref.carrier !== shipment.carrier) {
      throw new DomainException(ErrorCode.Unprocessable, `Shipment ${shipment.id} is carried by ${shipment.carrier}, not ${ref.carrier}`, [
        { field: 'carrier', message: `is not the carrier of shipment ${shipment.id}` },
      ]);
    }
    return shipment;
  }

  async get(id: string): Promise<ShipmentResponse> {
    const row = await this.db.row(Q.shipment, [id]);
    if (!row) throw notFound('Shipment', id);
    const events = await this.db.rows(Q.events, [id]);
    const mails = await this.mails.mailsFor(this.db, id);
    return {
      id: row.id,
      orderId: row.order_id,
      orderNumber: row.order_number,
      shop: row.shop,
      carrier: row.carrier,
      trackingNumber: row.tracking_number,
      trackingUrl: row.tracking_url,
      items: row.items,
      status: row.status,
      statusAt: row.status_at?.toISOString() ?? null,
      deliveredAt: row.delivered_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
      events: events
        .sort((a, b) => compareEvents({ eventId: a.event_id, status: a.status, occurredAt: a.occurred_at }, { eventId: b.event_id, status: b.status, occurredAt: b.occurred_at }))
        .map((e) => ({
          eventId: e.event_id,
          status: e.status,
          occurredAt: e.occurred_at.toISOString(),
          receivedAt: e.received_at.toISOString(),
          source: e.source,
        })),
      mails: mails.map(toMail),
    };
  }
}
