// The console's customer view: look a customer up by address and see their whole story on one
// screen: profile, consent records with their evidence, topics, cadence and slot, when the next
// marketing mail can go (or why none can), every decision in plain words, and each sent mail as
// the customer got it (re-rendered with inert links). Reads only, through the API's services.
import { Controller, Get, Header, Inject, Param, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/scopes';
import { CampaignsService } from '../campaigns/campaigns.service';
import { ApiLangQuery, ApiPage } from '../common/openapi';
import { IdParam } from '../common/params';
import { DomainException, ErrorCode, invalid } from '../common/problem';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { MailViewService } from '../delivery/mail-view.service';
import { ListSubscribersQuery, SubscriberResponse } from '../subscribers/dto/subscriber.dto';
import { SubscribersService } from '../subscribers/subscribers.service';
import { Timeline, TimelineService } from '../subscribers/timeline.service';
import { TopicsService } from '../topics/topics.service';
import { ConsoleGuard, ConsolePageFilter, ConsoleScopes } from './console-access';
import { CONSOLE_PAGE_ANSWERS } from './console-openapi';
import { ConsoleView, fill } from './console-view';
import { mailPageCsp, mailPage } from './mail-page';

/** Decisions shown per page of the timeline ("older" goes on). */
const TIMELINE_PAGE = 200;
const NOT_GOT = new Set(['deferred', 'suppressed', 'expired', 'failed', 'queued']);

@ApiTags('console')
@Public()
@UseGuards(ConsoleGuard)
@UseFilters(ConsolePageFilter)
@ConsoleScopes('read', 'subscribers:write')
@Controller('console/customers')
export class ConsoleCustomersController {
  constructor(
    private readonly view: ConsoleView,
    private readonly subscribers: SubscribersService,
    private readonly timelines: TimelineService,
    private readonly topics: TopicsService,
    private readonly campaigns: CampaignsService,
    private readonly mails: MailViewService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: look a customer up by e-mail address (the customer page, or the lookup form)' })
  @ApiQuery({ name: 'email', required: false, schema: { type: 'string', maxLength: 320 }, description: 'The address to look up (trimmed, lower-cased).' })
  @ApiLangQuery()
  @ApiPage(
    CONSOLE_PAGE_ANSWERS({ 200: 'The customer page, or the lookup form when no address is given.', 404: 'The lookup form: no customer has this address.' }),
  )
  async lookup(@Query('email') email: string | undefined, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const t = this.view.t(request);
    if (email === undefined || email.trim() === '') return this.view.page(request, 'lookup', t.lookupTitle, {}, { section: 'customers' });
    if (typeof email !== 'string' || email.length > 320) throw invalid('email', 'must be one address of at most 320 characters');
    const page = await this.subscribers.list({ email, limit: 1 } as ListSubscribersQuery);
    const found = page.items[0];
    if (!found) {
      void reply.status(404);
      return this.view.page(request, 'lookup', t.lookupTitle, { email, notFound: fill(t.lookupNone, { email }) }, { section: 'customers' });
    }
    return this.render(request, found, undefined);
  }

  @Get(':id')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: a customer’s whole story (profile, consent evidence, topics, cadence, next marketing date, every decision in words)' })
  @ApiQuery({
    name: 'before',
    required: false,
    description: 'Older decisions: the cursor of the “older” link.',
    schema: { type: 'string', pattern: '^\\d{1,18}$' },
  })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The customer page.', 404: 'No such customer.' }))
  async show(
    @IdParam() id: string,
    @Query('before') before: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw invalid('before', 'must be a cursor of an “older” link');
    const customer = await this.subscribers.get(id).catch((error: unknown) => {
      if (error instanceof DomainException && error.code === ErrorCode.NotFound) return null;
      throw error;
    });
    if (!customer) {
      void reply.status(404);
      return this.view.notFound(request, this.view.t(request).customerMissing);
    }
    return this.render(request, customer, before);
  }

  @Get(':id/mails/:deliveryId')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Console: a sent mail as the customer got it',
    description:
      'Composed again by the worker’s own code in a read-only transaction; every personal link (preferences, unsubscribe, feedback) is replaced by the inert sample link. Sandboxed by its own Content-Security-Policy.',
  })
  @ApiParam({
    name: 'deliveryId',
    description: 'The decision’s id on the timeline.',
    schema: { type: 'string', pattern: '^\\d{1,18}$', description: 'A 64-bit integer, as the timeline gives it.' },
  })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The mail’s HTML, as sent, with inert links.', 404: 'No sent mail of this customer has this id.' }))
  async mail(
    @IdParam() id: string,
    @Param('deliveryId') deliveryId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (!/^\d{1,18}$/.test(deliveryId)) throw invalid('deliveryId', 'must be the id of a decision on the timeline');
    const mail = await this.mails.sent(id, deliveryId);
    void reply.header('content-type', 'text/html; charset=utf-8');
    if (!mail) {
      void reply.status(404);
      return this.view.notFound(request, this.view.t(request).mailMissing);
    }
    void reply.header('content-security-policy', mailPageCsp);
    return mailPage(mail.html, {
      subject: mail.subject,
      back: `/console/customers/${id}`,
      backLabel: this.view.t(request).backToCustomer,
      note: fill(this.view.t(request).mailNote, { when: this.view.when(mail.sentAt, this.view.locale(request))! }),
    });
  }

  private async render(request: FastifyRequest, customer: SubscriberResponse, before: string | undefined): Promise<string> {
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const [timeline, topics] = await Promise.all([this.timelines.timeline(customer.id, TIMELINE_PAGE, before), this.topics.list(true)]);
    const topicName = new Map(topics.map((x) => [x.key, locale === 'de' ? x.nameDe : x.nameEn]));
    const titles = await this.campaigns.titles(timeline.items.filter((i) => i.kind === 'campaign' && i.refId).map((i) => i.refId!));
    const zone = customer.timeZone;
    const when = (at: string | null) => this.view.when(at, locale, zone);
    const weekdays = t.weekdays.split(',');
    const itemTitle = (kind: string, refId: string | null) => {
      const campaign = kind === 'campaign' && refId ? titles.get(refId) : undefined;
      if (!campaign) return null;
      // In the customer's language: the subject as they saw it.
      return (customer.locale === 'de' ? (campaign.subject.de ?? campaign.subject.en) : (campaign.subject.en ?? campaign.subject.de)) ?? campaign.name;
    };
    const entries = timeline.items.map((item) => {
      const title = itemTitle(item.kind, item.refId);
      const reason = item.reasonLabel[locale];
      const next = item.nextAttemptAt ? fill(item.status === 'deferred' ? t.goesWithDigest : t.goesAt, { when: when(item.nextAttemptAt)! }) : null;
      return {
        id: item.id,
        status: item.status,
        iso: item.at,
        when: when(item.at),
        what: [t[`kind_${item.kind}`] ?? fill(t.kind_other, { kind: item.kind }), item.topic ? (topicName.get(item.topic) ?? item.topic) : null]
          .filter(Boolean)
          .join(' · '),
        title,
        statusLabel: t[`status_${item.status}`] ?? item.status,
        reason,
        next,
        attempts: item.attempts > 1 ? fill(t.attempts, { n: item.attempts }) : null,
        mailHref: item.status === 'sent' ? `/console/customers/${customer.id}/mails/${item.id}` : null,
      };
    });
    const notGot = entries.filter((e) => NOT_GOT.has(e.status) && e.title);
    return this.view.page(
      request,
      'customer',
      customer.email,
      {
        customer,
        statusLabel: t[`subscriber_${customer.status}`] ?? customer.status,
        outlook: this.outlook(timeline, locale, zone, t),
        notGot,
        profile: [
          [t.profileStatus, t[`subscriber_${customer.status}`] ?? customer.status],
          [t.profileLanguage, customer.locale === 'de' ? 'Deutsch' : 'English'],
          [t.profileTimeZone, customer.timeZone],
          [t.profileCadence, t[`cadence_${customer.cadence}`] ?? customer.cadence],
          [
            t.profileSlot,
            fill(t.slotText, {
              weekday: weekdays[customer.digestWeekday - 1] ?? String(customer.digestWeekday),
              hour: String(customer.digestHour).padStart(2, '0'),
            }),
          ],
          [t.profileSource, customer.source],
          [t.profileConfirmed, when(customer.confirmedAt) ?? t.never],
          [t.profilePaused, when(customer.pausedUntil) ?? t.notPaused],
          [t.profileCreated, when(customer.createdAt)],
          ...Object.entries(customer.attributes ?? {}).map(([name, value]) => [`${t.profileAttribute} ${name}`, String(value)]),
        ].map(([label, value]) => ({ label, value })),
        consents: customer.topics.map((c) => ({
          topic: topicName.get(c.topic) ?? c.topic,
          status: t[`subscription_${c.status}`] ?? c.status,
          consentedAt: when(c.consentedAt),
          source: t[`source_${c.source}`] ?? c.source,
          byKey: c.apiKey ? fill(t.byKey, { name: c.apiKey.name ?? c.apiKey.id }) : null,
          ip: c.ip,
          userAgent: c.userAgent,
          textVersion: c.textVersion,
          confirmedAt: when(c.confirmedAt),
          revokedAt: when(c.revokedAt),
          revokedBy: c.revocationSource
            ? (t[`revoked_${c.revocationSource}`] ?? c.revocationSource) + (c.revokedByApiKey ? ` (${c.revokedByApiKey.name})` : '')
            : null,
        })),
        choices: timeline.customerChoices.map((c) => ({
          when: when(c.at),
          text:
            c.action === 'dropped_topic'
              ? fill(t.choiceDropped, { topic: topicName.get(c.topic) ?? c.topic })
              : fill(c.rating === 'useful' ? t.choiceUseful : t.choiceNotUseful, {
                  topic: topicName.get(c.topic) ?? c.topic,
                  title: itemTitle(c.itemType ?? '', c.itemId ?? null) ?? '',
                }),
        })),
        entries,
        older: timeline.nextCursor ? `/console/customers/${customer.id}?before=${timeline.nextCursor}` : null,
        newer: before ? `/console/customers/${customer.id}` : null,
        decisionsShown: fill(t.decisionsShown, { n: entries.length }),
        // Months past the decision log's retention: counted when dropped, shown after the last page.
        earlier: timeline.nextCursor
          ? []
          : timeline.earlier.map((e) =>
              fill(t.earlierLine, {
                n: e.count,
                status: t[`status_${e.status}`] ?? e.status,
                class: t[`class_${e.class}`] ?? e.class,
                from: when(e.firstAt)!,
                to: when(e.lastAt)!,
              }),
            ),
        earlierNote: fill(t.earlierNote, { months: this.config.retention.decisionLogMonths }),
      },
      { section: 'customers' },
    );
  }

  private outlook(timeline: Timeline, locale: Locale, zone: string, t: Record<string, string>) {
    const when = (at: string | null) => this.view.when(at, locale, zone, 'full');
    if (timeline.noMarketingLabel) return { none: timeline.noMarketingLabel[locale], pausedUntil: when(timeline.pausedUntil) };
    return {
      nextSlot: when(timeline.nextMarketingSlot),
      nextDigest: when(timeline.nextDigestAt) ?? t.noDigest,
      lastMarketing: when(timeline.lastMarketingAt) ?? t.never,
      pausedUntil: when(timeline.pausedUntil),
    };
  }
}
