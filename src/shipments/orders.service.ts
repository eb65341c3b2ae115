// Orders as the shop reports them, and their confirmation mail.
//
// Who gets the mail: a known subscriber is linked by address (their timeline shows the order's
// mails, a bounce or erasure applies). An unknown address is NOT turned into a subscriber: the
// order keeps the address and its mails go there (`deliveries.to_address`). A subscriber row is a
// consent record: an `active` one without confirmation would contradict "active only by confirming"
// and block that person's own sign-up later (409, and no double opt-in mail for an active row); a
// `pending` one would draw a confirmation mail nobody asked for and be deleted after 30 days.
// Transactional mail never implies marketing consent, so the shop customer stays outside every
// audience until they sign up themselves.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { Db, Tx } from '../database/sql';
import { REASON_LABELS, Reason } from '../reasons/reason-codes';
import { CreateOrderDto, OrderMail, OrderResponse } from './dto/order.dto';
import { ShipmentMailsService } from './shipment-mails.service';
import { MailRow, OrderRow, ShipmentQueries as Q } from './shipments.queries';
import { ORDER_CONFIRMATION_KIND, OrderItem } from './shipment-mail.policy';

export const DEFAULT_SHOP = 'main';
/** Shop clocks drift; an order "placed" further ahead than this is a bug on the shop's side. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

export function toMail(row: MailRow): OrderMail {
  return {
    deliveryId: String(row.id),
    kind: row.kind,
    status: row.status,
    reason: row.reason,
    reasonLabel: REASON_LABELS[row.reason as Reason] ?? { de: row.reason, en: row.reason },
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at?.toISOString() ?? null,
  };
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly mails: ShipmentMailsService,
  ) {}

  /** Records the order and queues its confirmation; the same order again is found, not doubled. */
  async create(input: CreateOrderDto): Promise<{ order: OrderResponse; created: boolean }> {
    const now = this.clock.now();
    const shop = input.shop ?? DEFAULT_SHOP;
    const email = input.email.trim().toLowerCase();
    const placedAt = new Date(input.placedAt);
    const errors: FieldError[] = [];
    if (placedAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) errors.push({ field: 'placedAt', message: 'lies in the future' });
    const seen = new Set<string>();
    input.items.forEach((item, index) => {
      if (seen.has(item.sku)) errors.push({ field: `items[${index}].sku`, message: `${item.sku} appears twice; give one line per SKU` });
      seen.add(item.sku);
    });
    if (errors.length > 0) throw validationException(errors);
    const items: OrderItem[] = input.items.map(({ sku, name, quantity }) => ({ sku, name, quantity }));

    const result = await this.db.transaction(async (tx) => {
      const subscriber = await tx.row(Q.customerByEmail, [email]);
      const locale: Locale = input.locale ?? subscriber?.locale ?? this.config.defaultLocale;
      const inserted = await tx.row(Q.createOrder, [shop, input.number, subscriber?.id ?? null, email, locale, JSON.stringify(items), placedAt, now]);
      if (!inserted) {
        const existing = await this.findByNumber(tx, shop, input.number);
        const same =
          existing.customer_email === email &&
          existing.placed_at.getTime() === placedAt.getTime() &&
          JSON.stringify(existing.items.map(({ sku, name, quantity }) => ({ sku, name, quantity }))) === JSON.stringify(items) &&
          (input.locale === undefined || input.locale === existing.locale);
        if (!same) {
          throw new DomainException(ErrorCode.Conflict, `Order ${input.number} of shop ${shop} exists already with other content`, [
            { field: 'number', message: 'is taken by an order with a different address, items, date or language' },
          ]);
        }
        return { id: existing.id, created: false };
      }
      await this.mails.enqueue(tx, { orderId: inserted.id, kind: ORDER_CONFIRMATION_KIND, refId: inserted.id, at: now });
      return { id: inserted.id, created: true };
    });
    return { order: await this.get(result.id), created: result.created };
  }

  async get(id: string): Promise<OrderResponse> {
    const row = await this.db.row(Q.order, [id]);
    if (!row) throw notFound('Order', id);
    const shipments = await this.db.rows(Q.orderShipments, [id]);
    const mails = await this.mails.mailsFor(this.db, id);
    return {
      id: row.id,
      shop: row.shop,
      number: row.number,
      email: row.customer_email,
      subscriberId: row.subscriber_id,
      locale: row.locale,
      items: row.items,
      placedAt: row.placed_at.toISOString(),
      createdAt: row.created_at.toISOString(),
      shipmentIds: shipments.map((s) => s.id),
      mails: mails.map(toMail),
    };
  }

  private async findByNumber(tx: Tx, shop: string, number: string): Promise<OrderRow> {
    return (await tx.row(Q.orderByNumber, [shop, number]))!;
  }
}
