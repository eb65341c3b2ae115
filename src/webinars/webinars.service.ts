// Webinars: create, reschedule, cancel, attendance. The marketing side (invitation, follow-ups) is
// made of campaigns, so the cadence cap, digest folding, expiry, stats and the timeline apply as
// to any campaign; the service side (confirmation, update, cancellation, reminders) belongs to
// the registrations.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AudienceFilter, validateAudience } from '../campaigns/audience-filter';
import { CampaignsService } from '../campaigns/campaigns.service';
import { CreateCampaignDto } from '../campaigns/dto/campaign.dto';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isUniqueViolation } from '../database/pg-errors';
import { AttendanceDto, CreateWebinarDto, RESERVED_SLUGS, UpdateWebinarDto, WebinarInvitation, WebinarResponse } from './dto/webinar.dto';
import { CampaignText, followUpText, invitationText } from './webinar-content';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { normalizeReminderMinutes } from './webinar-reminders.policy';
import { selectWebinars, WebinarRow, webinarText } from './webinar.entity';

/** A "you missed it" that could only reach someone weeks later is no longer relevant. */
export const FOLLOW_UP_RELEVANT_DAYS = 30;
const DAY = 86_400_000;

type CampaignColumn = 'invitation_campaign_id' | 'attended_campaign_id' | 'missed_campaign_id';

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
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly campaigns: CampaignsService,
    private readonly registrations: WebinarRegistrationsService,
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
          const [taken] = await tx.query(`SELECT 1 FROM webinars WHERE series_id = $1 AND series_part = $2`, [seriesId, input.part]);
          if (taken) throw new DomainException(ErrorCode.Conflict, `Part ${input.part} of series ${input.series!.key} exists already`, [{ field: 'part', message: 'is taken in this series' }]);
          const [{ count }] = await tx.query(`SELECT count(*)::int AS count FROM webinar_series_registrations WHERE series_id = $1`, [seriesId]);
          if (input.capacity !== undefined && count > input.capacity) {
            throw validationException([{ field: 'capacity', message: `is below the ${count} people registered for the whole series` }]);
          }
        }
        const slug = input.slug ?? (await this.freeSlug(tx, input.title.en ?? input.title.de!));
        const [row] = await tx.query(
          `INSERT INTO webinars (slug, topic_id, series_id, series_part, title_de, title_en, description_de, description_en, starts_at, ends_at,
                                 time_zone, join_url, capacity, reminder_minutes, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'scheduled', $15, $15)
           RETURNING id, series_id, series_part, status, starts_at, capacity, reminder_minutes`,
          [
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
          ],
        );
        // Publishing a part registers everyone who signed up for the whole series.
        await this.registrations.registerSeriesMembers(tx, row, now);
        // In the same transaction: a webinar whose invitation cannot be made is not made either.
        if (input.invitation) await this.invite(tx, row.id, input.invitation);
        return row.id as string;
      })
      .catch((error) => {
        if (isUniqueViolation(error)) throw new DomainException(ErrorCode.Conflict, `A webinar with slug "${input.slug}" exists already`, [{ field: 'slug', message: 'is taken' }]);
        throw error;
      });
    return this.get(id);
  }

  async list(): Promise<WebinarResponse[]> {
    const rows = await selectWebinars(this.db.manager, 'true', [], 'ORDER BY w.starts_at DESC LIMIT 500');
    return rows.map((w) => this.toResponse(w));
  }

  async get(id: string): Promise<WebinarResponse> {
    return this.toResponse(await this.row(id));
  }

  async bySlug(slug: string): Promise<WebinarRow | null> {
    const [row] = await selectWebinars(this.db.manager, 'w.slug = $1', [slug]);
    return row ?? null;
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
      const [locked] = await tx.query(
        `WITH changed AS (
           UPDATE webinars SET title_de = $2, title_en = $3, description_de = coalesce($4, description_de), description_en = coalesce($5, description_en),
             starts_at = $6, ends_at = $7, time_zone = coalesce($8, time_zone), join_url = coalesce($9, join_url), capacity = coalesce($10, capacity),
             reminder_minutes = $11, recording_url = coalesce($12, recording_url), updated_at = $13
           WHERE id = $1 AND status = 'scheduled'
           RETURNING id, series_id, series_part, status, starts_at, capacity, reminder_minutes)
         SELECT * FROM changed`,
        [
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
        ],
      );
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
      const [locked] = await tx.query(
        `WITH cancelled AS (UPDATE webinars SET status = 'cancelled', cancelled_at = $2, updated_at = $2 WHERE id = $1 AND status = 'scheduled' RETURNING id)
         SELECT id FROM cancelled`,
        [id, now],
      );
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
    if (followUps && !recordingUrl) throw validationException([{ field: 'recordingUrl', message: 'is required for the follow-ups (or set followUps to false)' }]);

    // Attendance and the follow-ups it calls for commit together.
    return this.db.transaction(async (tx) => {
      const marks = await this.registrations.markAttendance(tx, id, input.attended, now);
      await tx.query(`UPDATE webinars SET recording_url = coalesce($2, recording_url), attendance_imported_at = $3, updated_at = $3 WHERE id = $1`, [
        id,
        recordingUrl,
        now,
      ]);
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
  private async invite(tx: EntityManager, id: string, invitation: WebinarInvitation): Promise<void> {
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

  private async invitationMovable(campaignId: string, tx?: EntityManager): Promise<void> {
    const campaign = await this.campaigns.get(campaignId, tx);
    if (campaign.status !== 'draft' && campaign.status !== 'scheduled') {
      throw new DomainException(ErrorCode.Conflict, `The invitation is ${campaign.status} already; it cannot be moved.`, [{ field: 'invitation', message: 'went out already' }]);
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
  private async ensureCampaign(
    tx: EntityManager,
    id: string,
    column: CampaignColumn,
    sendAt: Date,
    build: (w: WebinarRow) => CreateCampaignDto,
  ): Promise<string> {
    const [w] = await selectWebinars(tx, 'w.id = $1', [id], 'FOR UPDATE OF w');
    let campaignId = w[column];
    if (!campaignId) {
      campaignId = (await this.campaigns.create(build(w), tx)).id;
      await tx.query(`UPDATE webinars SET ${column} = $2, updated_at = $3 WHERE id = $1`, [id, campaignId, this.clock.now()]);
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

  private async upsertSeries(tx: EntityManager, key: string, title: { de?: string; en?: string } | undefined, now: Date): Promise<string> {
    const [existing] = await tx.query(`SELECT id FROM webinar_series WHERE key = $1 FOR UPDATE`, [key]);
    if (existing) {
      if (title?.de || title?.en) {
        await tx.query(`UPDATE webinar_series SET title_de = coalesce($2, title_de), title_en = coalesce($3, title_en), updated_at = $4 WHERE id = $1`, [
          existing.id,
          title.de ?? null,
          title.en ?? null,
          now,
        ]);
      }
      return existing.id;
    }
    if (!title?.de && !title?.en) throw validationException([{ field: 'series.title', message: `is required: series "${key}" is new` }]);
    const [created] = await tx.query(
      `INSERT INTO webinar_series (key, title_de, title_en, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at RETURNING id`,
      [key, title.de ?? null, title.en ?? null, now],
    );
    return created.id;
  }

  /** A readable slug from the title; -2, -3, … when taken. */
  private async freeSlug(tx: EntityManager, title: string): Promise<string> {
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
    const taken = new Set([
      ...RESERVED_SLUGS,
      ...(await tx.query(`SELECT slug FROM webinars WHERE slug = $1 OR slug LIKE $1 || '-%'`, [base])).map((r: { slug: string }) => r.slug),
    ]);
    for (let n = 1; ; n++) {
      const slug = n === 1 ? base : `${base}-${n}`;
      if (!taken.has(slug)) return slug;
    }
  }

  private async topicId(key: string): Promise<string> {
    const [topic] = await this.db.query(`SELECT id, archived FROM topics WHERE key = $1`, [key]);
    if (!topic) throw validationException([{ field: 'topic', message: `"${key}" is not a topic` }]);
    if (topic.archived) throw validationException([{ field: 'topic', message: `"${key}" is archived` }]);
    return topic.id;
  }

  private async row(id: string, manager: EntityManager = this.db.manager): Promise<WebinarRow> {
    const [row] = await selectWebinars(manager, 'w.id = $1', [id]);
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
