// Webinars: create, reschedule, cancel, attendance. The marketing side (invitation, follow-ups) is
// made of campaigns, so the cadence cap, digest folding, expiry, stats and the timeline apply as
// to any campaign; the service side (confirmation, update, cancellation, reminders) belongs to
// the registrations.
import { Inject, Injectable } from '@nestjs/common';
import { AudienceFilter, validateAudience } from '../campaigns/audience-filter';
import { CampaignsService } from '../campaigns/campaigns.service';
import { CreateCampaignDto } from '../campaigns/dto/campaign.dto';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isUniqueViolation } from '../database/pg-errors';
import { Db, Sql, Tx } from '../database/sql';
import { TopicsService } from '../topics/topics.service';
import { AttendanceDto, CreateWebinarDto, RESERVED_SLUGS, UpdateWebinarDto, WebinarInvitation, WebinarResponse } from './dto/webinar.dto';
import { CampaignText, followUpText, invitationText } from './webinar-content';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { normalizeReminderMinutes } from './webinar-reminders.policy';
import { WebinarRow, webinarText } from './webinar.entity';
import { WebinarQueries as Q } from './webinars.queries';

/** A "you missed it" that could only reach someone weeks later is no longer relevant. */
export const FOLLOW_UP_RELEVANT_DAYS = 30;
const DAY = 86_400_000;

type CampaignColumn = 'invitation_campaign_id' | 'attended_campaign_id' | 'missed_campaign_id';
const SET_CAMPAIGN = {
  invitation_campaign_id: Q.setInvitationCampaign,
  attended_campaign_id: Q.setAttendedCampaign,
  missed_campaign_id: Q.setMissedCampaign,
} as const;

export interface AttendanceResult {
  attended: number;
  missed: number;
  notRegistered: string[];
  attendedCampaignId: string | null;
  missedCampaignId: string | null;
}

@Injectable()
export class WebinarsService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly campaigns: CampaignsService,
    private readonly registrations: WebinarRegistrationsService,
    private readonly topics: TopicsService,
  ) {}

  registrationUrl(slug: string): string {
    return `${this.config.publicUrl}/webinars/${slug}/register`;
  }

  async create(input: CreateWebinarDto): Promise<WebinarResponse> {
    const now = this.clock.now();
    const startsAt = new Date(input.startsAt);
    const endsAt = new Date(input.endsAt);
    const errors: FieldError[] = [];
    if (startsAt <= now) errors.push({ field: 'startsAt', message: 'must lie in the future' });
    if (endsAt <= startsAt) errors.push({ field: 'endsAt', message: 'must lie after startsAt' });
    if (!input.title.de && !input.title.en) errors.push({ field: 'title', message: 'needs at least one language (de or en)' });
    if (input.series && input.part === undefined) errors.push({ field: 'part', message: 'is required with series' });
    if (!input.series && input.part !== undefined) errors.push({ field: 'series', message: 'is required with part' });
    if (input.invitation) errors.push(...this.checkInvitation(input.invitation, startsAt, now));
    if (errors.length) throw validationException(errors);
    const topicId = await this.topicId(input.topic);

    const id = await this.db
      .transaction(async (tx) => {
        const seriesId = input.series ? await this.upsertSeries(tx, input.series.key, input.series.title, now) : null;
        if (seriesId) {
          const taken = await tx.row(Q.partTaken, [seriesId, input.part!]);
          if (taken)
            throw new DomainException(ErrorCode.Conflict, `Part ${input.part} of series ${input.series!.key} exists already`, [
              { field: 'part', message: 'is taken in this series' },
            ]);
          const { count } = (await tx.row(Q.seriesMembers, [seriesId]))!;
          if (input.capacity !== undefined && count > input.capacity) {
            throw validationException([{ field: 'capacity', message: `is below the ${count} people registered for the whole series` }]);
          }
        }
        const slug = input.slug ?? (await this.freeSlug(tx, input.title.en ?? input.title.de!));
        const row = (await tx.row(Q.create, [
          slug,
          topicId,
          seriesId,
          seriesId ? input.part : null,
          input.title.de ?? null,
          input.title.en ?? null,
          input.description?.de ?? null,
          input.description?.en ?? null,
          startsAt,
          endsAt,
          input.timeZone ?? this.config.defaultTimeZone,
          input.joinUrl,
          input.capacity ?? null,
          normalizeReminderMinutes(input.reminderMinutes ?? this.config.webinarReminderMinutes),
          now,
        ]))!;
        // Publishing a part registers everyone who signed up for the whole series.
        await this.registrations.registerSeriesMembers(tx, row, now);
        // In the same transaction: a webinar whose invitation cannot be made is not made either.
        if (input.invitation) await this.invite(tx, row.id, input.invitation);
        return row.id;
      })
      .catch((error) => {
        if (isUniqueViolation(error))
          throw new DomainException(ErrorCode.Conflict, `A webinar with slug "${input.slug}" exists already`, [{ field: 'slug', message: 'is taken' }]);
        throw error;
      });
    return this.get(id);
  }

  async list(): Promise<WebinarResponse[]> {
    const rows = await this.db.rows(Q.list, []);
    return rows.map((w) => this.toResponse(w));
  }

  async get(id: string): Promise<WebinarResponse> {
    return this.toResponse(await this.row(id));
  }

  /** The webinar row (for the public pages), or null. */
  async byId(id: string): Promise<WebinarRow | null> {
    return (await this.db.row(Q.byId, [id])) ?? null;
  }

  async bySlug(slug: string): Promise<WebinarRow | null> {
    return (await this.db.row(Q.bySlug, [slug])) ?? null;
  }

  /**
   * Changes a webinar. A new start, end, title or join URL is a change to every registrant's
   * calendar event: SEQUENCE + 1 and an updated invitation each, and reminders move with the start.
   */
  async update(id: string, input: UpdateWebinarDto): Promise<WebinarResponse> {
    const now = this.clock.now();
    const current = await this.row(id);
    if (current.status === 'cancelled') throw new DomainException(ErrorCode.Conflict, 'The webinar is cancelled; it cannot be changed.');
    const startsAt = input.startsAt ? new Date(input.startsAt) : current.starts_at;
    const endsAt = input.endsAt ? new Date(input.endsAt) : current.ends_at;
    const title = { de: input.title?.de ?? current.title_de, en: input.title?.en ?? current.title_en };
    const moved = startsAt.getTime() !== current.starts_at.getTime() || endsAt.getTime() !== current.ends_at.getTime();
    const calendarChanged =
      moved || (input.joinUrl !== undefined && input.joinUrl !== current.join_url) || title.de !== current.title_de || title.en !== current.title_en;
    const minutes = input.reminderMinutes ? normalizeReminderMinutes(input.reminderMinutes) : current.reminder_minutes;
    const remindersChanged = minutes.join() !== current.reminder_minutes.join();

    if (calendarChanged && now >= current.starts_at) {
      throw new DomainException(ErrorCode.Conflict, 'The webinar has started; its time, title and join URL can no longer change.');
    }
    const errors: FieldError[] = [];
    if (input.startsAt && moved && startsAt <= now) errors.push({ field: 'startsAt', message: 'must lie in the future' });
    if (endsAt <= startsAt) errors.push({ field: 'endsAt', message: 'must lie after startsAt' });
    if (input.capacity !== undefined && input.capacity < current.registered) {
      errors.push({ field: 'capacity', message: `is below the ${current.registered} people registered already` });
    }
    if (input.invitation) errors.push(...this.checkInvitation(input.invitation, startsAt, now));
    if (errors.length) throw validationException(errors);
    // Refused before anything is written, not after the webinar has changed (invite() checks again).
    if (input.invitation && current.invitation_campaign_id) await this.invitationMovable(current.invitation_campaign_id);

    await this.db.transaction(async (tx) => {
      const locked = await tx.row(Q.update, [
        id,
        title.de,
        title.en,
        input.description?.de ?? null,
        input.description?.en ?? null,
        startsAt,
        endsAt,
        input.timeZone ?? null,
        input.joinUrl ?? null,
        input.capacity ?? null,
        minutes,
        input.recordingUrl ?? null,
        now,
      ]);
      if (!locked) throw new DomainException(ErrorCode.Conflict, 'The webinar was cancelled meanwhile; it cannot be changed.');
      if (calendarChanged) await this.registrations.reschedule(tx, locked, now);
      else if (remindersChanged) await this.registrations.replanReminders(tx, locked, now);

      const updated = await this.row(id, tx);
      const textChanged = calendarChanged || input.description !== undefined || input.timeZone !== undefined;
      if (updated.invitation_campaign_id && textChanged) {
        // Invitations still waiting (in a digest, in the queue) show the new time and expire at the new start.
        await this.campaigns.revise(updated.invitation_campaign_id, { ...this.invitationCampaign(updated), expiresAt: updated.starts_at }, tx);
      }
      if (input.invitation) await this.invite(tx, id, input.invitation);
    });
    return this.get(id);
  }

  /** Cancels the webinar: the invitation stops, each registrant's calendar gets a CANCEL, no reminder goes. */
  async cancel(id: string): Promise<WebinarResponse & { cancelledRegistrations: number }> {
    const now = this.clock.now();
    const current = await this.row(id);
    if (current.status === 'cancelled') return { ...this.toResponse(current), cancelledRegistrations: 0 };
    if (now >= current.ends_at) throw new DomainException(ErrorCode.Conflict, 'The webinar is over; it cannot be cancelled.');
    const cancelled = await this.db.transaction(async (tx) => {
      // The invitation stops in the same transaction as the webinar.
      if (current.invitation_campaign_id) await this.campaigns.cancel(current.invitation_campaign_id, tx);
      const locked = await tx.row(Q.cancel, [id, now]);
      return locked ? this.registrations.cancelAll(tx, id, now) : 0;
    });
    return { ...(await this.get(id)), cancelledRegistrations: cancelled };
  }

  /**
   * Imports who attended, then creates the follow-ups: the recording to attendees, "you missed it"
   * to no-shows. Both are campaigns whose audience is exactly those registrants, so they fall under
   * the cadence cap and may be folded into a digest like any marketing mail.
   */
  async attendance(id: string, input: AttendanceDto): Promise<AttendanceResult> {
    const now = this.clock.now();
    const current = await this.row(id);
    if (current.status === 'cancelled') throw new DomainException(ErrorCode.Conflict, 'The webinar was cancelled; there is no attendance.');
    if (now < current.starts_at) throw new DomainException(ErrorCode.Conflict, 'Attendance can be imported once the webinar has started.');
    const followUps = input.followUps ?? true;
    const recordingUrl = input.recordingUrl ?? current.recording_url;
    const sendAt = input.followUpAt ? new Date(input.followUpAt) : now;
    if (followUps && !recordingUrl)
      throw validationException([{ field: 'recordingUrl', message: 'is required for the follow-ups (or set followUps to false)' }]);

    // Attendance and the follow-ups it calls for commit together.
    return this.db.transaction(async (tx) => {
      const marks = await this.registrations.markAttendance(tx, id, input.attended, now);
      await tx.run(Q.attendanceImported, [id, recordingUrl, now]);
      const result: AttendanceResult = { ...marks, attendedCampaignId: current.attended_campaign_id, missedCampaignId: current.missed_campaign_id };
      if (!followUps) return result;
      for (const kind of ['attended', 'missed'] as const) {
        if ((kind === 'attended' ? marks.attended : marks.missed) === 0) continue;
        const campaignId = await this.ensureCampaign(tx, id, `${kind}_campaign_id`, sendAt, (w) => {
          const text = followUpText(kind, webinarText(w), w.time_zone, w.recording_url!);
          return {
            ...this.campaignBase(w, `Webinar ${kind === 'attended' ? 'recording' : 'missed'}: ${w.slug}`, text),
            audience: { webinar: w.id, attended: kind === 'attended' },
            expiresAt: new Date(sendAt.getTime() + FOLLOW_UP_RELEVANT_DAYS * DAY).toISOString(),
            digestUrl: w.recording_url!,
          };
        });
        if (kind === 'attended') result.attendedCampaignId = campaignId;
        else result.missedCampaignId = campaignId;
      }
      return result;
    });
  }

  // ---- invitation ----------------------------------------------------------------------------

  /** Creates the invitation campaign, or moves one that was not dispatched yet, in the caller's transaction. */
  private async invite(tx: Tx, id: string, invitation: WebinarInvitation): Promise<void> {
    const sendAt = invitation.sendAt ? new Date(invitation.sendAt) : this.clock.now();
    const existing = (await this.row(id, tx)).invitation_campaign_id;
    if (existing) {
      await this.invitationMovable(existing, tx);
      await this.campaigns.update(
        existing,
        {
          sendAt: sendAt.toISOString(),
          ...(invitation.priority !== undefined ? { priority: invitation.priority } : {}),
          ...(invitation.audience !== undefined ? { audience: invitation.audience } : {}),
        },
        tx,
      );
      await this.campaigns.schedule(existing, sendAt.toISOString(), tx);
      return;
    }
    await this.ensureCampaign(tx, id, 'invitation_campaign_id', sendAt, (w) => ({
      ...this.campaignBase(w, `Webinar invitation: ${w.slug}`, this.invitationCampaign(w)),
      priority: invitation.priority ?? 0,
      ...(invitation.audience ? { audience: invitation.audience } : {}),
      // An invitation that cannot reach the customer before the start is expired, not sent late.
      expiresAt: w.starts_at.toISOString(),
      digestUrl: this.registrationUrl(w.slug),
    }));
  }

  private async invitationMovable(campaignId: string, tx?: Tx): Promise<void> {
    const campaign = await this.campaigns.get(campaignId, tx);
    if (campaign.status !== 'draft' && campaign.status !== 'scheduled') {
      throw new DomainException(ErrorCode.Conflict, `The invitation is ${campaign.status} already; it cannot be moved.`, [
        { field: 'invitation', message: 'went out already' },
      ]);
    }
  }

  private invitationCampaign(w: WebinarRow): CampaignText {
    return invitationText(webinarText(w), w.time_zone, this.registrationUrl(w.slug));
  }

  private campaignBase(w: WebinarRow, name: string, text: CampaignText): CreateCampaignDto {
    return {
      name,
      topic: w.topic_key,
      sender: 'webinars',
      subject: text.subject,
      body: text.body,
      digestSummary: text.digestSummary,
      // A webinar held in one language is offered to everyone on the topic in that language.
      localeFallback: true,
    };
  }

  /**
   * The campaign in this column, created once and scheduled, in the caller's transaction: the
   * webinar row stays locked until it commits, so two requests never both create one, and a
   * failure anywhere leaves neither a campaign nor a webinar pointing at one.
   */
  private async ensureCampaign(tx: Tx, id: string, column: CampaignColumn, sendAt: Date, build: (w: WebinarRow) => CreateCampaignDto): Promise<string> {
    const w = (await tx.row(Q.lockById, [id]))!;
    let campaignId = w[column];
    if (!campaignId) {
      campaignId = (await this.campaigns.create(build(w), tx)).id;
      await tx.run(SET_CAMPAIGN[column], [id, campaignId, this.clock.now()]);
    }
    if ((await this.campaigns.get(campaignId, tx)).status === 'draft') await this.campaigns.schedule(campaignId, sendAt.toISOString(), tx);
    return campaignId;
  }

  private checkInvitation(invitation: WebinarInvitation, startsAt: Date, now: Date): FieldError[] {
    const errors: FieldError[] = [];
    const sendAt = invitation.sendAt ? new Date(invitation.sendAt) : now;
    if (sendAt >= startsAt) errors.push({ field: 'invitation.sendAt', message: 'must lie before startsAt' });
    if (invitation.audience !== undefined) errors.push(...validateAudience(invitation.audience as unknown as AudienceFilter, 'invitation.audience'));
    return errors;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async upsertSeries(tx: Tx, key: string, title: { de?: string; en?: string } | undefined, now: Date): Promise<string> {
    const existing = await tx.row(Q.lockSeries, [key]);
    if (existing) {
      if (title?.de || title?.en) await tx.run(Q.retitleSeries, [existing.id, title.de ?? null, title.en ?? null, now]);
      return existing.id;
    }
    if (!title?.de && !title?.en) throw validationException([{ field: 'series.title', message: `is required: series "${key}" is new` }]);
    return (await tx.row(Q.createSeries, [key, title.de ?? null, title.en ?? null, now]))!.id;
  }

  /** A readable slug from the title; -2, -3, … when taken. */
  private async freeSlug(tx: Tx, title: string): Promise<string> {
    const base =
      title
        .toLowerCase()
        .replace(/ä/g, 'ae')
        .replace(/ö/g, 'oe')
        .replace(/ü/g, 'ue')
        .replace(/ß/g, 'ss')
        .normalize('NFKD')
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 70)
        .replace(/-+$/, '') || 'webinar';
    const taken = new Set([...RESERVED_SLUGS, ...(await tx.rows(Q.slugsLike, [base])).map((r) => r.slug)]);
    for (let n = 1; ; n++) {
      const slug = n === 1 ? base : `${base}-${n}`;
      if (!taken.has(slug)) return slug;
    }
  }

  private async topicId(key: string): Promise<string> {
    const topic = await this.topics.ref(key);
    if (!topic) throw validationException([{ field: 'topic', message: `"${key}" is not a topic` }]);
    if (topic.archived) throw validationException([{ field: 'topic', message: `"${key}" is archived` }]);
    return topic.id;
  }

  private async row(id: string, sql: Sql = this.db): Promise<WebinarRow> {
    const row = await sql.row(Q.byId, [id]);
    if (!row) throw notFound('Webinar', id);
    return row;
  }

  private toResponse(w: WebinarRow): WebinarResponse {
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      id: w.id,
      slug: w.slug,
      topic: w.topic_key,
      status: w.status,
      title: { de: w.title_de ?? undefined, en: w.title_en ?? undefined },
      description: { de: w.description_de ?? undefined, en: w.description_en ?? undefined },
      startsAt: w.starts_at.toISOString(),
      endsAt: w.ends_at.toISOString(),
      timeZone: w.time_zone,
      joinUrl: w.join_url,
      capacity: w.capacity,
      registered: w.registered,
      reminderMinutes: w.reminder_minutes,
      series: w.series_key ? { key: w.series_key, part: w.series_part! } : null,
      registrationUrl: this.registrationUrl(w.slug),
      recordingUrl: w.recording_url,
      invitationCampaignId: w.invitation_campaign_id,
      attendedCampaignId: w.attended_campaign_id,
      missedCampaignId: w.missed_campaign_id,
      createdAt: w.created_at.toISOString(),
      updatedAt: w.updated_at.toISOString(),
      cancelledAt: iso(w.cancelled_at),
    };
  }
}
