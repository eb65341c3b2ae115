// The service mails of a registration: confirmation and update (each with a METHOD:REQUEST
// calendar file), cancellation (METHOD:CANCEL, same UID) and reminders. Service class: they are
// the direct result of the customer's own registration, never capped, and each checks at hand-over
// that it still has a purpose (a reminder after an unregister or a cancellation is suppressed).
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { mailDomain } from '../addresses/email';
import type { Sql } from '../database/sql';
import { ClaimedDelivery, ComposedMessage, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { Reason } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { calendarFile, mailboxAddress } from './webinar-calendar';
import { formatWhen, pick, seriesLabel } from './webinar-content';
import { webinarText } from './webinar.entity';
import { WebinarQueries as Q } from './webinars.queries';

export type WebinarMailKind = 'webinar_confirmation' | 'webinar_update' | 'webinar_cancellation' | 'webinar_reminder';

const TEMPLATES: Record<WebinarMailKind, string> = {
  webinar_confirmation: 'webinar-registration',
  webinar_update: 'webinar-update',
  webinar_cancellation: 'webinar-cancellation',
  webinar_reminder: 'webinar-reminder',
};

/** One mail for one registration. `key` makes it unique: the SEQUENCE for calendar mails, the slot for reminders. */
export interface RegistrationMail {
  registrationId: string;
  key: string | number;
  payload: Record<string, unknown>;
}

@Injectable()
export class WebinarMailsService implements OnModuleInit {
  private readonly senderDomain: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
  ) {
    this.senderDomain = mailDomain(config.mailFrom);
  }

  onModuleInit(): void {
    for (const kind of Object.keys(TEMPLATES) as WebinarMailKind[]) {
      this.kinds.register({
        kind,
        gate: (tx, delivery, now) => this.gate(tx, kind, delivery, now),
        compose: (tx, delivery) => this.compose(tx, kind, delivery),
      });
    }
  }

  /** The calendar UID of a registration: stable for its whole life. */
  uid(registrationId: string): string {
    return `${registrationId}@${this.senderDomain}`;
  }

  /** Queues these mails in one statement; a repeated call is a no-op (idempotency key per registration and key). */
  async queue(tx: Sql, kind: WebinarMailKind, mails: RegistrationMail[], at: Date): Promise<number> {
    if (mails.length === 0) return 0;
    return tx.run(Q.queueMails, [
      mails.map((m) => m.registrationId),
      mails.map((m) => String(m.key)),
      mails.map((m) => JSON.stringify(m.payload)),
      kind,
      kind === 'webinar_reminder' ? 5 : 10,
      at,
    ]);
  }

  /** Reminders not yet handed over for these registrations will not go (unregistered, cancelled). */
  async suppressReminders(tx: Sql, registrationIds: string[], now: Date): Promise<void> {
    if (registrationIds.length === 0) return;
    await tx.run(Q.suppressReminders, [registrationIds, Reason.SuppressedCancelled, now]);
  }

  // ---- send time -----------------------------------------------------------------------------

  private async gate(tx: Sql, kind: WebinarMailKind, delivery: ClaimedDelivery, now: Date): Promise<GateVerdict | null> {
    const consent = await subscriberGate(tx, delivery);
    if (consent) return consent;
    const r = await tx.row(Q.gate, [delivery.refId!]);
    if (!r) return { status: 'suppressed', reason: Reason.Superseded };
    const live = r.status === 'registered' && r.webinar_status === 'scheduled';
    switch (kind) {
      case 'webinar_confirmation':
        if (!live) return { status: 'suppressed', reason: Reason.Superseded };
        return now >= r.ends_at ? { status: 'expired', reason: Reason.Expired } : null;
      case 'webinar_update':
        // A later change is on its way with the newer SEQUENCE: this one has nothing to add.
        if (!live || Number(delivery.payload.sequence) < r.sequence) return { status: 'suppressed', reason: Reason.Superseded };
        return now >= r.ends_at ? { status: 'expired', reason: Reason.Expired } : null;
      case 'webinar_cancellation':
        // Registered again since: the newer confirmation (higher SEQUENCE) stands, this CANCEL would only confuse.
        if (r.status === 'registered' && Number(delivery.payload.sequence) < r.sequence) return { status: 'suppressed', reason: Reason.Superseded };
        return now >= r.ends_at ? { status: 'expired', reason: Reason.Expired } : null;
      case 'webinar_reminder':
        if (!live) return { status: 'suppressed', reason: Reason.SuppressedCancelled };
        return now >= r.starts_at ? { status: 'expired', reason: Reason.Expired } : null;
    }
  }

  private async compose(tx: Sql, kind: WebinarMailKind, delivery: ClaimedDelivery): Promise<ComposedMessage> {
    const registration = await tx.row(Q.mailRecipient, [delivery.refId!]);
    if (!registration) throw new Error(`webinar registration ${delivery.refId} is gone`);
    const webinar = (await tx.row(Q.byId, [registration.webinar_id]))!;
    const locale: Locale = delivery.locale;
    const text = webinarText(webinar);
    const title = pick(text.title, locale);
    const unregisterUrl = this.tokens.url('webinar', registration.id);
    const data = {
      firstName: registration.first_name ?? null,
      title,
      when: formatWhen(webinar.starts_at, webinar.ends_at, locale, registration.time_zone),
      seriesLabel: seriesLabel(text, locale),
      joinUrl: webinar.join_url,
      unregisterUrl,
      // Their personal link: coming back after unregistering needs no confirmation mail.
      registerUrl: `${this.config.publicUrl}/webinars/${webinar.slug}/register?lang=${locale}&t=${encodeURIComponent(this.tokens.sign('webinar_register', registration.subscriber_id))}`,
      byCustomer: delivery.payload.unregistered === true,
    };
    if (kind === 'webinar_reminder') return { template: TEMPLATES[kind], data };

    const method = kind === 'webinar_cancellation' ? 'CANCEL' : 'REQUEST';
    const description = [pick(text.description, locale), `${locale === 'de' ? 'Teilnehmen' : 'Join'}: ${webinar.join_url}`];
    if (method === 'REQUEST') description.push(`${locale === 'de' ? 'Abmelden' : 'Unregister'}: ${unregisterUrl}`);
    const ics = calendarFile({
      uid: this.uid(registration.id),
      sequence: Number(delivery.payload.sequence ?? 0),
      method,
      startsAt: webinar.starts_at,
      endsAt: webinar.ends_at,
      summary: title,
      description: description.filter(Boolean).join('\n\n'),
      joinUrl: webinar.join_url,
      organizer: { name: this.config.companyName, email: mailboxAddress(this.config.mailFrom) },
      attendee: { email: registration.email, name: registration.first_name },
      stamp: delivery.createdAt,
    });
    return {
      template: TEMPLATES[kind],
      data,
      attachments: [
        {
          filename: method === 'CANCEL' ? 'cancel.ics' : 'invite.ics',
          content: ics,
          contentType: `text/calendar; charset=utf-8; method=${method}`,
          method,
        },
      ],
    };
  }
}
