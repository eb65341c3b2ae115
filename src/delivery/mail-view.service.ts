// A sent mail as the customer got it, for the console: composed again by the worker's own code
// (DeliveryWorker.buildMail, the kind's compose and the same templates) inside a read-only
// transaction, so viewing can change nothing; then every link that would act as the customer
// (preferences, one-click unsubscribe, feedback, confirmation, webinar links) is replaced by the
// inert sample link previews use, so a support agent cannot click a consent change by accident.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { Db } from '../database/sql';
import { TokenService } from '../links/tokens';
import { claimedDeliveryOf, DeliveryKind, DeliveryKinds } from './delivery-kinds';
import { DeliveryQueries as Q } from './delivery.queries';
import { DeliveryWorker } from './delivery-worker';

export interface ViewedMail {
  subject: string;
  html: string;
  text: string;
  sentAt: Date;
  to: string;
}

/** Links that carry a person's signed token; the sample page of each (only /p, /u and /f have one). */
const PERSONAL_LINK = /(https?:\/\/[^\s"'<>]+?)\/(p|u|f|confirm|webinars\/unregister)\/[A-Za-z0-9._~-]+(\?[^\s"'<>]*)?/g;

@Injectable()
export class MailViewService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly worker: DeliveryWorker,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
  ) {}

  /** The sent mail `deliveryId` of subscriber `subscriberId`, re-rendered with inert links; null when there is no such sent mail. */
  async sent(subscriberId: string, deliveryId: string): Promise<ViewedMail | null> {
    if (!/^\d{1,18}$/.test(deliveryId)) return null;
    return this.db.transaction(
      async (tx) => {
        const row = await tx.row(Q.sentDelivery, [deliveryId, subscriberId]);
        if (!row) return null;
        const mail = await this.worker.buildMail(tx, claimedDeliveryOf(row), viewOf(this.kinds.get(row.kind)));
        return { subject: mail.subject, html: this.inert(mail.html, row.locale), text: this.inert(mail.text, row.locale), sentAt: row.sent_at, to: mail.to };
      },
      { readOnly: true },
    );
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
