// The console's listening and operations pages. Listening: per topic, how useful customers found
// the last weeks' mails (a chart drawn on the server), their comments, their topic suggestions,
// and who dropped a topic after rating it not useful. Operations: the outbox, scheduler runs,
// paused domains, bounces and complaints per day, the relay's rate use. Reads only.
import { Controller, Get, Header, Query, Req, UseFilters, UseGuards } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/scopes';
import { Clock } from '../common/clock';
import { ApiLangQuery, ApiPage } from '../common/openapi';
import { invalid } from '../common/problem';
import { DeliveryHealthService } from '../delivery/delivery-health.service';
import { FeedbackService } from '../feedback/feedback.service';
import { SchedulerRunsService } from '../scheduler/scheduler-runs.service';
import { TopicsService } from '../topics/topics.service';
import { weeklyColumns } from './charts';
import { ConsoleGuard, ConsolePageFilter, ConsoleScopes } from './console-access';
import { CONSOLE_PAGE_ANSWERS } from './console-openapi';
import { ConsoleView, fill } from './console-view';

const WEEK = 7 * 86_400_000;

/** The ISO date (YYYY-MM-DD) of the Monday (UTC) of the week `at` lies in, as the feedback trend names weeks. */
function mondayOf(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return day.toISOString().slice(0, 10);
}

@ApiTags('console')
@Public()
@UseGuards(ConsoleGuard)
@UseFilters(ConsolePageFilter)
@Controller('console')
export class ConsoleInsightsController {
  constructor(
    private readonly view: ConsoleView,
    private readonly feedback: FeedbackService,
    private readonly topics: TopicsService,
    private readonly health: DeliveryHealthService,
    private readonly modules: ModuleRef,
    private readonly clock: Clock,
  ) {}

  @Get('listening')
  @ConsoleScopes('read', 'topics:write')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: listening: usefulness per topic over the last weeks, comments, topic suggestions, drops after “not useful”' })
  @ApiQuery({ name: 'weeks', required: false, schema: { type: 'integer', minimum: 1, maximum: 52, default: 8 } })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The listening page.' }))
  async listening(@Query('weeks') weeksParam: string | undefined, @Req() request: FastifyRequest): Promise<string> {
    const weeks = weeksParam === undefined ? 8 : Number(weeksParam);
    if (!/^\d{1,2}$/.test(weeksParam ?? '8') || !Number.isInteger(weeks) || weeks < 1 || weeks > 52)
      throw invalid('weeks', 'must be a whole number from 1 to 52');
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    const now = this.clock.now();
    const span = Array.from({ length: weeks }, (_, i) => mondayOf(new Date(now.getTime() - (weeks - 1 - i) * WEEK)));
    const topics = await this.topics.list(false);
    const [summaries, suggestions, drops] = await Promise.all([
      Promise.all(topics.map((x) => this.feedback.topicSummary(x.key))),
      this.feedback.suggestions(30),
      this.feedback.dropsAfterNotUseful(50),
    ]);
    const name = new Map(topics.map((x) => [x.key, locale === 'de' ? x.nameDe : x.nameEn]));
    const when = (at: string) => this.view.when(at, locale);
    return this.view.page(
      request,
      'listening',
      t.listeningTitle,
      {
        weeks,
        intro: fill(t.listeningIntro, { weeks }),
        weekChoices: [4, 8, 12, 26].map((n) => ({ value: n, selected: n === weeks })),
        topics: topics.map((x, i) => {
          const summary = summaries[i];
          const byWeek = new Map(summary.trend.map((w) => [w.week, w]));
          const trend = span.map((week) => ({ week, useful: byWeek.get(week)?.useful ?? 0, notUseful: byWeek.get(week)?.notUseful ?? 0 }));
          const useful = trend.reduce((n, w) => n + w.useful, 0);
          const notUseful = trend.reduce((n, w) => n + w.notUseful, 0);
          return {
            key: x.key,
            name: name.get(x.key),
            counts: fill(t.listeningCounts, {
              useful,
              notUseful,
              rate: useful + notUseful === 0 ? '—' : `${Math.round((100 * useful) / (useful + notUseful))} %`,
            }),
            chart: weeklyColumns(trend, fill(t.listeningChart, { topic: name.get(x.key) ?? x.key }), { useful: t.useful, notUseful: t.notUseful }),
            rows: trend.map((w) => ({ week: w.week, useful: w.useful, notUseful: w.notUseful })),
            comments: summary.comments
              .slice(0, 5)
              .map((c) => ({ when: when(c.at), rating: c.rating === 'useful' ? t.useful : t.notUseful, comment: c.comment })),
          };
        }),
        suggestions: suggestions.items.map((s) => ({
          when: when(s.createdAt),
          text: s.text,
          lang: s.locale,
          chosen: s.chosenTopics.map((k) => name.get(k) ?? k).join(', '),
        })),
        suggestionsTotal: fill(t.suggestionsTotal, { n: suggestions.total }),
        drops: drops.map((d) => ({
          href: `/console/customers/${d.subscriberId}`,
          email: d.email,
          topic: name.get(d.topic) ?? d.topic,
          ratedAt: when(d.ratedAt),
          droppedAt: when(d.droppedAt),
          comment: d.comment,
        })),
      },
      { section: 'listening' },
    );
  }

  @Get('operations')
  @ConsoleScopes('read')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: operations: outbox depth and oldest age, scheduler runs, paused domains, bounces and complaints per day, relay rate use' })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The operations page.' }))
  async operations(@Req() request: FastifyRequest): Promise<string> {
    const locale = this.view.locale(request);
    const t = this.view.t(request);
    // Registered once by AppModule (SchedulerModule.register(config)): found, not imported again.
    const runs = this.modules.get(SchedulerRunsService, { strict: false });
    const [health, recentRuns] = await Promise.all([this.health.snapshot(14), runs.recent(undefined, 30)]);
    const n = (v: number) => this.view.number(v, locale);
    const when = (at: Date | string) => this.view.when(at, locale);
    return this.view.page(
      request,
      'operations',
      t.operationsTitle,
      {
        outbox: health.outbox.map((o) => ({ status: t[`status_${o.status}`] ?? o.status, count: n(o.count) })),
        oldest:
          health.oldestDueSeconds > 0
            ? fill(t.oldestDue, { minutes: n(Math.round(health.oldestDueSeconds / 60)), seconds: n(health.oldestDueSeconds) })
            : t.nothingDue,
        paused: health.pausedDomains.map((p) => ({ domain: p.domain, until: when(p.pausedUntil), reason: p.reason })),
        days: health.blocksPerDay.map((d) => ({ ...d })),
        relays: health.relays.map((r) => {
          // Counted up to a cap (delivery-health.service.ts): past it the page says "at least".
          const sent = r.sentLastMinuteCapped ? `≥ ${n(r.sentLastMinute)}` : n(r.sentLastMinute);
          return {
            name: r.name,
            rate: r.ratePerSecond
              ? fill(t.relayRate, { rate: r.ratePerSecond, connections: r.maxConnections })
              : fill(t.relayUnlimited, { connections: r.maxConnections }),
            used: r.usedPercent === null ? fill(t.relaySent, { n: sent }) : fill(t.relayUsed, { n: sent, percent: r.usedPercent }),
            percent: r.usedPercent,
          };
        }),
        runs: recentRuns.map((r) => ({
          job: r.job,
          instance: r.instance,
          at: when(r.startedAt),
          tookMs: new Date(r.finishedAt).getTime() - new Date(r.startedAt).getTime(),
          counts: Object.entries(r.counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
          error: r.error,
        })),
      },
      { section: 'operations' },
    );
  }
}
