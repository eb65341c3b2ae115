import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Sql, Tx } from '../database/sql';
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
import { SubscriberQueries as Q } from './subscribers.queries';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const keyRef = (id: string | null, name: string | null) => (id ? { id, name } : null);

@Injectable()
export class SubscribersService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly confirmation: ConfirmationService,
  ) {}

  async topicRefs(sql: Sql = this.db): Promise<Map<string, TopicRef>> {
    const rows = await sql.rows(Q.topicRefs, []);
    return new Map(rows.map((r) => [r.key, { id: r.id, archived: r.archived }]));
  }

  /**
   * Erased people may come back only with consent newer than their erasure. Returns, per e-mail
   * that is blocked, the error to report.
   */
  async suppressedEmails(sql: Sql, rows: SubscriberRow[]): Promise<Map<string, FieldError>> {
    const blocked = new Map<string, FieldError>();
    if (rows.length === 0) return blocked;
    const found = await sql.rows(Q.suppressed, [rows.map((r) => emailHash(r.email))]);
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
        throw new DomainException(ErrorCode.Conflict, `A subscriber with e-mail ${result.row.email} exists already`, [{ field: 'email', message: 'is taken' }]);
      }
      await writeTopicConsent(tx, [result.row], new Map([[written.email, written.id]]), now, apiKeyId);
      await this.confirmation.requestConfirmation(tx, [written.id]);
      return written.id;
    });
    return this.get(id);
  }

  /** Double opt-in mails for whichever of these subscribers are pending. */
  requestConfirmation(tx: Tx, subscriberIds: string[]): Promise<number> {
    return this.confirmation.requestConfirmation(tx, subscriberIds);
  }

  writeDefaults(now: Date) {
    return { locale: this.config.defaultLocale, timeZone: this.config.defaultTimeZone, now };
  }

  async get(id: string): Promise<SubscriberResponse> {
    const subscriber = await this.db.row(Q.byId, [id]);
    if (!subscriber) throw notFound('Subscriber', id);
    const [response] = await this.toResponses([subscriber]);
    return response;
  }

  async list(query: ListSubscribersQuery): Promise<SubscriberPage> {
    const limit = query.limit ?? 50;
    const found = await this.db.rows(Q.list, [
      query.status ?? null,
      query.locale ?? null,
      query.cadence ?? null,
      query.email ? normalizeEmail(query.email) : null,
      query.after ?? null,
      query.topic ?? null,
      limit + 1,
    ]);
    const page = found.slice(0, limit);
    return {
      items: await this.toResponses(page),
      nextCursor: found.length > limit ? page[page.length - 1].id : null,
    };
  }

  async update(id: string, input: UpdateSubscriberDto, apiKeyId: string | null = null): Promise<SubscriberResponse> {
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      const current = await tx.row(Q.lockForUpdate, [id]);
      if (!current) throw notFound('Subscriber', id);
      if (input.status === 'active' && !current.confirmed_at) {
        throw new DomainException(ErrorCode.Unprocessable, 'status: a subscriber becomes active only by confirming (double opt-in)', [
          { field: 'status', message: 'cannot be active before the subscriber confirmed' },
        ]);
      }
      await tx.run(Q.update, [
        id,
        input.locale ?? null,
        input.timeZone ?? null,
        input.cadence ?? null,
        input.digestWeekday ?? null,
        input.digestHour ?? null,
        input.attributes ? JSON.stringify(input.attributes) : null,
        input.status ?? null,
        now,
      ]);
      if (input.topics) await this.replaceTopics(tx, id, input, now, apiKeyId);
    });
    return this.get(id);
  }

  private async replaceTopics(tx: Tx, id: string, input: UpdateSubscriberDto, now: Date, apiKeyId: string | null): Promise<void> {
    const { email } = (await tx.row(Q.email, [id]))!;
    const result = toSubscriberRow({ email, topics: input.topics, consent: input.consent }, await this.topicRefs(tx), now, 'api');
    if (!result.ok) throw validationException(result.errors);
    await tx.run(Q.revokeOtherTopics, [id, result.row.topicIds, now, apiKeyId]);
    await writeTopicConsent(tx, [result.row], new Map([[email, id]]), now, apiKeyId);
  }

  /** GDPR erasure: personal data goes; a hash of the address stays on the suppression list. */
  async erase(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await tx.row(Q.erase, [id]);
      if (!row) throw notFound('Subscriber', id);
      // What the public webinar form recorded for the address (asked-for registrations) goes too.
      await tx.run(Q.eraseRegistrationRequests, [row.email]);
      await tx.run(Q.suppress, [emailHash(row.email), this.clock.now()]);
    });
  }

  /** GDPR export: everything stored about the person. */
  async export(id: string): Promise<Record<string, unknown>> {
    const subscriber = await this.get(id);
    const deliveries = await this.db.rows(Q.exportDeliveries, [id]);
    const webinarRegistrations = await this.db.rows(Q.exportRegistrations, [id]);
    const webinarRegistrationRequests = await this.db.rows(Q.exportRegistrationRequests, [id]);
    const consentProof = await this.db.row(Q.exportConsentProof, [id]);
    // What the person told us: ratings and comments, topic suggestions, answers to "drop this topic?".
    const feedback = await this.db.rows(Q.exportFeedback, [id]);
    const topicSuggestions = await this.db.rows(Q.exportSuggestions, [id]);
    const dropTopicQuestions = await this.db.rows(Q.exportDropQuestions, [id]);
    return {
      exportedAt: this.clock.now().toISOString(),
      subscriber,
      doubleOptIn: consentProof,
      deliveries: deliveries.map((d) => ({ ...d, reason: readReason(d.reason) })),
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
    const subscriptions = await this.db.rows(Q.subscriptions, [subscribers.map((s) => s.id)]);
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
