// Campaigns: compose, schedule, cancel, preview, test-send; stats and the audience dry run. The
// statements: campaigns.queries.ts.
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CadenceService } from '../cadence/cadence.service';
import { handOverStep } from '../cadence/hand-over.policy';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError, notFound } from '../common/problem';
import { validationException } from '../common/validation';
import { addressOf, APP_CONFIG, AppConfig, Locale } from '../config/config';
import { Db, Sql, Tx } from '../database/sql';
import { ClaimedDelivery, DeliveryKinds, GateVerdict, subscriberGate } from '../delivery/delivery-kinds';
import { marketingKind } from '../delivery/marketing-hand-over';
import { replyToFor } from '../addresses/email';
import { OutboxService } from '../delivery/outbox.service';
import { Reason, REASON_LABELS } from '../reasons/reason-codes';
import { TokenService } from '../links/tokens';
import { CampaignCounts, statsOf } from '../metrics/campaign-counts';
import { TemplateRenderer } from '../rendering/template-renderer';
import { validateAudience } from './audience-filter';
import { campaignKeyPrefix, FIRST_CURSOR } from './campaign-dispatch.service';
import { CampaignProgressService } from './campaign-progress.service';
import { CampaignProgress, EDITABLE_STATUSES } from './campaign-state.policy';
import { CampaignRow, CampaignQueries as Q, compileAudience, DecisionParams, FEEDBACK_LATELY_DAYS, withAudience } from './campaigns.queries';
import { AudienceQuery, CampaignResponse, CreateCampaignDto, PreviewCampaignDto, TestSendDto, UpdateCampaignDto } from './dto/campaign.dto';

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
type LocalizedPair = { de?: string; en?: string };

/** What the send-time check read that compose reuses: the version of the campaign and topic rows. */
interface CampaignFacts {
  /** The campaign and topic rows' version; undefined: as they stand (a sent mail shown again). */
  version: string | undefined;
}

@Injectable()
export class CampaignsService implements OnModuleInit {
  /** Campaign content by campaign id and row version, for the worker's compose. */
  private readonly contentRows = new BoundedCache<string, Promise<CampaignRow | undefined>>(16);

  constructor(
    private readonly db: Db,
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

  async create(input: CreateCampaignDto, tx: Sql = this.db): Promise<CampaignResponse> {
    const now = this.clock.now();
    const topicId = await this.topicId(input.topic, 'topic', tx);
    await this.validateContent(input);
    const row = (await tx.row(Q.create, [
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
    ]))!;
    return this.get(row.id, tx);
  }

  /** Newest first, each with its progress: counted now while it sends, as stored once it completed. */
  async list(status?: string): Promise<CampaignResponse[]> {
    const rows = await this.db.rows(Q.list, [status || null]);
    const progress = await this.progress.of(rows);
    return rows.map((row) => toResponse(row, progress.get(row.id) ?? null));
  }

  async get(id: string, tx: Sql = this.db): Promise<CampaignResponse> {
    const row = await this.row(id, tx);
    const progress = await this.progress.of([row], tx);
    return toResponse(row, progress.get(id) ?? null);
  }

  /** Names and subjects of these campaigns, for lists that mention them (the console's timeline). */
  async titles(ids: readonly string[]): Promise<Map<string, { name: string; subject: { de: string | null; en: string | null } }>> {
    const uuids = [...new Set(ids)].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (uuids.length === 0) return new Map();
    const rows = await this.db.rows(Q.titles, [uuids]);
    return new Map(rows.map((r) => [r.id, { name: r.name, subject: { de: r.subject_de, en: r.subject_en } }]));
  }

  async update(id: string, input: UpdateCampaignDto, tx: Sql = this.db): Promise<CampaignResponse> {
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
    await tx.run(Q.update, [
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
    ]);
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
    tx?: Tx,
  ): Promise<void> {
    await this.validateContent({ subject: input.subject, body: input.body });
    await this.inTransaction(tx, async (tx) => {
      const now = this.clock.now();
      const current = await tx.row(Q.lockStatus, [id]);
      if (!current) throw notFound('Campaign', id);
      if (current.status === 'cancelled') return;
      await tx.run(Q.revise, [
        id,
        input.subject.de ?? null,
        input.subject.en ?? null,
        input.body.de ?? null,
        input.body.en ?? null,
        input.digestSummary.de ?? null,
        input.digestSummary.en ?? null,
        input.expiresAt,
        now,
      ]);
      await tx.run(Q.reviseWaiting, [id, input.expiresAt, now]);
    });
  }

  async schedule(id: string, sendAt?: string, tx: Sql = this.db): Promise<CampaignResponse> {
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
    await tx.run(Q.schedule, [id, at, now]);
    return this.get(id, tx);
  }

  /** Cancels the campaign and everything of it not yet handed to SMTP, releasing held windows. */
  async cancel(id: string, tx?: Tx): Promise<CampaignResponse & { cancelledDeliveries: number }> {
    const now = this.clock.now();
    return this.inTransaction(tx, async (tx) => {
      const current = await tx.row(Q.lockStatus, [id]);
      if (!current) throw notFound('Campaign', id);
      if (current.status === 'cancelled') return { ...(await this.get(id, tx)), cancelledDeliveries: 0 };
      // Its counts change now (deferred copies are suppressed too): the campaign-progress job
      // stores them again once the last mail in a worker's hands has settled.
      await tx.run(Q.cancel, [id, now]);
      // Rows being handed over right now are locked by their worker; SKIP LOCKED leaves them, and
      // the worker's send-time gate sees the cancelled campaign.
      const rows = await tx.rows(Q.cancelWaiting, [id, Reason.SuppressedCancelled, now]);
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
      const s = await this.db.row(Q.subscriberLocale, [input.subscriberId]);
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
    await this.db.run(Q.testSend, [input.addresses.map((a) => a.trim().toLowerCase()), campaign.topic_id, id, campaign.sender, locale, randomUUID(), now]);
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
    const params: DecisionParams = [
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
    const rows = await this.db.rows(withAudience(Q.audienceDryRun, compileAudience(campaign.audience, params, 's')), params);
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
  private async check(tx: Sql, delivery: ClaimedDelivery, now: Date): Promise<{ refused: GateVerdict } | { facts: CampaignFacts }> {
    const campaign = (await tx.row(Q.gate, [delivery.subscriberId, delivery.topicId, delivery.refId]))!;
    const consent = await subscriberGate(tx, delivery, campaign.subscription_status);
    if (consent) return { refused: consent };
    if (campaign.status === 'cancelled') return { refused: { status: 'suppressed', reason: Reason.SuppressedCancelled } };
    if (campaign.expires_at && campaign.expires_at <= now) return { refused: { status: 'expired', reason: Reason.Expired } };
    return { facts: { version: campaign.version ?? undefined } };
  }

  private async compose(tx: Sql, delivery: ClaimedDelivery, version: string | undefined, test = false) {
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
  private inTransaction<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(work, { in: tx });
  }

  private async topicId(key: string, field: string, tx: Sql = this.db): Promise<string> {
    const topic = await tx.row(Q.topicRef, [key]);
    if (!topic) throw validationException([{ field, message: `"${key}" is not a topic` }]);
    if (topic.archived) throw validationException([{ field, message: `"${key}" is archived` }]);
    return topic.id;
  }

  /**
   * The campaign and topic as compose needs them. A mail whose gate read the rows' version (their
   * xmin: any change to either row changes it) shares one read per version with every other
   * mail of the campaign; a test send reads afresh.
   */
  private async contentRow(tx: Sql, id: string, version: string | undefined): Promise<CampaignRow | undefined> {
    const read = () => tx.row(Q.byId, [id]);
    if (version === undefined) return read();
    const cached = this.contentRows.getOrCreate(`${id}:${version}`, () => read());
    return cached.catch((error) => {
      this.contentRows.delete(`${id}:${version}`);
      throw error;
    });
  }

  private async row(id: string, tx: Sql = this.db): Promise<CampaignRow> {
    const row = await tx.row(Q.byId, [id]);
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
