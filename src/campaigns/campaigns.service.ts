// Campaigns: compose, schedule, cancel, preview, test-send; stats and the audience dry run.
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { CadenceService } from '../cadence/cadence.service';
import { handOverStep } from '../cadence/hand-over.policy';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { addressOf, APP_CONFIG, AppConfig, Locale } from '../config/config';
import { runPrepared } from '../database/prepared';
import { ClaimedDelivery, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { marketingKind } from '../delivery/marketing-hand-over';
import { replyToFor } from '../addresses/email';
import { OutboxService } from '../delivery/outbox.service';
import { Reason, REASON_LABELS } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { CampaignCounts, statsOf } from '../metrics/campaign-counts';
import { TemplateRenderer } from '../rendering/template-renderer';
import { AudienceFilter, compileAudience, validateAudience } from './audience-filter';
import { campaignKeyPrefix, dryRunSql, FIRST_CURSOR } from './campaign-dispatch.service';
import { CampaignProgressService } from './campaign-progress.service';
import { CampaignProgress, EDITABLE_STATUSES } from './campaign-state.policy';
import { AudienceQuery, CampaignResponse, CreateCampaignDto, PreviewCampaignDto, TestSendDto, UpdateCampaignDto } from './dto/campaign.dto';

interface CampaignRow {
  id: string;
  name: string;
  topic_id: string;
  topic_key: string;
  topic_name_de: string;
  topic_name_en: string;
  sender: string;
  priority: number;
  status: string;
  subject_de: string | null;
  subject_en: string | null;
  body_de: string | null;
  body_en: string | null;
  digest_summary_de: string | null;
  digest_summary_en: string | null;
  locale_fallback: boolean;
  audience: AudienceFilter | null;
  digest_url: string | null;
  send_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  /** The final counts, stored once nothing of it is left in the outbox (campaign-progress job). */
  progress: CampaignProgress | null;
}

/** A draft's words as the console's form holds them (previewDraft). */
export interface DraftPreview {
  subject: LocalizedPair;
  body: LocalizedPair;
  localeFallback: boolean;
  sender?: string;
  topicName: { de: string; en: string };
}

export interface CampaignContent {
  subject: string;
  body: string;
  locale: Locale;
  topicName: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
/** "Lately" in the audience dry run's count of recipients who rated the topic not useful. */
export const FEEDBACK_LATELY_DAYS = 90;
type LocalizedPair = { de?: string; en?: string };

/** What the send-time check read that compose reuses: the version of the campaign and topic rows. */
interface CampaignFacts {
  /** The campaign and topic rows' version; undefined: as they stand (a sent mail shown again). */
  version: string | undefined;
}

// The send-time facts of a campaign mail in one round trip: the subscription (locked FOR SHARE,
// so a consent change waits for the hand-over), the campaign's state, and the version of the
// campaign and topic rows that compose reuses. $1 subscriber, $2 topic, $3 campaign.
const CAMPAIGN_GATE = `WITH subscription AS (
   SELECT status FROM topic_subscriptions WHERE subscriber_id = $1 AND topic_id = $2 FOR SHARE)
 SELECT (SELECT status FROM subscription) AS subscription_status, c.status, c.expires_at,
        c.xmin::text || ':' || t.xmin::text AS version
 FROM (VALUES (1)) one LEFT JOIN campaigns c ON c.id = $3 LEFT JOIN topics t ON t.id = c.topic_id`;

@Injectable()
export class CampaignsService implements OnModuleInit {
  /** Campaign content by campaign id and row version, for the worker's compose. */
  private readonly contentRows = new BoundedCache<string, Promise<CampaignRow | undefined>>(16);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly renderer: TemplateRenderer,
    private readonly outbox: OutboxService,
    private readonly kinds: DeliveryKinds,
    private readonly cadence: CadenceService,
    private readonly tokens: TokenService,
    private readonly progress: CampaignProgressService,
    private readonly counts: CampaignCounts,
  ) {}

  onModuleInit(): void {
    // The campaign supplies its checks and its content; the window is the cadence module's.
    this.kinds.register(
      marketingKind<CampaignFacts>(this.cadence, {
        kind: 'campaign',
        check: (tx, delivery, now) => this.check(tx, delivery, now),
        compose: (tx, delivery, facts) => this.compose(tx, delivery, facts.version),
        // The campaign's content as it stands (the version only keys the content cache).
        viewFacts: async () => ({ version: undefined }),
      }),
    );
    this.kinds.register({
      kind: 'campaign_test',
      // Listed addresses, no subscriber: nothing to an address that bounced, complained or was erased.
      gate: (tx, delivery) => subscriberGate(tx, delivery),
      compose: (tx, delivery) => this.compose(tx, delivery, undefined, true),
    });
  }

  // ---- API ---------------------------------------------------------------------------------
  // The writes take the caller's transaction (`tx`) when another domain calls them as part of its
  // own request, so that a webinar and its invitation campaign commit together or not at all.

  async create(input: CreateCampaignDto, tx: EntityManager = this.db.manager): Promise<CampaignResponse> {
    const now = this.clock.now();
    const topicId = await this.topicId(input.topic, 'topic', tx);
    await this.validateContent(input);
    const [row] = await tx.query(
      `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en,
                              digest_summary_de, digest_summary_en, locale_fallback, audience, send_at, expires_at, created_at, updated_at, digest_url)
       VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16) RETURNING id`,
      [
        input.name,
        topicId,
        input.sender ?? 'marketing',
        input.priority ?? 0,
        input.subject.de ?? null,
        input.subject.en ?? null,
        input.body.de ?? null,
        input.body.en ?? null,
        input.digestSummary?.de ?? null,
        input.digestSummary?.en ?? null,
        input.localeFallback ?? false,
        input.audience ? JSON.stringify(input.audience) : null,
        input.sendAt ?? null,
        input.expiresAt ?? null,
        now,
        input.digestUrl ?? null,
      ],
    );
    return this.get(row.id, tx);
  }

  /** Newest first, each with its progress: counted now while it sends, as stored once it completed. */
  async list(status?: string): Promise<CampaignResponse[]> {
    const rows = await this.rows(status ? `c.status = $1` : 'true', status ? [status] : [], 'ORDER BY c.created_at DESC LIMIT 500');
    const progress = await this.progress.of(rows);
    return rows.map((row) => toResponse(row, progress.get(row.id) ?? null));
  }

  async get(id: string, tx: EntityManager = this.db.manager): Promise<CampaignResponse> {
    const row = await this.row(id, tx);
    const progress = await this.progress.of([row], tx);
    return toResponse(row, progress.get(id) ?? null);
  }

  /** Names and subjects of these campaigns, for lists that mention them (the console's timeline). */
  async titles(ids: readonly string[]): Promise<Map<string, { name: string; subject: { de: string | null; en: string | null } }>> {
    const uuids = [...new Set(ids)].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (uuids.length === 0) return new Map();
    const rows: { id: string; name: string; subject_de: string | null; subject_en: string | null }[] = await this.db.query(
      `SELECT id, name, subject_de, subject_en FROM campaigns WHERE id = ANY($1::uuid[])`,
      [uuids],
    );
    return new Map(rows.map((r) => [r.id, { name: r.name, subject: { de: r.subject_de, en: r.subject_en } }]));
  }

  async update(id: string, input: UpdateCampaignDto, tx: EntityManager = this.db.manager): Promise<CampaignResponse> {
    const current = await this.row(id, tx);
    if (!EDITABLE_STATUSES.includes(current.status)) {
      throw new DomainException(ErrorCode.Conflict, `Campaign is ${current.status}; only draft and scheduled campaigns can be changed.`);
    }
    const merged = {
      subject: { de: input.subject?.de ?? current.subject_de ?? undefined, en: input.subject?.en ?? current.subject_en ?? undefined },
      body: { de: input.body?.de ?? current.body_de ?? undefined, en: input.body?.en ?? current.body_en ?? undefined },
      audience: input.audience ?? current.audience ?? undefined,
      sendAt: input.sendAt ?? iso(current.send_at) ?? undefined,
      expiresAt: input.expiresAt ?? iso(current.expires_at) ?? undefined,
    };
    await this.validateContent(merged);
    const topicId = input.topic ? await this.topicId(input.topic, 'topic', tx) : current.topic_id;
    await tx.query(
      `UPDATE campaigns SET name = coalesce($2, name), topic_id = $3, sender = coalesce($4, sender), priority = coalesce($5, priority),
         subject_de = $6, subject_en = $7, body_de = $8, body_en = $9,
         digest_summary_de = coalesce($10, digest_summary_de), digest_summary_en = coalesce($11, digest_summary_en),
         locale_fallback = coalesce($12, locale_fallback), audience = $13, send_at = $14, expires_at = $15, updated_at = $16,
         digest_url = coalesce($17, digest_url)
       WHERE id = $1`,
      [
        id,
        input.name ?? null,
        topicId,
        input.sender ?? null,
        input.priority ?? null,
        merged.subject.de ?? null,
        merged.subject.en ?? null,
        merged.body.de ?? null,
        merged.body.en ?? null,
        input.digestSummary?.de ?? null,
        input.digestSummary?.en ?? null,
        input.localeFallback ?? null,
        merged.audience ? JSON.stringify(merged.audience) : null,
        merged.sendAt ?? null,
        merged.expiresAt ?? null,
        this.clock.now(),
        input.digestUrl ?? null,
      ],
    );
    return this.get(id, tx);
  }

  /**
   * New words and expiry for a campaign whose subject moved (a rescheduled webinar), whatever its
   * status: copies still waiting (deferred into a digest, queued) go with the new content and the
   * new expiry; mails already sent stay as they were.
   */
  async revise(
    id: string,
    input: { subject: LocalizedPair; body: LocalizedPair; digestSummary: LocalizedPair; expiresAt: Date | null },
    tx?: EntityManager,
  ): Promise<void> {
    await this.validateContent({ subject: input.subject, body: input.body });
    await this.inTransaction(tx, async (tx) => {
      const now = this.clock.now();
      const [current] = await tx.query(`SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, [id]);
      if (!current) throw notFound('Campaign', id);
      if (current.status === 'cancelled') return;
      await tx.query(
        `UPDATE campaigns SET subject_de = $2, subject_en = $3, body_de = $4, body_en = $5, digest_summary_de = $6, digest_summary_en = $7,
           expires_at = $8, updated_at = $9 WHERE id = $1`,
        [
          id,
          input.subject.de ?? null,
          input.subject.en ?? null,
          input.body.de ?? null,
          input.body.en ?? null,
          input.digestSummary.de ?? null,
          input.digestSummary.en ?? null,
          input.expiresAt,
          now,
        ],
      );
      await tx.query(`UPDATE deliveries SET expires_at = $2, updated_at = $3 WHERE ref_id = $1 AND kind = 'campaign' AND status IN ('queued', 'deferred')`, [
        id,
        input.expiresAt,
        now,
      ]);
    });
  }

  async schedule(id: string, sendAt?: string, tx: EntityManager = this.db.manager): Promise<CampaignResponse> {
    const now = this.clock.now();
    const current = await this.row(id, tx);
    if (!EDITABLE_STATUSES.includes(current.status)) {
      throw new DomainException(ErrorCode.Conflict, `Campaign is ${current.status}; it cannot be scheduled again.`);
    }
    const at = sendAt ? new Date(sendAt) : (current.send_at ?? now);
    const errors: FieldError[] = [];
    if (!current.subject_de && !current.subject_en) errors.push({ field: 'subject', message: 'needs at least one language before scheduling' });
    if (current.expires_at && current.expires_at <= at) errors.push({ field: 'expiresAt', message: 'must lie after sendAt' });
    if (errors.length) throw new DomainException(ErrorCode.Unprocessable, errors.map((e) => `${e.field} ${e.message}`).join('; '), errors);
    await tx.query(`UPDATE campaigns SET status = 'scheduled', send_at = $2, updated_at = $3 WHERE id = $1`, [id, at, now]);
    return this.get(id, tx);
  }

  /** Cancels the campaign and everything of it not yet handed to SMTP, releasing held windows. */
  async cancel(id: string, tx?: EntityManager): Promise<CampaignResponse & { cancelledDeliveries: number }> {
    const now = this.clock.now();
    return this.inTransaction(tx, async (tx) => {
      const [current] = await tx.query(`SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, [id]);
      if (!current) throw notFound('Campaign', id);
      if (current.status === 'cancelled') return { ...(await this.get(id, tx)), cancelledDeliveries: 0 };
      // Its counts change now (deferred copies are suppressed too): the campaign-progress job
      // stores them again once the last mail in a worker's hands has settled.
      await tx.query(`UPDATE campaigns SET status = 'cancelled', cancelled_at = $2, updated_at = $2, progress = NULL WHERE id = $1`, [id, now]);
      // Rows being handed over right now are locked by their worker; SKIP LOCKED leaves them, and
      // the worker's send-time gate sees the cancelled campaign.
      const rows: { id: string; subscriber_id: string; idempotency_key: string }[] = await tx.query(
        `WITH target AS (
           SELECT id FROM deliveries WHERE ref_id = $1 AND kind = 'campaign' AND status IN ('queued', 'deferred') FOR UPDATE SKIP LOCKED)
         , done AS (
           UPDATE deliveries d SET status = 'suppressed', reason = $2, updated_at = $3 FROM target WHERE d.id = target.id
           RETURNING d.id, d.subscriber_id, d.idempotency_key)
         SELECT id, subscriber_id, idempotency_key FROM done`,
        [id, Reason.SuppressedCancelled, now],
      );
      // The outcome `cancelled` of the hand-over state machine, for every mail at once.
      await this.cadence.applyWindowAction(
        tx,
        handOverStep('cancelled').window,
        rows.map((r) => ({ deliveryId: r.id, subscriberId: r.subscriber_id, idempotencyKey: r.idempotency_key })),
      );
      return { ...(await this.get(id, tx)), cancelledDeliveries: rows.length };
    });
  }

  async preview(id: string, input: PreviewCampaignDto) {
    const campaign = await this.row(id);
    let locale: Locale = input.locale ?? this.config.defaultLocale;
    if (input.subscriberId) {
      const [s] = await this.db.query(`SELECT locale FROM subscribers WHERE id = $1`, [input.subscriberId]);
      if (!s) throw notFound('Subscriber', input.subscriberId);
      locale = input.locale ?? s.locale;
    }
    const content = contentFor(campaign, locale, true);
    if (!content)
      throw new DomainException(ErrorCode.Unprocessable, `The campaign has no ${locale} version.`, [{ field: 'locale', message: 'has no content' }]);
    return this.renderPreview(content, campaign.sender);
  }

  /**
   * A draft as the console's form holds it, not saved: rendered as preview() renders a saved
   * campaign (inert links), its body checked as create() checks it. The caller names the topic.
   */
  async previewDraft(draft: DraftPreview, locale: Locale) {
    const content = contentFor(
      {
        subject_de: draft.subject.de ?? null,
        subject_en: draft.subject.en ?? null,
        body_de: draft.body.de ?? null,
        body_en: draft.body.en ?? null,
        topic_name_de: draft.topicName.de,
        topic_name_en: draft.topicName.en,
        locale_fallback: draft.localeFallback,
      },
      locale,
      true,
    );
    if (!content) throw new DomainException(ErrorCode.Unprocessable, `The draft has no ${locale} version.`, [{ field: 'locale', message: 'has no content' }]);
    const check = await this.renderer.validateCampaignBody(content.body);
    if (!check.ok) throw validationException(check.errors.map((e) => ({ field: `body.${content.locale}`, message: `line ${e.line}: ${e.message}` })));
    return this.renderPreview(content, draft.sender ?? 'marketing');
  }

  private renderPreview(content: CampaignContent, sender: string) {
    // The subscriber only chooses the language: the links are inert samples. A preview needs only
    // `read`; with the person's own links it would let that key unsubscribe or re-consent them.
    return this.renderer.render('campaign', content.locale, {
      subject: content.subject,
      bodyHtml: content.body,
      topicName: content.topicName,
      ...this.previewLinks(content.locale),
      replyAddress: addressOf(replyToFor(this.config, sender)),
      feedback: {
        usefulUrl: this.tokens.previewUrl('feedback', content.locale, 'useful'),
        notUsefulUrl: this.tokens.previewUrl('feedback', content.locale, 'not_useful'),
      },
    });
  }

  /** Preferences and unsubscribe links of a preview or test send: pages that say so and change nothing. */
  private previewLinks(locale: Locale) {
    return { preferencesUrl: this.tokens.previewUrl('preferences', locale), unsubscribeUrl: this.tokens.previewUrl('unsubscribe', locale) };
  }

  /** "Useful / not useful" links bound to this customer and this campaign (GET shows, POST records). */
  private feedbackLinks(subscriberId: string, campaignId: string) {
    return {
      usefulUrl: this.tokens.itemUrl(subscriberId, 'campaign', campaignId, 'useful'),
      notUsefulUrl: this.tokens.itemUrl(subscriberId, 'campaign', campaignId, 'not_useful'),
    };
  }

  async testSend(id: string, input: TestSendDto): Promise<{ queued: number }> {
    const campaign = await this.row(id);
    const now = this.clock.now();
    const locale = input.locale ?? this.config.defaultLocale;
    if (!contentFor(campaign, locale, true)) throw new DomainException(ErrorCode.Unprocessable, `The campaign has no ${locale} version.`);
    await this.db.query(
      `INSERT INTO deliveries (to_address, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key,
                               next_attempt_at, created_at, updated_at, payload)
       SELECT a, 'service', 'campaign_test', $2, $3, $4, $5, 'queued', 'queued', 'test:' || $3 || ':' || $6 || ':' || a, $7, $7, $7, '{"test": true}'
       FROM unnest($1::text[]) a`,
      [input.addresses.map((a) => a.trim().toLowerCase()), campaign.topic_id, id, campaign.sender, locale, randomUUID(), now],
    );
    return { queued: input.addresses.length };
  }

  /** From the per-campaign rollup (metrics/campaign-counts.ts): equal to counting its deliveries, at a cost that does not grow with them. */
  async stats(id: string) {
    await this.row(id);
    return { campaignId: id, ...statsOf(await this.counts.of([id])) };
  }

  /** The decision SQL of the dispatch, run as a SELECT: who would get it now, later, never, and why. Changes nothing. */
  async audience(id: string, query: AudienceQuery) {
    const campaign = await this.row(id);
    const at = query.at ? new Date(query.at) : campaign.send_at && campaign.send_at > this.clock.now() ? campaign.send_at : this.clock.now();
    const params: unknown[] = [
      campaign.topic_id,
      FIRST_CURSOR,
      2_147_483_647,
      at,
      campaignKeyPrefix(id),
      id,
      campaign.sender,
      campaign.priority,
      campaign.expires_at,
      this.cadence.quietHours.start,
      this.cadence.quietHours.end,
    ];
    // The same decision as the dispatch, with "would reserve" (eligible, window free at `at`) in place of the write.
    const rows: { status: string; reason: string; count: number; first_digest: Date | null; rated_not_useful: number }[] = await this.db.query(
      `${dryRunSql(compileAudience(campaign.audience, params, 's'))}
       SELECT status, reason, count(*)::int AS count, min(at) FILTER (WHERE status = 'deferred') AS first_digest,
              -- Recipients who told us lately that this topic's mails were not useful to them.
              count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM feedback f WHERE f.subscriber_id = decided.id AND f.topic_id = $1 AND f.rating = 'not_useful'
                  AND f.created_at > $4::timestamptz - make_interval(days => ${FEEDBACK_LATELY_DAYS})))::int AS rated_not_useful
       FROM decided GROUP BY status, reason ORDER BY status, reason`,
      params,
    );
    const recipients = rows.filter((r) => r.status === 'queued' || r.status === 'deferred');
    const count = (status: string) => rows.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0);
    return {
      campaignId: id,
      at: at.toISOString(),
      now: count('queued'),
      later: count('deferred'),
      never: count('suppressed') + count('expired'),
      firstDigestAt: rows.find((r) => r.first_digest)?.first_digest?.toISOString() ?? null,
      ratedNotUsefulLately: { recipients: recipients.reduce((n, r) => n + r.rated_not_useful, 0), days: FEEDBACK_LATELY_DAYS },
      byReason: rows.map((r) => ({ status: r.status, reason: r.reason, label: REASON_LABELS[r.reason as Reason], count: r.count })),
    };
  }

  // ---- send time -----------------------------------------------------------------------------

  /** Consent (subscription locked FOR SHARE), then the campaign's own state: cancelled, expired. */
  private async check(tx: EntityManager, delivery: ClaimedDelivery, now: Date): Promise<{ refused: GateVerdict } | { facts: CampaignFacts }> {
    const [campaign] = await runPrepared(tx, CAMPAIGN_GATE, [delivery.subscriberId, delivery.topicId, delivery.refId]);
    const consent = await subscriberGate(tx, delivery, campaign.subscription_status);
    if (consent) return { refused: consent };
    if (campaign.status === 'cancelled') return { refused: { status: 'suppressed', reason: Reason.SuppressedCancelled } };
    if (campaign.expires_at && campaign.expires_at <= now) return { refused: { status: 'expired', reason: Reason.Expired } };
    return { facts: { version: campaign.version } };
  }

  private async compose(tx: EntityManager, delivery: ClaimedDelivery, version: string | undefined, test = false) {
    const campaign = await this.contentRow(tx, delivery.refId!, version);
    const content = campaign ? contentFor(campaign, delivery.locale, true) : null;
    if (!content) throw new Error(`campaign ${delivery.refId} has no content for ${delivery.locale}`);
    // A test send goes to listed addresses, not to a subscriber: its links are inert samples.
    const links =
      test || !delivery.subscriberId
        ? this.previewLinks(delivery.locale)
        : { preferencesUrl: this.tokens.url('preferences', delivery.subscriberId), unsubscribeUrl: this.tokens.url('unsubscribe', delivery.subscriberId) };
    return {
      template: 'campaign',
      data: {
        subject: test ? `[TEST] ${content.subject}` : content.subject,
        bodyHtml: content.body,
        topicName: content.topicName,
        ...links,
        // A test send goes to a non-subscriber: nobody whose answer could be recorded.
        feedback: test || !delivery.subscriberId ? null : this.feedbackLinks(delivery.subscriberId, campaign!.id),
      },
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async validateContent(input: {
    subject: { de?: string; en?: string };
    body: { de?: string; en?: string };
    audience?: unknown;
    sendAt?: string;
    expiresAt?: string;
  }) {
    const errors: FieldError[] = [];
    for (const locale of ['de', 'en'] as const) {
      if (!!input.subject[locale] !== !!input.body[locale]) {
        errors.push({ field: input.subject[locale] ? `body.${locale}` : `subject.${locale}`, message: `is required when the other ${locale} part is given` });
      }
      const body = input.body[locale];
      if (body) {
        const check = await this.renderer.validateCampaignBody(body);
        if (!check.ok) for (const e of check.errors) errors.push({ field: `body.${locale}`, message: `line ${e.line}: ${e.message}` });
      }
    }
    if (!input.subject.de && !input.subject.en) errors.push({ field: 'subject', message: 'needs at least one language (de or en)' });
    if (input.audience !== undefined) errors.push(...validateAudience(input.audience));
    if (input.sendAt && input.expiresAt && new Date(input.expiresAt) <= new Date(input.sendAt)) {
      errors.push({ field: 'expiresAt', message: 'must lie after sendAt' });
    }
    if (errors.length) throw validationException(errors);
  }

  /** `work` in the caller's transaction, or in a new one. */
  private inTransaction<T>(tx: EntityManager | undefined, work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.transaction(work);
  }

  private async topicId(key: string, field: string, manager: EntityManager = this.db.manager): Promise<string> {
    const [topic] = await manager.query(`SELECT id, archived FROM topics WHERE key = $1`, [key]);
    if (!topic) throw validationException([{ field, message: `"${key}" is not a topic` }]);
    if (topic.archived) throw validationException([{ field, message: `"${key}" is archived` }]);
    return topic.id;
  }

  private rows(where: string, params: unknown[], tail = ''): Promise<CampaignRow[]> {
    return this.rowsIn(this.db.manager, where, params, tail);
  }

  /**
   * The campaign and topic as compose needs them. A mail whose gate read the rows' version (their
   * xmin: any change to either row changes it) shares one read per version with every other
   * mail of the campaign; a test send reads afresh.
   */
  private async contentRow(tx: EntityManager, id: string, version: string | undefined): Promise<CampaignRow | undefined> {
    const read = async () => (await this.rowsIn(tx, 'c.id = $1', [id]))[0];
    if (version === undefined) return read();
    const cached = this.contentRows.getOrCreate(`${id}:${version}`, () => read());
    return cached.catch((error) => {
      this.contentRows.delete(`${id}:${version}`);
      throw error;
    });
  }

  private rowsIn(manager: EntityManager, where: string, params: unknown[], tail = ''): Promise<CampaignRow[]> {
    return manager.query(
      `SELECT c.*, t.key AS topic_key, t.name_de AS topic_name_de, t.name_en AS topic_name_en
       FROM campaigns c JOIN topics t ON t.id = c.topic_id WHERE ${where} ${tail}`,
      params,
    );
  }

  private async row(id: string, manager: EntityManager = this.db.manager): Promise<CampaignRow> {
    const [row] = await this.rowsIn(manager, 'c.id = $1', [id]);
    if (!row) throw notFound('Campaign', id);
    return row;
  }
}

/** The subject and body in the subscriber's language, or the other one when fallback is on. */
export function contentFor(
  c: Pick<CampaignRow, 'subject_de' | 'subject_en' | 'body_de' | 'body_en' | 'topic_name_de' | 'topic_name_en' | 'locale_fallback'>,
  locale: Locale,
  allowFallback: boolean,
): CampaignContent | null {
  const pick = (l: Locale) => {
    const subject = l === 'de' ? c.subject_de : c.subject_en;
    const body = l === 'de' ? c.body_de : c.body_en;
    return subject && body ? { subject, body, locale: l, topicName: l === 'de' ? c.topic_name_de : c.topic_name_en } : null;
  };
  return pick(locale) ?? (allowFallback && c.locale_fallback ? pick(locale === 'de' ? 'en' : 'de') : null);
}

function toResponse(c: CampaignRow, progress: CampaignProgress | null): CampaignResponse {
  return {
    id: c.id,
    name: c.name,
    topic: c.topic_key,
    sender: c.sender,
    priority: c.priority,
    status: c.status,
    subject: { de: c.subject_de ?? undefined, en: c.subject_en ?? undefined },
    body: { de: c.body_de ?? undefined, en: c.body_en ?? undefined },
    digestSummary: { de: c.digest_summary_de ?? undefined, en: c.digest_summary_en ?? undefined },
    localeFallback: c.locale_fallback,
    audience: c.audience as Record<string, unknown> | null,
    digestUrl: c.digest_url,
    sendAt: iso(c.send_at),
    expiresAt: iso(c.expires_at),
    createdAt: c.created_at.toISOString(),
    updatedAt: c.updated_at.toISOString(),
    startedAt: iso(c.started_at),
    dispatchedAt: iso(c.finished_at),
    completedAt: iso(c.completed_at),
    finishedAt: iso(c.finished_at),
    cancelledAt: iso(c.cancelled_at),
    progress,
  };
}
