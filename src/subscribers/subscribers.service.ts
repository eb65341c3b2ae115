import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { readReason } from '../reasons/reason-codes';
import {
  CreateSubscriberDto,
  ListSubscribersQuery,
  SubscriberPage,
  SubscriberResponse,
  TopicSubscriptionResponse,
  UpdateSubscriberDto,
} from './dto/subscriber.dto';
import { toSubscriberRow, TopicRef } from './subscriber-input.policy';
import { emailHash, normalizeEmail } from '../addresses/email';
import { SubscriberRow, writeSubscribers, writeTopicConsent } from './subscriber-rows';
import { ConfirmationService } from './confirmation.service';
import { Subscriber } from './subscriber.entity';

interface SubscriptionRow {
  subscriber_id: string;
  topic: string;
  status: string;
  consented_at: Date;
  consent_source: string;
  consent_ip: string | null;
  consent_user_agent: string | null;
  consent_text_version: string | null;
  confirmed_at: Date | null;
  revoked_at: Date | null;
  revocation_source: string | null;
  consent_api_key_id: string | null;
  consent_api_key_name: string | null;
  revoked_api_key_id: string | null;
  revoked_api_key_name: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const keyRef = (id: string | null, name: string | null) => (id ? { id, name } : null);

@Injectable()
export class SubscribersService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly confirmation: ConfirmationService,
  ) {}

  async topicRefs(manager: EntityManager = this.db.manager): Promise<Map<string, TopicRef>> {
    const rows: { key: string; id: string; archived: boolean }[] = await manager.query(`SELECT key, id, archived FROM topics`);
    return new Map(rows.map((r) => [r.key, { id: r.id, archived: r.archived }]));
  }

  /**
   * Erased people may come back only with consent newer than their erasure. Returns, per e-mail
   * that is blocked, the error to report.
   */
  async suppressedEmails(manager: EntityManager, rows: SubscriberRow[]): Promise<Map<string, FieldError>> {
    const blocked = new Map<string, FieldError>();
    if (rows.length === 0) return blocked;
    const found: { email_hash: Buffer; created_at: Date }[] = await manager.query(
      `SELECT email_hash, created_at FROM suppressions WHERE email_hash = ANY($1::bytea[])`,
      [rows.map((r) => emailHash(r.email))],
    );
    const erasedAt = new Map(found.map((f) => [f.email_hash.toString('hex'), f.created_at]));
    for (const row of rows) {
      const at = erasedAt.get(emailHash(row.email).toString('hex'));
      if (at && !(row.consent.confirmedAt && row.consent.confirmedAt > at)) {
        blocked.set(row.email, {
          field: 'email',
          message: `belongs to a person erased on ${at.toISOString().slice(0, 10)}; re-adding needs consent confirmed after that date`,
        });
      }
    }
    return blocked;
  }

  /** `apiKeyId`: the key that asks, kept with the consent records it writes. */
  async create(input: CreateSubscriberDto, apiKeyId: string | null = null): Promise<SubscriberResponse> {
    const now = this.clock.now();
    const id = await this.db.transaction(async (tx) => {
      const result = toSubscriberRow(input, await this.topicRefs(tx), now, 'api');
      if (!result.ok) throw validationException(result.errors);
      const blocked = (await this.suppressedEmails(tx, [result.row])).get(result.row.email);
      if (blocked) throw new DomainException(ErrorCode.Unprocessable, `email ${blocked.message}`, [blocked]);
      const [written] = await writeSubscribers(tx, [result.row], this.writeDefaults(now), false);
      if (!written) {
        throw new DomainException(ErrorCode.Conflict, `A subscriber with e-mail ${result.row.email} exists already`, [
          { field: 'email', message: 'is taken' },
        ]);
      }
      await writeTopicConsent(tx, [result.row], new Map([[written.email, written.id]]), now, apiKeyId);
      await this.confirmation.requestConfirmation(tx, [written.id]);
      return written.id;
    });
    return this.get(id);
  }

  /** Double opt-in mails for whichever of these subscribers are pending. */
  requestConfirmation(tx: EntityManager, subscriberIds: string[]): Promise<number> {
    return this.confirmation.requestConfirmation(tx, subscriberIds);
  }

  writeDefaults(now: Date) {
    return { locale: this.config.defaultLocale, timeZone: this.config.defaultTimeZone, now };
  }

  async get(id: string): Promise<SubscriberResponse> {
    const subscriber = await this.db.getRepository(Subscriber).findOneBy({ id });
    if (!subscriber) throw notFound('Subscriber', id);
    const [response] = await this.toResponses([subscriber]);
    return response;
  }

  async list(query: ListSubscribersQuery): Promise<SubscriberPage> {
    const limit = query.limit ?? 50;
    const qb = this.db.getRepository(Subscriber).createQueryBuilder('s').orderBy('s.id', 'ASC').limit(limit + 1);
    if (query.status) qb.andWhere('s.status = :status', { status: query.status });
    if (query.locale) qb.andWhere('s.locale = :locale', { locale: query.locale });
    if (query.cadence) qb.andWhere('s.cadence = :cadence', { cadence: query.cadence });
    if (query.email) qb.andWhere('s.email = :email', { email: normalizeEmail(query.email) });
    if (query.after) qb.andWhere('s.id > :after', { after: query.after });
    if (query.topic) {
      qb.andWhere(
        `EXISTS (SELECT 1 FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
                 WHERE ts.subscriber_id = s.id AND t.key = :topic AND ts.status = 'confirmed')`,
        { topic: query.topic },
      );
    }
    const found = await qb.getMany();
    const page = found.slice(0, limit);
    return {
      items: await this.toResponses(page),
      nextCursor: found.length > limit ? page[page.length - 1].id : null,
    };
  }

  async update(id: string, input: UpdateSubscriberDto, apiKeyId: string | null = null): Promise<SubscriberResponse> {
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      const [current] = await tx.query(`SELECT status, confirmed_at FROM subscribers WHERE id = $1 FOR UPDATE`, [id]);
      if (!current) throw notFound('Subscriber', id);
      if (input.status === 'active' && !current.confirmed_at) {
        throw new DomainException(ErrorCode.Unprocessable, 'status: a subscriber becomes active only by confirming (double opt-in)', [
          { field: 'status', message: 'cannot be active before the subscriber confirmed' },
        ]);
      }
      await tx.query(
        `UPDATE subscribers SET
           locale = coalesce($2, locale), time_zone = coalesce($3, time_zone), cadence = coalesce($4, cadence),
           digest_weekday = coalesce($5, digest_weekday), digest_hour = coalesce($6, digest_hour),
           attributes = coalesce($7::jsonb, attributes),
           status = coalesce($8, status),
           status_changed_at = CASE WHEN $8::text IS NOT NULL AND $8::text <> status THEN $9 ELSE status_changed_at END,
           paused_until = CASE WHEN $8::text IS NULL THEN paused_until ELSE NULL END,
           updated_at = $9
         WHERE id = $1`,
        [
          id,
          input.locale ?? null,
          input.timeZone ?? null,
          input.cadence ?? null,
          input.digestWeekday ?? null,
          input.digestHour ?? null,
          input.attributes ? JSON.stringify(input.attributes) : null,
          input.status ?? null,
          now,
        ],
      );
      if (input.topics) await this.replaceTopics(tx, id, input, now, apiKeyId);
    });
    return this.get(id);
  }

  private async replaceTopics(tx: EntityManager, id: string, input: UpdateSubscriberDto, now: Date, apiKeyId: string | null): Promise<void> {
    const [{ email }] = await tx.query(`SELECT email FROM subscribers WHERE id = $1`, [id]);
    const result = toSubscriberRow({ email, topics: input.topics, consent: input.consent }, await this.topicRefs(tx), now, 'api');
    if (!result.ok) throw validationException(result.errors);
    await tx.query(
      `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $3, revocation_source = 'api', revoked_api_key_id = $4
       WHERE subscriber_id = $1 AND status <> 'revoked' AND NOT (topic_id = ANY($2::uuid[]))`,
      [id, result.row.topicIds, now, apiKeyId],
    );
    await writeTopicConsent(tx, [result.row], new Map([[email, id]]), now, apiKeyId);
  }

  /** GDPR erasure: personal data goes; a hash of the address stays on the suppression list. */
  async erase(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx.query(`WITH gone AS (DELETE FROM subscribers WHERE id = $1 RETURNING email) SELECT email FROM gone`, [id]);
      if (!row) throw notFound('Subscriber', id);
      // What the public webinar form recorded for the address (asked-for registrations) goes too.
      await tx.query(`DELETE FROM webinar_registration_requests WHERE email = $1`, [row.email]);
      await tx.query(
        `INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, 'erased', $2)
         ON CONFLICT (email_hash) DO UPDATE SET created_at = EXCLUDED.created_at`,
        [emailHash(row.email), this.clock.now()],
      );
    });
  }

  /** GDPR export: everything stored about the person. */
  async export(id: string): Promise<Record<string, unknown>> {
    const subscriber = await this.get(id);
    const deliveries = await this.db.query(
      `SELECT d.id, d.created_at, d.sent_at, d.class, d.kind, t.key AS topic, d.ref_id, d.status, d.reason, d.message_id
       FROM deliveries d LEFT JOIN topics t ON t.id = d.topic_id WHERE d.subscriber_id = $1 ORDER BY d.id`,
      [id],
    );
    const webinarRegistrations = await this.db.query(
      `SELECT r.id, w.slug AS webinar, r.status, r.source, r.registered_at, r.unregistered_at, r.attended
       FROM webinar_registrations r JOIN webinars w ON w.id = r.webinar_id WHERE r.subscriber_id = $1 ORDER BY r.registered_at`,
      [id],
    );
    const webinarRegistrationRequests = await this.db.query(
      `SELECT w.slug AS webinar, q.status, q.locale, q.time_zone, q.first_name, q.series, host(q.ip) AS ip, q.user_agent, q.mails,
              q.last_mail_at, q.confirmed_at, q.created_at
       FROM webinar_registration_requests q JOIN webinars w ON w.id = q.webinar_id
       WHERE q.email = (SELECT email FROM subscribers WHERE id = $1) ORDER BY q.created_at`,
      [id],
    );
    const [consentProof] = await this.db.query(
      `SELECT confirmed_at, host(confirmation_ip) AS confirmation_ip, confirmation_user_agent FROM subscribers WHERE id = $1`,
      [id],
    );
    // What the person told us: ratings and comments, topic suggestions, answers to "drop this topic?".
    const feedback = await this.db.query(
      `SELECT f.item_type, f.item_id, t.key AS topic, f.rating, f.comment, f.created_at, f.updated_at
       FROM feedback f JOIN topics t ON t.id = f.topic_id WHERE f.subscriber_id = $1 ORDER BY f.created_at`,
      [id],
    );
    const topicSuggestions = await this.db.query(`SELECT text, created_at FROM topic_suggestions WHERE subscriber_id = $1 ORDER BY id`, [id]);
    const dropTopicQuestions = await this.db.query(
      `SELECT t.key AS topic, p.asked_at, p.answer, p.answered_at FROM drop_topic_prompts p JOIN topics t ON t.id = p.topic_id
       WHERE p.subscriber_id = $1 ORDER BY p.id`,
      [id],
    );
    return {
      exportedAt: this.clock.now().toISOString(),
      subscriber,
      doubleOptIn: consentProof,
      deliveries: deliveries.map((d: { reason: string }) => ({ ...d, reason: readReason(d.reason) })),
      webinarRegistrations,
      webinarRegistrationRequests,
      feedback,
      topicSuggestions,
      dropTopicQuestions,
    };
  }

  private async toResponses(subscribers: Subscriber[]): Promise<SubscriberResponse[]> {
    if (subscribers.length === 0) return [];
    // Each record with the names of the API keys that wrote or revoked it (keys are never deleted).
    const subscriptions: SubscriptionRow[] = await this.db.query(
      `SELECT ts.subscriber_id, t.key AS topic, ts.status, ts.consented_at, ts.consent_source, host(ts.consent_ip) AS consent_ip,
              ts.consent_user_agent, ts.consent_text_version, ts.confirmed_at, ts.revoked_at, ts.revocation_source,
              ts.consent_api_key_id, ck.name AS consent_api_key_name, ts.revoked_api_key_id, rk.name AS revoked_api_key_name
       FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
       LEFT JOIN api_keys ck ON ck.id = ts.consent_api_key_id
       LEFT JOIN api_keys rk ON rk.id = ts.revoked_api_key_id
       WHERE ts.subscriber_id = ANY($1::uuid[])
       ORDER BY t.key`,
      [subscribers.map((s) => s.id)],
    );
    const bySubscriber = new Map<string, TopicSubscriptionResponse[]>();
    for (const s of subscriptions) {
      const list = bySubscriber.get(s.subscriber_id) ?? [];
      list.push({
        topic: s.topic,
        status: s.status,
        consentedAt: s.consented_at.toISOString(),
        source: s.consent_source,
        ip: s.consent_ip,
        userAgent: s.consent_user_agent,
        textVersion: s.consent_text_version,
        confirmedAt: iso(s.confirmed_at),
        revokedAt: iso(s.revoked_at),
        apiKey: keyRef(s.consent_api_key_id, s.consent_api_key_name),
        revocationSource: s.revocation_source,
        revokedByApiKey: keyRef(s.revoked_api_key_id, s.revoked_api_key_name),
      });
      bySubscriber.set(s.subscriber_id, list);
    }
    return subscribers.map((s) => ({
      id: s.id,
      email: s.email,
      locale: s.locale,
      timeZone: s.timeZone,
      cadence: s.cadence,
      status: s.status,
      attributes: s.attributes,
      digestWeekday: s.digestWeekday,
      digestHour: s.digestHour,
      pausedUntil: iso(s.pausedUntil),
      confirmedAt: iso(s.confirmedAt),
      source: s.source,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
      topics: bySubscriber.get(s.id) ?? [],
    }));
  }
}
