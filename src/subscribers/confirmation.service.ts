// Double opt-in: a pending subscriber gets one confirmation mail (and at most one reminder);
// only a POST from the confirmation page confirms, storing time, IP and user agent as proof.
// Pending sign-ups that were never confirmed are erased after 30 days.
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { ClaimedDelivery, DeliveryKind, DeliveryKinds, subscriberGate } from '../delivery/delivery-kinds';
import { OutboxService } from '../delivery/outbox.service';
import { Reason } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';

export const REMIND_AFTER_DAYS = 3;
export const EXPIRE_AFTER_DAYS = 30;
const DAY = 86_400_000;

export type ConfirmResult = 'confirmed' | 'already_confirmed' | 'not_pending';

@Injectable()
export class ConfirmationService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
    private readonly outbox: OutboxService,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
  ) {}

  onModuleInit(): void {
    for (const [kind, template] of [
      ['confirm_subscription', 'confirm-subscription'],
      ['confirm_reminder', 'confirm-reminder'],
    ] as const) {
      this.kinds.register(this.confirmationKind(kind, template));
    }
  }

  private confirmationKind(kind: string, template: string): DeliveryKind {
    return {
      kind,
      gate: async (tx, delivery) => {
        const consent = await subscriberGate(tx, delivery);
        if (consent) return consent;
        // Confirmed in the meantime (or unsubscribed): the mail has no purpose any more.
        if (delivery.subscriberStatus !== 'pending') return { status: 'suppressed', reason: Reason.SuppressedDuplicate };
        return null;
      },
      compose: (tx, delivery) => this.compose(tx, delivery, template),
    };
  }

  private async compose(tx: EntityManager, delivery: ClaimedDelivery, template: string) {
    const [subscriber] = await tx.query(`SELECT attributes FROM subscribers WHERE id = $1`, [delivery.subscriberId]);
    const topics: { name: string }[] = await tx.query(
      `SELECT CASE WHEN $2 = 'de' THEN t.name_de ELSE t.name_en END AS name
       FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
       WHERE ts.subscriber_id = $1 AND ts.status = 'pending' ORDER BY t.key`,
      [delivery.subscriberId, delivery.locale],
    );
    const firstName = subscriber?.attributes?.firstName;
    return {
      template,
      data: {
        firstName: typeof firstName === 'string' ? firstName : null,
        confirmUrl: this.tokens.url('confirm', delivery.subscriberId!),
        topicNames: topics.map((t) => t.name),
      },
    };
  }

  /** Queues the confirmation mail for those of these subscribers who are pending (once each). */
  requestConfirmation(tx: EntityManager, subscriberIds: string[]): Promise<number> {
    return this.outbox.enqueueForSubscribers(tx, {
      subscriberIds,
      class: 'service',
      kind: 'confirm_subscription',
      keyPrefix: 'confirm:',
      onlyStatus: 'pending',
      at: this.clock.now(),
      priority: 10,
    });
  }

  async confirm(subscriberId: string, ip: string | null, userAgent: string | null): Promise<ConfirmResult> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const [current] = await tx.query(`SELECT status FROM subscribers WHERE id = $1 FOR UPDATE`, [subscriberId]);
      if (!current) return 'not_pending';
      if (current.status !== 'pending') return current.status === 'active' ? 'already_confirmed' : 'not_pending';
      await tx.query(
        `UPDATE subscribers SET status = 'active', confirmed_at = $2, confirmation_ip = $3::inet, confirmation_user_agent = left($4, 500),
           status_changed_at = $2, updated_at = $2
         WHERE id = $1`,
        [subscriberId, now, ip, userAgent],
      );
      await tx.query(
        `UPDATE topic_subscriptions SET status = 'confirmed', confirmed_at = $2 WHERE subscriber_id = $1 AND status = 'pending'`,
        [subscriberId, now],
      );
      return 'confirmed';
    });
  }

  /** One reminder, REMIND_AFTER_DAYS after sign-up, for those still pending. */
  async sendReminders(): Promise<number> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const due: { id: string }[] = await tx.query(
        `WITH due AS (
           SELECT id FROM subscribers
           WHERE status = 'pending' AND confirmation_reminded_at IS NULL
             AND created_at <= $1 AND created_at > $2
             -- Only a newsletter sign-up is reminded; a webinar registrant never asked for one.
             AND EXISTS (SELECT 1 FROM topic_subscriptions ts WHERE ts.subscriber_id = subscribers.id AND ts.status = 'pending')
           FOR UPDATE SKIP LOCKED)
         , marked AS (UPDATE subscribers s SET confirmation_reminded_at = $3 FROM due WHERE s.id = due.id RETURNING s.id)
         SELECT id FROM marked`,
        [new Date(now.getTime() - REMIND_AFTER_DAYS * DAY), new Date(now.getTime() - EXPIRE_AFTER_DAYS * DAY), now],
      );
      return this.outbox.enqueueForSubscribers(tx, {
        subscriberIds: due.map((d) => d.id),
        class: 'service',
        kind: 'confirm_reminder',
        keyPrefix: 'confirm-reminder:',
        onlyStatus: 'pending',
        at: now,
      });
    });
  }

  /**
   * Unconfirmed sign-ups are not kept: after EXPIRE_AFTER_DAYS their data is deleted. A webinar
   * registrant (pending, consent to the webinar only) is kept until EXPIRE_AFTER_DAYS after the
   * end of their last webinar, so confirmation, reminders and follow-ups still reach them; a shop
   * customer (an order is linked to them) is kept with their orders.
   */
  async expirePending(): Promise<number> {
    const now = this.clock.now();
    const [{ count }] = await this.db.query(
      `WITH gone AS (
         DELETE FROM subscribers s WHERE s.status = 'pending' AND s.created_at <= $1
           AND NOT EXISTS (SELECT 1 FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id
                           WHERE r.subscriber_id = s.id AND w.ends_at > $1)
           -- A shop customer's record stays: deleting it would take their orders, parcels and
           -- tracking mails with it (the erasure cascade). Unconfirmed, it still gets no marketing.
           AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.subscriber_id = s.id)
         RETURNING 1)
       SELECT count(*)::int AS count FROM gone`,
      [new Date(now.getTime() - EXPIRE_AFTER_DAYS * DAY)],
    );
    return count;
  }
}
