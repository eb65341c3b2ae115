// Double opt-in: a pending subscriber gets one confirmation mail (and at most one reminder);
// only a POST from the confirmation page confirms, storing time, IP and user agent as proof.
// Pending sign-ups that were never confirmed are erased after 30 days.
import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Db, Sql, Tx } from '../database/sql';
import { ClaimedDelivery, DeliveryKind, DeliveryKinds, subscriberGate } from '../delivery/delivery-kinds';
import { OutboxService } from '../delivery/outbox.service';
import { Reason } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { SubscriberQueries as Q } from './subscribers.queries';

export const REMIND_AFTER_DAYS = 3;
export const EXPIRE_AFTER_DAYS = 30;
const DAY = 86_400_000;

export type ConfirmResult = 'confirmed' | 'already_confirmed' | 'not_pending';

@Injectable()
export class ConfirmationService implements OnModuleInit {
  constructor(
    private readonly db: Db,
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

  private async compose(tx: Sql, delivery: ClaimedDelivery, template: string) {
    const subscriber = await tx.row(Q.attributes, [delivery.subscriberId!]);
    const topics = await this.pendingTopicNames(delivery.subscriberId!, delivery.locale, tx);
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

  /** The person a confirmation link names (null: gone). */
  async confirmable(subscriberId: string): Promise<{ id: string; locale: 'de' | 'en'; status: string } | null> {
    return (await this.db.row(Q.confirmable, [subscriberId])) ?? null;
  }

  /** The topics a confirmation would confirm, in the reader's language. */
  pendingTopicNames(subscriberId: string, locale: string, sql: Sql = this.db): Promise<{ name: string }[]> {
    return sql.rows(Q.pendingTopicNames, [subscriberId, locale]);
  }

  /**
   * Queues the confirmation mail for those of these subscribers who are pending (once each), in
   * the caller's transaction.
   */
  requestConfirmation(tx: Tx, subscriberIds: string[]): Promise<number> {
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
      const current = await tx.row(Q.lockStatus, [subscriberId]);
      if (!current) return 'not_pending';
      if (current.status !== 'pending') return current.status === 'active' ? 'already_confirmed' : 'not_pending';
      await tx.run(Q.confirm, [subscriberId, now, ip, userAgent]);
      await tx.run(Q.confirmPendingTopics, [subscriberId, now]);
      return 'confirmed';
    });
  }

  /** One reminder, REMIND_AFTER_DAYS after sign-up, for those still pending. */
  async sendReminders(): Promise<number> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const due = await tx.rows(Q.markConfirmationReminders, [
        new Date(now.getTime() - REMIND_AFTER_DAYS * DAY),
        new Date(now.getTime() - EXPIRE_AFTER_DAYS * DAY),
        now,
      ]);
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
    return this.db.run(Q.expirePending, [new Date(now.getTime() - EXPIRE_AFTER_DAYS * DAY)]);
  }
}
