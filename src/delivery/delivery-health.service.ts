// What the operations page of the console shows about mail flow, read from the shared database
// (so every instance tells the same): the outbox by status and the age of the oldest due row,
// recipient domains paused now, bounces and complaints per day, and how much of the relay's rate
// the last minute used.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db } from '../database/sql';
import { readDecisionCounts } from '../metrics/delivery-counts';
import { DeliveryHealthQueries as Q } from './delivery-health.queries';

export interface DeliveryHealth {
  outbox: { status: string; count: number }[];
  /** Seconds the oldest due queued row has waited; 0 when none is due. */
  oldestDueSeconds: number;
  pausedDomains: { domain: string; pausedUntil: Date; reason: string | null }[];
  /** Per UTC day, newest first: addresses blocked for bouncing or complaining, and hard-bounced mails. */
  blocksPerDay: { day: string; bounced: number; complained: number; hardBounces: number }[];
  /** The one SMTP relay: its configured rate and what the last minute used of it. */
  relays: {
    name: string;
    ratePerSecond: number | null;
    maxConnections: number;
    sentLastMinute: number;
    /** Counted no further than this: the relay's whole minute and half again, or 10,000 without a rate. */
    sentLastMinuteCapped: boolean;
    usedPercent: number | null;
  }[];
}

/** Without a configured rate, the last minute's sent mail is counted up to this. */
const SENT_COUNT_CAP_WITHOUT_RATE = 10_000;

@Injectable()
export class DeliveryHealthService {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async snapshot(days = 14): Promise<DeliveryHealth> {
    const now = this.clock.now();
    const [decisions, due, paused, blocks, bounces, recent] = await Promise.all([
      // From the decision-count rollup (as /metrics): its cost does not grow with the history.
      readDecisionCounts(this.db),
      this.db.row(Q.oldestDue, [now]),
      this.db.rows(Q.pausedDomains, [now]),
      this.db.rows(Q.blocksPerDay, [now, days]),
      this.db.rows(Q.hardBouncesPerDay, [now, days]),
      this.db.row(Q.sentLastMinute, [now, this.sentCountCap()]),
    ]);
    const perDay = new Map<string, { day: string; bounced: number; complained: number; hardBounces: number }>();
    const day = (d: string) => perDay.get(d) ?? perDay.set(d, { day: d, bounced: 0, complained: 0, hardBounces: 0 }).get(d)!;
    for (const b of blocks) Object.assign(day(b.day), { bounced: b.bounced, complained: b.complained });
    for (const b of bounces) day(b.day).hardBounces = b.n;
    const byStatus = new Map<string, number>();
    for (const d of decisions) byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + d.n);
    const outbox = [...byStatus]
      .filter(([, count]) => count > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, count]) => ({ status, count }));
    const rate = this.config.smtpRatePerSecond ?? null;
    return {
      outbox,
      oldestDueSeconds: due?.at ? Math.round((now.getTime() - due.at.getTime()) / 1000) : 0,
      pausedDomains: paused.map((p) => ({
        domain: p.domain,
        pausedUntil: p.paused_until,
        reason: p.reason,
      })),
      blocksPerDay: [...perDay.values()].sort((a, b) => b.day.localeCompare(a.day)),
      relays: [
        {
          name: this.config.smtpUrl ? new URL(this.config.smtpUrl).host : 'outbox folder (.eml files)',
          ratePerSecond: rate,
          maxConnections: this.config.smtpMaxConnections,
          sentLastMinute: recent?.n ?? 0,
          sentLastMinuteCapped: (recent?.n ?? 0) >= this.sentCountCap(),
          usedPercent: rate ? Math.round((100 * (recent?.n ?? 0)) / (rate * 60)) : null,
        },
      ],
    };
  }

  /** How far "sent in the last minute" is counted: a page's cost must not grow with the send rate. */
  private sentCountCap(): number {
    const rate = this.config.smtpRatePerSecond;
    return rate ? Math.ceil(rate * 60 * 1.5) : SENT_COUNT_CAP_WITHOUT_RATE;
  }
}
