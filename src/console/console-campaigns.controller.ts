// The console's campaigns: list and filter; compose and edit a draft; preview it in both
// languages (inert links, the API's own preview); the audience dry run as a picture; schedule and
// cancel; progress while it dispatches and sends (the page refreshes itself, no JavaScript);
// counts by reason; the customers' feedback. Every action is the API's service method, behind
// the scope the API route needs (campaigns:write), with the API's own request validation.
import { Body, Controller, Get, Header, HttpCode, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DateTime } from 'luxon';
import { Public } from '../auth/scopes';
import { CAMPAIGN_STATUSES, EDITABLE_STATUSES, IN_PROGRESS_STATUSES } from '../campaigns/campaign-state.policy';
import { CampaignsService } from '../campaigns/campaigns.service';
import { CampaignResponse, CreateCampaignDto, ScheduleCampaignDto, UpdateCampaignDto } from '../campaigns/dto/campaign.dto';
import { Clock } from '../common/clock';
import { ApiForm, ApiLangQuery, ApiPage } from '../common/openapi';
import { IdParam } from '../common/params';
import { DomainException, ErrorCode, FieldError, invalid } from '../common/problem';
import { createValidationPipe } from '../common/validation';
import { Locale } from '../config/config';
import { Reason, REASON_LABELS } from '../reasons/reason-codes';
import { FeedbackService } from '../feedback/feedback.service';
import { TopicsService } from '../topics/topics.service';
import { CampaignCounts, statsOf } from '../metrics/campaign-counts';
import { campaignOverTime } from './campaign-over-time';
import { barList, COLOURS, stackedBar, timeColumns } from './charts';
import { ConsoleGuard, ConsolePageFilter, ConsoleScopes, may, sessionOf } from './console-access';
import { CONSOLE_PAGE_ANSWERS, CSRF_FIELD } from './console-openapi';
import { ConsoleView, fill } from './console-view';
import { framedMailPageCsp, framedNote, mailPage, mailPageCsp } from './mail-page';

const PAGE = { 'content-type': 'text/html; charset=utf-8' } as const;
/** Seconds between refreshes of a campaign page while it dispatches or sends. */
const PROGRESS_REFRESH_SECONDS = 3;

const CAMPAIGN_FORM = {
  type: 'object',
  required: ['csrf'] as string[],
  properties: {
    csrf: { ...CSRF_FIELD },
    name: { type: 'string', maxLength: 200 },
    topic: { type: 'string', description: 'A topic key.' },
    sender: { type: 'string', description: 'Which team sends it (a slug); empty: marketing.' },
    priority: { type: 'string', description: 'A whole number from -100 to 100; empty: 0.', example: '0' },
    subjectDe: { type: 'string', maxLength: 200 },
    bodyDe: { type: 'string', description: 'HTML body (German).' },
    subjectEn: { type: 'string', maxLength: 200 },
    bodyEn: { type: 'string', description: 'HTML body (English).' },
    summaryDe: { type: 'string', maxLength: 500 },
    summaryEn: { type: 'string', maxLength: 500 },
    localeFallback: { type: 'string', enum: ['on'] as string[], description: 'Ticked: send the other language where one is missing.' },
    sendAtLocal: {
      type: 'string',
      description: 'Local date and time (YYYY-MM-DDTHH:mm) in DEFAULT_TIME_ZONE; empty: when scheduled.',
      example: '2026-03-02T10:00',
    },
    expiresAtLocal: { type: 'string', description: 'Local date and time (YYYY-MM-DDTHH:mm) in DEFAULT_TIME_ZONE; empty: never.', example: '2026-03-20T00:00' },
    audience: { type: 'string', description: 'An audience filter as JSON (as the API takes it); empty: the whole topic.', example: '{"locale":"de"}' },
  },
} satisfies SchemaObject;

type Form = Record<string, unknown>;
const text = (form: Form, name: string): string | undefined => {
  const value = form[name];
  if (value === undefined) return undefined;
  const one = Array.isArray(value) ? String(value[0]) : String(value);
  return one.trim() === '' ? undefined : one;
};

@ApiTags('console')
@Public()
@UseGuards(ConsoleGuard)
@UseFilters(ConsolePageFilter)
@ConsoleScopes('read', 'campaigns:write')
@Controller('console/campaigns')
export class ConsoleCampaignsController {
  private readonly validation = createValidationPipe();

  constructor(
    private readonly view: ConsoleView,
    private readonly campaigns: CampaignsService,
    private readonly topics: TopicsService,
    private readonly feedback: FeedbackService,
    private readonly counts: CampaignCounts,
    private readonly clock: Clock,
  ) {}

  @Get()
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the campaigns, newest first, filtered by status' })
  @ApiQuery({ name: 'status', required: false, enum: CAMPAIGN_STATUSES })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The list of campaigns.' }))
  async list(@Query('status') status: string | undefined, @Req() request: FastifyRequest): Promise<string> {
    if (status !== undefined && status !== '' && !(CAMPAIGN_STATUSES as readonly string[]).includes(status)) {
      throw invalid('status', `must be one of ${CAMPAIGN_STATUSES.join(', ')}`);
    }
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const campaigns = await this.campaigns.list(status || undefined);
    return this.view.page(
      request,
      'campaigns',
      t.campaignsTitle,
      {
        canWrite: may(sessionOf(request), 'campaigns:write'),
        statuses: CAMPAIGN_STATUSES.map((s) => ({ value: s, label: t[`campaign_${s}`], selected: s === status })),
        rows: campaigns.map((c) => ({
          href: `/console/campaigns/${c.id}`,
          name: c.name,
          topic: c.topic,
          status: t[`campaign_${c.status}`] ?? c.status,
          sendAt: this.view.when(c.sendAt, locale) ?? '—',
          progress: c.progress ? `${c.progress.percentDone} %` : '—',
        })),
      },
      { section: 'campaigns' },
    );
  }

  @Get('new')
  @ConsoleScopes('campaigns:write')
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the form for a new campaign (a draft)' })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The empty campaign form.' }))
  async newForm(@Req() request: FastifyRequest): Promise<string> {
    return this.form(request, null, {}, []);
  }

  @Post()
  @ConsoleScopes('campaigns:write')
  @HttpCode(200)
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: compose a campaign (a draft), validated as POST /v1/campaigns validates it' })
  @ApiForm(CAMPAIGN_FORM)
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'Saved: a page that goes on to the campaign (meta refresh).', 400: 'The form again, naming each field to fix.' }))
  async create(@Body() form: Form, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const t = this.view.t(request);
    try {
      const input = (await this.validation.transform(this.fromForm(form, true), { type: 'body', metatype: CreateCampaignDto })) as CreateCampaignDto;
      const created = await this.campaigns.create(input);
      return this.view.done(request, t.savedTitle, fill(t.savedText, { name: created.name }), `/console/campaigns/${created.id}`);
    } catch (error) {
      return this.refused(error, request, reply, null, form);
    }
  }

  @Post('draft-preview')
  @ConsoleScopes('campaigns:write')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'Console: the campaign form’s words as a mail in one language, not saved: rendered as POST /v1/campaigns/{id}/preview renders a campaign (inert links), shown in a frame of the form',
  })
  @ApiQuery({ name: 'locale', required: true, enum: ['de', 'en'] })
  @ApiForm(CAMPAIGN_FORM)
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({
      200: 'The rendered mail, for a frame of the console’s own pages (its own Content-Security-Policy: sandboxed, no requests).',
      400: 'A note naming what in the body does not read, or the topic that is not one.',
      422: 'A note: the draft has no version in that language.',
    }),
  )
  async draftPreview(
    @Query('locale') mailLocale: string,
    @Body() form: Form,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (mailLocale !== 'de' && mailLocale !== 'en') throw invalid('locale', 'must be de or en');
    const t = this.view.t(request);
    void reply.header('content-type', PAGE['content-type']);
    void reply.header('content-security-policy', framedMailPageCsp);
    void reply.header('x-frame-options', 'SAMEORIGIN');
    const note = (status: number, heading: string, lines: string[]) => {
      void reply.status(status);
      return framedNote(this.view.locale(request), heading, lines);
    };
    const key = text(form, 'topic');
    const topic = key ? await this.topics.get(key).catch(() => null) : null;
    if (!topic) return note(400, t.previewProblemTitle, [fill(t.previewNoTopic, { topic: key ?? '' })]);
    const pair = (de: string, en: string) => ({ de: text(form, de), en: text(form, en) });
    try {
      const mail = await this.campaigns.previewDraft(
        {
          subject: pair('subjectDe', 'subjectEn'),
          body: pair('bodyDe', 'bodyEn'),
          localeFallback: form.localeFallback === 'on',
          sender: text(form, 'sender'),
          topicName: { de: topic.nameDe, en: topic.nameEn },
        },
        mailLocale,
      );
      return mailPage(mail.html, { subject: mail.subject, note: t.previewNote });
    } catch (error) {
      if (!(error instanceof DomainException)) throw error;
      if (error.code === ErrorCode.Unprocessable) return note(422, t.previewMissingTitle, [t.previewDraftMissing]);
      if (error.code !== ErrorCode.Validation) throw error;
      return note(
        400,
        t.previewProblemTitle,
        (error.errors ?? []).map((e) => `${e.field}: ${e.message}`),
      );
    }
  }

  @Get(':id')
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: a campaign: what, when, progress (refreshing itself while it sends), decisions by reason over time, feedback, actions' })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The campaign page.', 404: 'No such campaign.' }))
  async show(@IdParam() id: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    return this.detail(request, campaign);
  }

  @Get(':id/audience')
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the audience dry run as a picture: now, folded into the digest, expiring, never, by reason (changes nothing)' })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The dry run.', 404: 'No such campaign.' }))
  async audience(@IdParam() id: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const run = await this.campaigns.audience(id, {});
    const count = (status: string) => run.byReason.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0);
    const groups = [
      { key: 'now', label: t.dryNow, value: run.now, colour: COLOURS.now },
      { key: 'later', label: t.dryLater, value: run.later, colour: COLOURS.later },
      { key: 'expiring', label: t.dryExpiring, value: count('expired'), colour: COLOURS.expiring },
      { key: 'never', label: t.dryNever, value: count('suppressed'), colour: COLOURS.never },
    ];
    const colourOf: Record<string, string> = { queued: COLOURS.now, deferred: COLOURS.later, expired: COLOURS.expiring, suppressed: COLOURS.never };
    const reasons = run.byReason.map((r) => ({
      label: r.label?.[locale] ?? r.reason,
      value: r.count,
      colour: colourOf[r.status] ?? '#6b7280',
      status: r.status,
    }));
    return this.view.page(
      request,
      'audience',
      fill(t.dryTitle, { name: campaign.name }),
      {
        campaign,
        back: `/console/campaigns/${id}`,
        at: this.view.when(run.at, locale),
        groups: groups.map((g) => ({ ...g, number: this.view.number(g.value, locale) })),
        picture: stackedBar(groups, t.dryPicture),
        reasons: reasons.map((r) => ({ ...r, number: this.view.number(r.value, locale), group: t[`dryStatus_${r.status}`] ?? r.status })),
        reasonChart: barList(reasons, t.dryByReason),
        firstDigest: this.view.when(run.firstDigestAt, locale),
        notUseful:
          run.ratedNotUsefulLately.recipients > 0
            ? fill(t.dryNotUseful, { n: run.ratedNotUsefulLately.recipients, days: run.ratedNotUsefulLately.days })
            : null,
      },
      { section: 'campaigns' },
    );
  }

  @Get(':id/stats')
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Console: a campaign’s decisions by reason (the figures of GET /v1/campaigns/{id}/stats, from the per-campaign rollup), as bars and a table',
  })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The decisions by reason.', 404: 'No such campaign.' }))
  async stats(@IdParam() id: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const n = (value: number) => this.view.number(value, locale);
    // From the per-campaign rollup (the figures GET /v1/campaigns/{id}/stats counts from the log,
    // proven equal in test/e2e/campaign-counts.spec.ts): its cost does not grow with the recipients.
    const stats = statsOf(await this.counts.of([id]));
    const reasons = Object.entries(stats.byReason).map(([reason, count]) => ({
      label: REASON_LABELS[reason as Reason]?.[locale] ?? reason,
      value: count,
      colour: COLOURS.done,
    }));
    return this.view.page(
      request,
      'stats',
      fill(t.statsPageTitle, { name: campaign.name }),
      {
        campaign,
        back: `/console/campaigns/${id}`,
        total: n(stats.total),
        reasons: reasons.map((r) => ({ ...r, number: n(r.value) })),
        chart: reasons.length ? barList(reasons, t.statsTitle) : null,
        countedAt: this.view.when(this.clock.now(), locale),
      },
      { section: 'campaigns' },
    );
  }

  @Get(':id/preview')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the campaign as a mail in one language, as POST /v1/campaigns/{id}/preview renders it (inert links)' })
  @ApiQuery({ name: 'locale', required: true, enum: ['de', 'en'] })
  @ApiLangQuery()
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({
      200: 'The rendered mail (sandboxed by its own Content-Security-Policy).',
      404: 'No such campaign.',
      422: 'The campaign has no version in that language.',
    }),
  )
  async preview(
    @IdParam() id: string,
    @Query('locale') mailLocale: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (mailLocale !== 'de' && mailLocale !== 'en') throw invalid('locale', 'must be de or en');
    const t = this.view.t(request);
    void reply.header('content-type', PAGE['content-type']);
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    try {
      const mail = await this.campaigns.preview(id, { locale: mailLocale as Locale });
      void reply.header('content-security-policy', mailPageCsp);
      return mailPage(mail.html, { subject: mail.subject, back: `/console/campaigns/${id}`, backLabel: t.backToCampaign, note: t.previewNote });
    } catch (error) {
      if (!(error instanceof DomainException) || error.code !== ErrorCode.Unprocessable) throw error;
      void reply.status(422);
      return this.view.page(request, 'message', t.previewMissingTitle, {
        heading: t.previewMissingTitle,
        text: t.previewMissing,
        link: { href: `/console/campaigns/${id}`, label: t.backToCampaign },
      });
    }
  }

  @Get(':id/edit')
  @ConsoleScopes('campaigns:write')
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the form to change a draft or scheduled campaign' })
  @ApiLangQuery()
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({
      200: 'The campaign form, filled in.',
      404: 'No such campaign.',
      409: 'The campaign is sending, sent or cancelled: it cannot change.',
    }),
  )
  async editForm(@IdParam() id: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    if (!EDITABLE_STATUSES.includes(campaign.status)) return this.conflict(request, reply, campaign);
    return this.form(request, campaign, this.toForm(campaign), []);
  }

  @Post(':id')
  @ConsoleScopes('campaigns:write')
  @HttpCode(200)
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: change a draft or scheduled campaign, validated as PATCH /v1/campaigns/{id} validates it' })
  @ApiForm(CAMPAIGN_FORM)
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({
      200: 'Saved: a page that goes on to the campaign (meta refresh).',
      400: 'The form again, naming each field to fix.',
      404: 'No such campaign.',
      409: 'The campaign is sending, sent or cancelled: it cannot change.',
    }),
  )
  async update(@IdParam() id: string, @Body() form: Form, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const t = this.view.t(request);
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    try {
      const input = (await this.validation.transform(this.fromForm(form, false), { type: 'body', metatype: UpdateCampaignDto })) as UpdateCampaignDto;
      const saved = await this.campaigns.update(id, input);
      return this.view.done(request, t.savedTitle, fill(t.savedText, { name: saved.name }), `/console/campaigns/${id}`);
    } catch (error) {
      return this.refused(error, request, reply, campaign, form);
    }
  }

  @Post(':id/schedule')
  @ConsoleScopes('campaigns:write')
  @HttpCode(200)
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: schedule a campaign (POST /v1/campaigns/{id}/schedule)' })
  @ApiForm({ type: 'object', required: ['csrf'], properties: { csrf: CSRF_FIELD, sendAtLocal: CAMPAIGN_FORM.properties.sendAtLocal } })
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({
      200: 'Scheduled: a page that goes on to the campaign (meta refresh).',
      400: 'The campaign page, naming what to fix.',
      404: 'No such campaign.',
      409: 'The campaign is sending, sent or cancelled.',
      422: 'The campaign page: it has no subject, or would expire before it goes.',
    }),
  )
  async schedule(@IdParam() id: string, @Body() form: Form, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const t = this.view.t(request);
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    try {
      const sendAt = this.instant(text(form, 'sendAtLocal'), 'sendAtLocal');
      const input = (await this.validation.transform(sendAt ? { sendAt } : {}, { type: 'body', metatype: ScheduleCampaignDto })) as ScheduleCampaignDto;
      const scheduled = await this.campaigns.schedule(id, input.sendAt);
      return this.view.done(
        request,
        t.scheduledTitle,
        fill(t.scheduledText, { name: scheduled.name, when: this.view.when(scheduled.sendAt, this.view.locale(request)) ?? '' }),
        `/console/campaigns/${id}`,
      );
    } catch (error) {
      return this.refusedOnPage(error, request, reply, campaign);
    }
  }

  @Post(':id/cancel')
  @ConsoleScopes('campaigns:write')
  @HttpCode(200)
  @Header('content-type', PAGE['content-type'])
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: cancel a campaign (POST /v1/campaigns/{id}/cancel): nothing not yet handed to SMTP goes' })
  @ApiForm({ type: 'object', required: ['csrf'], properties: { csrf: CSRF_FIELD } })
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'Cancelled: a page that goes on to the campaign (meta refresh).', 404: 'No such campaign.' }))
  async cancel(@IdParam() id: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const t = this.view.t(request);
    const campaign = await this.find(id);
    if (!campaign) return this.missing(request, reply);
    const cancelled = await this.campaigns.cancel(id);
    return this.view.done(
      request,
      t.cancelledTitle,
      fill(t.cancelledText, { name: cancelled.name, n: cancelled.cancelledDeliveries }),
      `/console/campaigns/${id}`,
    );
  }

  // ---- pages -------------------------------------------------------------------------------

  private async detail(request: FastifyRequest, campaign: CampaignResponse, problem: string[] = []): Promise<string> {
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const canWrite = may(sessionOf(request), 'campaigns:write');
    const feedback = await this.feedback.campaignSummary(campaign.id);
    const p = campaign.progress;
    // From the per-campaign rollup: a handful of rows per hour, whatever the number of recipients.
    const overTime = campaign.status === 'draft' || campaign.status === 'scheduled' ? null : await this.overTime(request, campaign.id);
    const inProgress = IN_PROGRESS_STATUSES.includes(campaign.status);
    const dueSoon = campaign.status === 'scheduled' && campaign.sendAt !== null && new Date(campaign.sendAt).getTime() <= this.clock.now().getTime() + 60_000;
    const when = (at: string | null) => this.view.when(at, locale);
    const n = (value: number) => this.view.number(value, locale);
    const editable = EDITABLE_STATUSES.includes(campaign.status);
    return this.view.page(
      request,
      'campaign',
      campaign.name,
      {
        campaign,
        problem,
        status: t[`campaign_${campaign.status}`] ?? campaign.status,
        facts: [
          [t.topic, campaign.topic],
          [t.campaignSender, campaign.sender],
          [t.campaignPriority, String(campaign.priority)],
          [t.campaignSubjectDe, campaign.subject.de ?? '—'],
          [t.campaignSubjectEn, campaign.subject.en ?? '—'],
          [t.campaignSendAt, when(campaign.sendAt) ?? t.campaignWhenScheduled],
          [t.campaignExpiresAt, when(campaign.expiresAt) ?? t.never],
          [t.campaignAudience, campaign.audience ? JSON.stringify(campaign.audience) : t.campaignWholeTopic],
          [t.campaignStarted, when(campaign.startedAt) ?? '—'],
          [t.campaignDispatched, when(campaign.dispatchedAt) ?? '—'],
          [t.campaignCompleted, when(campaign.completedAt) ?? '—'],
          ...(campaign.cancelledAt ? [[t.campaignCancelledAt, when(campaign.cancelledAt)!]] : []),
        ].map(([label, value]) => ({ label, value })),
        previews: (['de', 'en'] as const)
          .filter((l) => campaign.subject[l])
          .map((l) => ({ href: `/console/campaigns/${campaign.id}/preview?locale=${l}`, label: t[`preview_${l}`] })),
        audienceHref: editable ? `/console/campaigns/${campaign.id}/audience` : null,
        canEdit: canWrite && editable,
        canSchedule: canWrite && editable,
        canCancel: canWrite && campaign.status !== 'cancelled' && campaign.status !== 'completed',
        sendAtValue: campaign.sendAt ? DateTime.fromISO(campaign.sendAt, { zone: this.view.config.defaultTimeZone }).toFormat("yyyy-MM-dd'T'HH:mm") : '',
        zone: this.view.config.defaultTimeZone,
        progress: p
          ? {
              percent: p.percentDone,
              label: fill(t.progressLabel, { percent: p.percentDone }),
              rows: (['queued', 'sending', 'sent', 'deferred', 'sentInDigest', 'suppressed', 'expired', 'failed', 'unknown', 'total'] as const).map((k) => ({
                label: t[`progress_${k}`],
                value: n(p[k]),
                key: k,
              })),
              countedAt: when(p.countedAt),
              live: inProgress,
            }
          : null,
        overTime,
        refreshing: inProgress || dueSoon,
        statsHref: campaign.status === 'draft' ? null : `/console/campaigns/${campaign.id}/stats`,
        feedback: {
          total: feedback.total,
          text: fill(t.feedbackCounts, { useful: feedback.useful, notUseful: feedback.notUseful }),
          comments: feedback.comments.map((c) => ({ when: when(c.at), rating: c.rating === 'useful' ? t.useful : t.notUseful, comment: c.comment })),
        },
      },
      { section: 'campaigns', refreshSeconds: inProgress || dueSoon ? PROGRESS_REFRESH_SECONDS : undefined },
    );
  }

  /** The decisions by reason over time: a chart and the same figures as a table (null before its dispatch). */
  private async overTime(request: FastifyRequest, id: string) {
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const zone = this.view.config.defaultTimeZone;
    const view = campaignOverTime(await this.counts.of([id]), locale, zone);
    if (!view) return { empty: true };
    const n = (value: number) => this.view.number(value, locale);
    return {
      empty: false,
      caption: fill(view.unit === 'hour' ? t.overTimeHours : t.overTimeDays, { zone }),
      chart: timeColumns(view.buckets, view.series, t.overTimeTitle),
      heads: view.series.map((s) => s.label),
      rows: view.rows.map((r) => ({ bucket: r.bucket, cells: r.cells.map(n), total: n(r.total) })),
      totals: view.totals.map(n),
      total: n(view.total),
    };
  }

  private async form(request: FastifyRequest, campaign: CampaignResponse | null, values: Form, errors: FieldError[]): Promise<string> {
    const t = this.view.t(request);
    const topics = await this.topics.list(false);
    const locale = this.view.locale(request);
    // An error names the API's field (body.de) or the form's own (sendAtLocal).
    const errorOf = (name: string) =>
      errors
        .filter((e) => e.field === name || e.field === FIELD_OF[name] || e.field.startsWith(`${name}.`))
        .map((e) => e.message)
        .join('; ') || null;
    const field = (name: string) => ({ value: typeof values[name] === 'string' ? values[name] : '', error: errorOf(name) });
    return this.view.page(
      request,
      'campaign-form',
      campaign ? fill(t.editTitle, { name: campaign.name }) : t.newTitle,
      {
        action: campaign ? `/console/campaigns/${campaign.id}` : '/console/campaigns',
        back: campaign ? `/console/campaigns/${campaign.id}` : '/console/campaigns',
        errors: errors.map((e) => `${e.field}: ${e.message}`),
        topics: topics.map((x) => ({ key: x.key, name: locale === 'de' ? x.nameDe : x.nameEn, selected: x.key === values.topic })),
        topicError: errorOf('topic'),
        zone: this.view.config.defaultTimeZone,
        fallback: values.localeFallback === 'on',
        f: Object.fromEntries(
          [
            'name',
            'sender',
            'priority',
            'subjectDe',
            'bodyDe',
            'subjectEn',
            'bodyEn',
            'summaryDe',
            'summaryEn',
            'sendAtLocal',
            'expiresAtLocal',
            'audience',
          ].map((n) => [n, field(n)]),
        ),
      },
      { section: 'campaigns' },
    );
  }

  // ---- form <-> request ----------------------------------------------------------------------

  /** The API's request body from the form: empty fields are left out, times read in DEFAULT_TIME_ZONE. */
  private fromForm(form: Form, creating: boolean): Record<string, unknown> {
    const pair = (de: string, en: string) => {
      const value = { de: text(form, de), en: text(form, en) };
      return value.de === undefined && value.en === undefined ? undefined : value;
    };
    const audienceText = text(form, 'audience');
    let audience: unknown;
    if (audienceText !== undefined) {
      try {
        audience = JSON.parse(audienceText);
      } catch {
        throw invalid('audience', 'is not valid JSON');
      }
    }
    const priority = text(form, 'priority');
    const body: Record<string, unknown> = {
      name: text(form, 'name'),
      topic: text(form, 'topic'),
      sender: text(form, 'sender'),
      priority: priority === undefined ? undefined : /^-?\d{1,4}$/.test(priority.trim()) ? Number(priority) : priority,
      subject: pair('subjectDe', 'subjectEn') ?? (creating ? {} : undefined),
      body: pair('bodyDe', 'bodyEn') ?? (creating ? {} : undefined),
      digestSummary: pair('summaryDe', 'summaryEn'),
      localeFallback: form.localeFallback === 'on',
      audience,
      sendAt: this.instant(text(form, 'sendAtLocal'), 'sendAtLocal'),
      expiresAt: this.instant(text(form, 'expiresAtLocal'), 'expiresAtLocal'),
    };
    return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  }

  /** A datetime-local value (no zone) as an instant in DEFAULT_TIME_ZONE. */
  private instant(value: string | undefined, field: string): string | undefined {
    if (value === undefined) return undefined;
    const at = DateTime.fromISO(value.trim(), { zone: this.view.config.defaultTimeZone });
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value.trim()) || !at.isValid) throw invalid(field, 'must be a date and time (YYYY-MM-DDTHH:mm)');
    return at.toUTC().toISO({ suppressMilliseconds: true })!;
  }

  private toForm(c: CampaignResponse): Form {
    const local = (at: string | null) => (at ? DateTime.fromISO(at, { zone: this.view.config.defaultTimeZone }).toFormat("yyyy-MM-dd'T'HH:mm") : '');
    return {
      name: c.name,
      topic: c.topic,
      sender: c.sender,
      priority: String(c.priority),
      subjectDe: c.subject.de ?? '',
      bodyDe: c.body.de ?? '',
      subjectEn: c.subject.en ?? '',
      bodyEn: c.body.en ?? '',
      summaryDe: c.digestSummary.de ?? '',
      summaryEn: c.digestSummary.en ?? '',
      localeFallback: c.localeFallback ? 'on' : undefined,
      sendAtLocal: local(c.sendAt),
      expiresAtLocal: local(c.expiresAt),
      audience: c.audience ? JSON.stringify(c.audience) : '',
    };
  }

  // ---- refusals ------------------------------------------------------------------------------

  private async find(id: string): Promise<CampaignResponse | null> {
    return this.campaigns.get(id).catch((error: unknown) => {
      if (error instanceof DomainException && error.code === ErrorCode.NotFound) return null;
      throw error;
    });
  }

  private missing(request: FastifyRequest, reply: FastifyReply): string {
    void reply.status(404);
    return this.view.notFound(request, this.view.t(request).campaignMissing);
  }

  private conflict(request: FastifyRequest, reply: FastifyReply, campaign: CampaignResponse): string {
    const t = this.view.t(request);
    void reply.status(409);
    return this.view.page(request, 'message', t.conflictTitle, {
      heading: t.conflictTitle,
      text: fill(t.conflictText, { status: t[`campaign_${campaign.status}`] ?? campaign.status }),
      link: { href: `/console/campaigns/${campaign.id}`, label: t.backToCampaign },
    });
  }

  /** A form the service refused: the form again with the fields named (400), or the conflict page (409). */
  private async refused(error: unknown, request: FastifyRequest, reply: FastifyReply, campaign: CampaignResponse | null, form: Form): Promise<string> {
    if (!(error instanceof DomainException)) throw error;
    if (error.code === ErrorCode.Conflict && campaign) return this.conflict(request, reply, await this.campaigns.get(campaign.id));
    if (error.code !== ErrorCode.Validation && error.code !== ErrorCode.Unprocessable) throw error;
    void reply.status(400);
    return this.form(request, campaign, form, error.errors?.length ? error.errors : [{ field: 'body', message: error.detail }]);
  }

  /** An action the service refused: the campaign page saying why (400, 409 or 422). */
  private async refusedOnPage(error: unknown, request: FastifyRequest, reply: FastifyReply, campaign: CampaignResponse): Promise<string> {
    if (!(error instanceof DomainException) || ![ErrorCode.Validation, ErrorCode.Conflict, ErrorCode.Unprocessable].includes(error.code)) throw error;
    void reply.status(error.status);
    return this.detail(
      request,
      await this.campaigns.get(campaign.id),
      error.errors?.length ? error.errors.map((e) => `${e.field} ${e.message}`) : [error.detail],
    );
  }
}

/** The form field an API field error belongs to. */
const FORM_FIELD: Record<string, string> = {
  'subject.de': 'subjectDe',
  'subject.en': 'subjectEn',
  'body.de': 'bodyDe',
  'body.en': 'bodyEn',
  'digestSummary.de': 'summaryDe',
  'digestSummary.en': 'summaryEn',
  sendAt: 'sendAtLocal',
  expiresAt: 'expiresAtLocal',
};
/** The API field a form field reports under. */
const FIELD_OF: Record<string, string> = Object.fromEntries(Object.entries(FORM_FIELD).map(([api, form]) => [form, api]));
