// Double opt-in for the public registration form. A submission registers nobody: it records a
// registration request and, unless a limit says otherwise, queues one "confirm your registration"
// mail to the address. Only the click on that mail's link (a POST from the page it opens)
// registers the person, and only then the webinar confirmation with the calendar file goes.
//
// The form's answer must not tell anyone whether an address is known, registered, blocked or
// limited, so request() returns what it did only for tests and logs; the page answers alike.
// Limits, counted in PostgreSQL so that every instance counts the same and a restart forgets
// nothing: one mail per address and webinar per CONFIRM_INTERVAL, MAX_MAILS_PER_ADDRESS_DAY per
// address in all, WEBINAR_CONFIRM_MAILS_PER_IP_HOUR per client address. Each count runs under an
// advisory lock on its key (address first, then client address: one order, no deadlock).
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Db, Sql, Tx } from '../database/sql';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { ClaimedDelivery, ComposedMessage, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { Reason } from '../reasons/reason-codes';
import { addressBucket } from '../pages/customer-rate-limit.guard';
import { TokenService } from '../links/tokens';
import { addressBlocks, isBlocked } from '../addresses/address-blocks';
import { normalizeEmail } from '../addresses/email';
import { formatWhen, pick, seriesLabel } from './webinar-content';
import { Evidence, RegisterResult, WebinarRegistrationsService } from './webinar-registrations.service';
import { webinarText } from './webinar.entity';
import { WebinarQueries as Q } from './webinars.queries';

export const REGISTRATION_CONFIRM_KIND = 'webinar_registration_confirm';
const TEMPLATE = 'webinar-registration-confirm';

/** One confirmation mail per address and webinar within this time. */
export const CONFIRM_INTERVAL_MS = 24 * 3_600_000;
/** Confirmation mails to one address per day, whatever the webinar: the form cannot be used to flood a mailbox. */
export const MAX_MAILS_PER_ADDRESS_DAY = 3;

export interface RequestInput {
  email: string;
  locale: Locale;
  timeZone: string;
  firstName?: string;
  series: boolean;
}

/**
 * What request() did. Never shown to the visitor: the page answers the same for all of them.
 * `mailed`: a confirmation mail is queued. The rest queued nothing: `blocked` (erased, bounced or
 * complained), `registered` (registered already), `recently_mailed` (this address and webinar
 * within CONFIRM_INTERVAL), `address_limit`, `ip_limit`.
 */
export type RequestOutcome = 'mailed' | 'blocked' | 'registered' | 'recently_mailed' | 'address_limit' | 'ip_limit';

export type ConfirmResult = RegisterResult & { email: string; locale: Locale };

/** Takes a transaction-scoped advisory lock on a text key (released at commit). */
const lockKey = (tx: Tx, key: string) => tx.run(Q.lockFormKey, [key]);

@Injectable()
export class WebinarRegistrationRequestsService implements OnModuleInit {
  private readonly logger = new Logger(WebinarRegistrationRequestsService.name);

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
    private readonly registrations: WebinarRegistrationsService,
  ) {}

  onModuleInit(): void {
    this.kinds.register({
      kind: REGISTRATION_CONFIRM_KIND,
      gate: (tx, delivery, now) => this.gate(tx, delivery, now),
      compose: (tx, delivery) => this.compose(tx, delivery),
    });
  }

  /** The confirmation link of a request: `/webinars/<slug>/confirm/<token>`. */
  confirmPath(slug: string, requestId: string): string {
    return `/webinars/${slug}/confirm/${this.tokens.sign('webinar_confirm', requestId)}`;
  }

  /** A form submission (valid, for a webinar open for registration and not full). */
  async request(webinarId: string, input: RequestInput, evidence: Evidence): Promise<RequestOutcome> {
    const email = normalizeEmail(input.email);
    const bucket = evidence.ip ? addressBucket(evidence.ip) : null;
    const outcome = await this.db.transaction(async (tx): Promise<RequestOutcome> => {
      const now = this.clock.now();
      const subscriber = await tx.row(Q.formSubscriber, [email]);
      if (subscriber && (subscriber.status === 'bounced' || subscriber.status === 'complained')) return 'blocked';
      if (!subscriber && isBlocked(await addressBlocks(tx, email))) return 'blocked';
      if (subscriber) {
        const registered = await tx.row(Q.isRegistered, [webinarId, subscriber.id]);
        if (registered) return 'registered';
      }

      // Under the address's lock: no other submission for it runs in between, so the row read here stays as read.
      await lockKey(tx, `webinar-confirm-address:${email}`);
      const request = await tx.row(Q.request, [webinarId, email]);
      const dayAgo = new Date(now.getTime() - CONFIRM_INTERVAL_MS);
      if (request?.last_mail_at && request.last_mail_at > dayAgo) return 'recently_mailed';
      const { count: toAddress } = (await tx.row(Q.mailsToAddress, [email, dayAgo]))!;
      if (toAddress >= MAX_MAILS_PER_ADDRESS_DAY) return 'address_limit';
      if (bucket) {
        await lockKey(tx, `webinar-confirm-ip:${bucket}`);
        const { count: fromIp } = (await tx.row(Q.mailsFromClient, [bucket, new Date(now.getTime() - 3_600_000)]))!;
        if (fromIp >= this.config.webinarConfirmMailsPerIpHour) return 'ip_limit';
      }

      // Stored only when a mail goes; what the form said now is what the click will register (a
      // confirmed request, whose registration has ended since, asks again).
      const saved = (await tx.row(Q.saveRequest, [
        webinarId,
        email,
        input.locale,
        input.timeZone,
        input.firstName ?? null,
        input.series,
        evidence.ip,
        bucket,
        evidence.userAgent,
        now,
      ]))!;
      // Service mail: the direct result of this request. A known address's mail shows on its timeline.
      await tx.run(Q.queueRequestMail, [
        subscriber?.id ?? null,
        subscriber ? null : email,
        REGISTRATION_CONFIRM_KIND,
        saved.id,
        input.locale,
        `${REGISTRATION_CONFIRM_KIND}:${saved.id}:${saved.mails}`,
        now,
      ]);
      return 'mailed';
    });
    if (outcome === 'address_limit' || outcome === 'ip_limit') this.logger.warn({ outcome, webinarId }, 'webinar form: confirmation mail withheld by a limit');
    return outcome;
  }

  /**
   * The click on the confirmation link (POST): registers the person as the form asked, with the
   * click as the evidence, and marks the request confirmed, in one transaction. null: no such
   * request (forged, forgotten, erased, or another webinar's link).
   */
  async confirm(requestId: string, webinarId: string, evidence: Evidence): Promise<ConfirmResult | null> {
    return this.db.transaction(async (tx) => {
      const request = await tx.row(Q.lockRequest, [requestId, webinarId]);
      if (!request) return null;
      const result = await this.registrations.registerIn(
        tx,
        webinarId,
        { email: request.email, locale: request.locale, timeZone: request.time_zone, firstName: request.first_name ?? undefined, series: request.series },
        'page',
        evidence,
      );
      if (result.outcome === 'registered' || result.outcome === 'already_registered') {
        await tx.run(Q.confirmRequest, [request.id, this.clock.now()]);
      }
      return { ...result, email: request.email, locale: request.locale };
    });
  }

  /** The request behind a confirmation link, for the page that shows its button (GET changes nothing). */
  async find(requestId: string): Promise<{ id: string; webinarId: string; email: string; locale: Locale; timeZone: string; series: boolean } | null> {
    const row = await this.db.row(Q.requestById, [requestId]);
    return row ? { id: row.id, webinarId: row.webinar_id, email: row.email, locale: row.locale, timeZone: row.time_zone, series: row.series } : null;
  }

  // ---- the confirmation mail -----------------------------------------------------------------

  /** At hand-over: still pending, still worth asking (the webinar is open), and the address may get service mail. */
  private async gate(tx: Sql, delivery: ClaimedDelivery, now: Date): Promise<GateVerdict | null> {
    const consent = await subscriberGate(tx, delivery);
    if (consent) return consent;
    const request = await tx.row(Q.requestGate, [delivery.refId!]);
    if (!request) return { status: 'expired', reason: Reason.Expired };
    if (request.webinar_status !== 'scheduled' || request.starts_at <= now) return { status: 'expired', reason: Reason.Expired };
    // Confirmed meanwhile (through an earlier mail's link): nothing left to ask.
    if (request.status !== 'pending') return { status: 'suppressed', reason: Reason.Superseded };
    return null;
  }

  private async compose(tx: Sql, delivery: ClaimedDelivery): Promise<ComposedMessage> {
    const request = await tx.row(Q.requestById, [delivery.refId!]);
    if (!request) throw new Error(`webinar registration request ${delivery.refId} is gone`);
    const webinar = (await tx.row(Q.byId, [request.webinar_id]))!;
    const locale: Locale = delivery.locale;
    const text = webinarText(webinar);
    return {
      template: TEMPLATE,
      data: {
        firstName: request.first_name,
        title: pick(text.title, locale),
        when: formatWhen(webinar.starts_at, webinar.ends_at, locale, request.time_zone),
        seriesLabel: seriesLabel(text, locale),
        seriesTitle: request.series && text.series ? pick(text.series.title, locale) : null,
        confirmUrl: `${this.config.publicUrl}${this.confirmPath(webinar.slug, request.id)}`,
      },
    };
  }
}
