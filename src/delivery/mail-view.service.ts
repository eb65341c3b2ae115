// A sent mail as the customer got it, for the console: composed again by the worker's own code
// (DeliveryWorker.buildMail, the kind's compose and the same templates) inside a READ ONLY
// transaction, so viewing can change nothing; then every link that would act as the customer
// (preferences, one-click unsubscribe, feedback, confirmation, webinar links) is replaced by the
// inert sample link previews use, so a support agent cannot click a consent change by accident.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { TokenService } from '../links/tokens';
import { claimedDeliveryOf, DeliveryKind, DeliveryKinds } from './delivery-kinds';
import { DeliveryWorker } from './delivery-worker';

export interface ViewedMail {
  subject: string;
  html: string;
  text: string;
  sentAt: Date;
  to: string;
}

// The delivery as the worker claims it, without the claim. $1 delivery, $2 subscriber.
const SENT_DELIVERY = `
  SELECT d.id, d.subscriber_id, d.to_address, d.class, d.kind, d.topic_id, d.ref_id, d.sender, d.locale, d.payload,
         d.attempts, d.unknown_outcomes, d.idempotency_key, d.created_at, d.sent_at, s.email AS subscriber_email, s.status AS subscriber_status
  FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
  WHERE d.id = $1 AND d.subscriber_id = $2 AND d.status = 'sent'`;

/** Links that carry a person's signed token; the sample page of each (only /p, /u and /f have one). */
const PERSONAL_LINK = /(https?:\/\/[^\s"'<>]+?)\/(p|u|f|confirm|webinars\/unregister)\/[A-Za-z0-9._~-]+(\?[^\s"'<>]*)?/g;

@Injectable()
export class MailViewService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly worker: DeliveryWorker,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
  ) {}

  /** The sent mail `deliveryId` of subscriber `subscriberId`, re-rendered with inert links; null when there is no such sent mail. */
  async sent(subscriberId: string, deliveryId: string): Promise<ViewedMail | null> {
    if (!/^\d{1,18}$/.test(deliveryId)) return null;
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('BEGIN TRANSACTION READ ONLY');
      const [row] = await runner.query(SENT_DELIVERY, [deliveryId, subscriberId]);
      if (!row) return null;
      const mail = await this.worker.buildMail(runner.manager, claimedDeliveryOf(row), viewOf(this.kinds.get(row.kind)));
      return { subject: mail.subject, html: this.inert(mail.html, row.locale), text: this.inert(mail.text, row.locale), sentAt: row.sent_at, to: mail.to };
    } finally {
      await runner.query('ROLLBACK').catch(() => undefined);
      await runner.release();
    }
  }

  /** Every personal link replaced by its inert sample (a page that says so and changes nothing). */
  inert(content: string, locale: Locale): string {
    return content.replace(PERSONAL_LINK, (_match, _origin: string, path: string) => {
      const purpose = path === 'u' ? 'unsubscribe' : path === 'f' ? 'feedback' : 'preferences';
      return this.tokens.previewUrl(purpose, locale);
    });
  }
}

/** A kind that composes without its send-time checks, for a mail that already went. */
function viewOf(kind: DeliveryKind): DeliveryKind {
  return kind.view ? { ...kind, compose: kind.view } : kind;
}
