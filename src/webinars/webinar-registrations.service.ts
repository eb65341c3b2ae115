// Registrations: who is coming, their calendar SEQUENCE, their reminders. A known address links to
// its subscriber; an unknown one becomes a pending subscriber (source `webinar`) with no topic
// consent at all: the registration is the only thing they agreed to. An address on the
// suppression list (erased) or one that bounced or complained is never made a person again here:
// nothing is stored or sent for it (the public page answers as for any unknown address, the API
// refuses). Capacity is checked with the webinar row locked, so two last-seat registrations
// cannot both win.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { isTimeZone, TIME_ZONE_MESSAGE } from '../common/time-zones';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { AddressBlocks, addressBlocks, isBlocked } from '../addresses/address-blocks';
import { normalizeEmail } from '../addresses/email';
import { Db, Tx } from '../database/sql';
import { writeSubscribers } from '../subscribers/subscriber-rows';
import { RegistrationResponse } from './dto/webinar.dto';
import { RegistrationMail, WebinarMailsService } from './webinar-mails.service';
import { nextReminder, reminderStep } from './webinar-reminders.policy';
import type { LockedWebinar, RegistrationRow } from './webinar.entity';
import { WebinarQueries as Q } from './webinars.queries';

export interface RegistrationInput {
  email: string;
  locale?: Locale;
  timeZone?: string;
  firstName?: string;
  /** Also every later part of the series, and parts published later. */
  series?: boolean;
}

export interface Evidence {
  ip: string | null;
  userAgent: string | null;
}

export type PartOutcome = 'registered' | 'already_registered' | 'full';

export type SeriesOutcome = { webinarId: string; part: number; outcome: PartOutcome };

export type RegisterResult =
  | { outcome: 'registered' | 'already_registered'; registration: RegistrationResponse; series: SeriesOutcome[] }
  /**
   * The address is erased, bounced or complained and unknown as a subscriber: nothing was stored
   * or queued. `series` is what an unknown address would have got, so a page can answer alike.
   */
  | { outcome: 'suppressed'; blocks: AddressBlocks; series: SeriesOutcome[] }
  | { outcome: 'full' }
  | { outcome: 'closed'; reason: 'cancelled' | 'started' };

export type UnregisterResult = { outcome: 'unregistered' | 'not_registered'; webinarId: string; leftSeries: boolean };

export type { LockedWebinar };

const BATCH = 1000;
/** A pending registration request of the public form is forgotten after this many days. */
export const PENDING_REQUEST_DAYS = 7;

@Injectable()
export class WebinarRegistrationsService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly mails: WebinarMailsService,
  ) {}

  async register(webinarId: string, input: RegistrationInput, source: 'page' | 'api', evidence: Evidence): Promise<RegisterResult> {
    if (input.timeZone !== undefined && !isTimeZone(input.timeZone)) throw validationException([{ field: 'timeZone', message: TIME_ZONE_MESSAGE }]);
    return this.db.transaction((tx) => this.registerIn(tx, webinarId, input, source, evidence));
  }

  /**
   * register() in the caller's transaction: the public form's confirmation link registers and
   * marks its request confirmed in one commit.
   */
  async registerIn(tx: Tx, webinarId: string, input: RegistrationInput, source: 'page' | 'api', evidence: Evidence): Promise<RegisterResult> {
    const email = normalizeEmail(input.email);
    const now = this.clock.now();
    const target = await tx.row(Q.target, [webinarId]);
    if (!target) throw notFound('Webinar', webinarId);
    // Every part this request may touch, locked in one order, so two series registrations cannot deadlock.
    const withSeries = input.series === true && target.series_id !== null;
    const locked = await tx.rows(Q.lockParts, [webinarId, withSeries ? target.series_id : null, now]);
    const webinar = locked.find((w) => w.id === webinarId)!;
    if (webinar.status === 'cancelled') return { outcome: 'closed', reason: 'cancelled' };
    if (webinar.starts_at <= now) return { outcome: 'closed', reason: 'started' };

    const parts = locked.filter((w) => w.id !== webinarId).sort((a, b) => a.series_part! - b.series_part!);
    let subscriber = await tx.row(Q.subscriberByEmail, [email]);
    if (!subscriber && (await this.isFull(tx, webinar))) return { outcome: 'full' };
    if (!subscriber) {
      const blocks = await addressBlocks(tx, email);
      if (isBlocked(blocks)) {
        // As registerOne would decide for a new subscriber: each part registered unless full.
        const series: SeriesOutcome[] = [];
        for (const part of withSeries ? parts : []) {
          series.push({ webinarId: part.id, part: part.series_part!, outcome: (await this.isFull(tx, part)) ? 'full' : 'registered' });
        }
        return { outcome: 'suppressed', blocks, series };
      }
    }
    subscriber ??= await this.createPending(tx, email, input, now, evidence);

    const main = await this.registerOne(tx, webinar, subscriber.id, source, now);
    if (main.outcome === 'full') return { outcome: 'full' };
    const series: SeriesOutcome[] = [];
    if (withSeries) {
      await tx.run(Q.joinSeries, [subscriber.id, webinar.series_id!, now]);
      for (const part of parts) {
        series.push({ webinarId: part.id, part: part.series_part!, outcome: (await this.registerOne(tx, part, subscriber.id, 'series', now)).outcome });
      }
    }
    return { outcome: main.outcome, registration: await this.response(tx, main.id!), series };
  }

  /** Registers everyone signed up for the series for a part just published (set-based). */
  async registerSeriesMembers(tx: Tx, webinar: LockedWebinar, now: Date): Promise<number> {
    if (!webinar.series_id) return 0;
    const first = nextReminder(webinar.reminder_minutes, webinar.starts_at, 0, now);
    const rows = await tx.rows(Q.registerSeriesMembers, [
      webinar.id,
      first?.slot ?? webinar.reminder_minutes.length,
      first?.at ?? null,
      now,
      webinar.series_id,
    ]);
    await this.mails.queue(
      tx,
      'webinar_confirmation',
      rows.map((r) => ({ registrationId: r.id, key: 0, payload: { sequence: 0 } })),
      now,
    );
    return rows.length;
  }

  /** The customer's unregister link: no reminders from now on, and a CANCEL for their calendar. */
  async unregister(registrationId: string, leaveSeries: boolean): Promise<UnregisterResult> {
    return this.db.transaction(async (tx) => {
      const now = this.clock.now();
      const r = await tx.row(Q.lockRegistration, [registrationId]);
      if (!r) throw notFound('Registration', registrationId);
      let ids = r.status === 'registered' ? [r.id] : [];
      let leftSeries = false;
      if (leaveSeries && r.series_id) {
        leftSeries = (await tx.run(Q.leaveSeries, [r.subscriber_id, r.series_id])) > 0;
        const later = await tx.rows(Q.laterPartRegistrations, [r.subscriber_id, r.series_id, now]);
        ids = [...new Set([...ids, ...later.map((x) => x.id)])];
      }
      const ended = await this.end(tx, ids, 'unregistered', now);
      return { outcome: ended > 0 || leftSeries ? 'unregistered' : 'not_registered', webinarId: r.webinar_id, leftSeries };
    });
  }

  /** The webinar is cancelled: every registration ends, each with a CANCEL for the calendar. */
  async cancelAll(tx: Tx, webinarId: string, now: Date): Promise<number> {
    const rows = await tx.rows(Q.lockCurrentRegistrations, [webinarId]);
    return this.end(
      tx,
      rows.map((r) => r.id),
      'cancelled',
      now,
    );
  }

  /**
   * The webinar moved (or its calendar details changed): every registration gets SEQUENCE + 1 and
   * an updated invitation; reminders not yet sent move with the start.
   */
  async reschedule(tx: Tx, webinar: LockedWebinar, now: Date): Promise<number> {
    const rows = await tx.rows(Q.bumpSequences, [webinar.id, now]);
    await this.replanReminders(tx, webinar, now);
    await this.mails.queue(
      tx,
      'webinar_update',
      rows.map((r) => ({ registrationId: r.id, key: r.sequence, payload: { sequence: r.sequence } })),
      now,
    );
    return rows.length;
  }

  /** Moves each registration's next reminder to its slot's time for the current start (slots never go back). */
  async replanReminders(tx: Tx, webinar: LockedWebinar, now: Date): Promise<void> {
    const slots = Array.from({ length: webinar.reminder_minutes.length + 1 }, (_, from) => ({
      from,
      next: nextReminder(webinar.reminder_minutes, webinar.starts_at, from, now),
    }));
    await tx.run(Q.replanReminders, [
      webinar.id,
      slots.map((s) => s.from),
      slots.map((s) => s.next?.slot ?? webinar.reminder_minutes.length),
      slots.map((s) => s.next?.at ?? null),
      webinar.reminder_minutes.length,
    ]);
  }

  /** Marks who came; every other registrant is a no-show. Addresses without a registration are reported back. */
  async markAttendance(tx: Tx, webinarId: string, emails: string[], now: Date): Promise<{ attended: number; missed: number; notRegistered: string[] }> {
    const row = (await tx.row(Q.markAttendance, [webinarId, emails, now]))!;
    return { attended: row.attended, missed: row.missed, notRegistered: row.not_registered };
  }

  async list(webinarId: string): Promise<RegistrationResponse[]> {
    if (!(await this.db.row(Q.exists, [webinarId]))) throw notFound('Webinar', webinarId);
    return (await this.db.rows(Q.registrations, [webinarId])).map(toResponse);
  }

  /** The registration an unregister page's token names, with the reader's language and zone (null: gone). */
  async forPage(registrationId: string) {
    return (await this.db.row(Q.forPage, [registrationId])) ?? null;
  }

  /** The subscriber a personal registration link names, when they may get webinar mail (not bounced or complained). */
  async personalHolder(subscriberId: string): Promise<{ email: string; time_zone: string; first_name: string | null } | null> {
    return (await this.db.row(Q.personalHolder, [subscriberId])) ?? null;
  }

  /** The reminder job: claims due registrations with SKIP LOCKED, so every instance can run it at once. */
  async sendDueReminders(): Promise<number> {
    let queued = 0;
    for (;;) {
      const batch = await this.db.transaction(async (tx) => {
        const now = this.clock.now();
        const due = await tx.rows(Q.claimDueReminders, [now, BATCH]);
        const steps = due.map((d) => ({
          id: d.id,
          minutes: d.minutes,
          step: d.live ? reminderStep(d.minutes, d.starts_at, d.slot, now) : { send: null, next: null },
        }));
        await tx.run(Q.advanceReminders, [
          steps.map((s) => s.id),
          steps.map((s) => s.step.next?.slot ?? (s.step.send !== null ? s.step.send + 1 : s.minutes.length)),
          steps.map((s) => s.step.next?.at ?? null),
          now,
        ]);
        const mails: RegistrationMail[] = steps
          .filter((s) => s.step.send !== null)
          .map((s) => ({ registrationId: s.id, key: s.step.send!, payload: { slot: s.step.send } }));
        return { claimed: due.length, queued: await this.mails.queue(tx, 'webinar_reminder', mails, now) };
      });
      queued += batch.queued;
      if (batch.claimed < BATCH) return queued;
    }
  }

  /**
   * The public form's registration requests (webinar-registration-requests.service.ts) are
   * forgotten when no longer needed: pending ones after PENDING_REQUEST_DAYS (their link then
   * opens the invalid-link page), every one once its webinar has ended.
   */
  async pruneRequests(): Promise<number> {
    const now = this.clock.now();
    return this.db.run(Q.pruneRequests, [now, new Date(now.getTime() - PENDING_REQUEST_DAYS * 86_400_000)]);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async isFull(tx: Tx, webinar: LockedWebinar): Promise<boolean> {
    if (webinar.capacity === null) return false;
    const { count } = (await tx.row(Q.registeredCount, [webinar.id]))!;
    return count >= webinar.capacity;
  }

  /** One registration, with the webinar row locked by the caller. A former registration comes back with SEQUENCE + 1. */
  private async registerOne(
    tx: Tx,
    webinar: LockedWebinar,
    subscriberId: string,
    source: 'page' | 'api' | 'series',
    now: Date,
  ): Promise<{ outcome: PartOutcome; id?: string }> {
    const existing = await tx.row(Q.lockExistingRegistration, [webinar.id, subscriberId]);
    if (existing?.status === 'registered') return { outcome: 'already_registered', id: existing.id };
    if (await this.isFull(tx, webinar)) return { outcome: 'full' };
    const next = nextReminder(webinar.reminder_minutes, webinar.starts_at, existing?.next_reminder_slot ?? 0, now);
    const slot = next?.slot ?? webinar.reminder_minutes.length;
    const row = (
      existing
        ? await tx.row(Q.reRegister, [existing.id, slot, next?.at ?? null, now])
        : await tx.row(Q.register, [subscriberId, webinar.id, source, slot, next?.at ?? null, now])
    )!;
    await this.mails.queue(tx, 'webinar_confirmation', [{ registrationId: row.id, key: row.sequence, payload: { sequence: row.sequence } }], now);
    return { outcome: 'registered', id: row.id };
  }

  /** A pending subscriber whose only consent is this registration: no topic, so no marketing mail at all. */
  private async createPending(tx: Tx, email: string, input: RegistrationInput, now: Date, evidence: Evidence): Promise<{ id: string }> {
    const [written] = await writeSubscribers(
      tx,
      [
        {
          email,
          locale: input.locale ?? null,
          timeZone: input.timeZone ?? null,
          cadence: null,
          digestWeekday: null,
          digestHour: null,
          attributes: input.firstName ? { firstName: input.firstName } : null,
          topicIds: [],
          consent: { source: 'webinar', confirmedAt: null, ip: evidence.ip, userAgent: evidence.userAgent, textVersion: null },
        },
      ],
      { locale: this.config.defaultLocale, timeZone: this.config.defaultTimeZone, now },
      false,
    );
    if (written) return { id: written.id };
    // Created by a concurrent request a moment ago.
    return (await tx.row(Q.subscriberByEmail, [email]))!;
  }

  /** Ends registrations (set-based): SEQUENCE + 1, no more reminders, and a CANCEL for each calendar. */
  private async end(tx: Tx, ids: string[], status: 'unregistered' | 'cancelled', now: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await tx.rows(Q.endRegistrations, [ids, status, now]);
    await this.mails.suppressReminders(
      tx,
      rows.map((r) => r.id),
      now,
    );
    await this.mails.queue(
      tx,
      'webinar_cancellation',
      rows.map((r) => ({ registrationId: r.id, key: r.sequence, payload: { sequence: r.sequence, unregistered: status === 'unregistered' } })),
      now,
    );
    return rows.length;
  }

  private async response(tx: Tx, id: string): Promise<RegistrationResponse> {
    return toResponse((await tx.row(Q.registration, [id]))!);
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toResponse(r: RegistrationRow): RegistrationResponse {
  return {
    id: r.id,
    webinarId: r.webinar_id,
    subscriberId: r.subscriber_id,
    email: r.email,
    status: r.status,
    source: r.source,
    sequence: r.sequence,
    attended: r.attended,
    nextReminderAt: iso(r.next_reminder_at),
    registeredAt: r.registered_at.toISOString(),
    unregisteredAt: iso(r.unregistered_at),
  };
}
