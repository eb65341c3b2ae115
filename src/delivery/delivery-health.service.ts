// What the operations page of the console shows about mail flow, read from the shared database
// (so every instance tells the same): the outbox by status and the age of the oldest due row,
// recipient domains paused now, bounces and complaints per day, and how much of the relay's rate
// the last minute used.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';

export interface DeliveryHealth {
  outbox: { status: string; count: number }[];
  /** Seconds the oldest due queued row has waited; 0 when none is due. */
  oldestDueSeconds: number;
  pausedDomains: { domain: string; pausedUntil: Date; reason: string | null }[];
  /** Per UTC day, newest first: addresses blocked for bouncing or complaining, and hard-bounced mails. */
  blocksPerDay: { day: string; bounced: number; complained: number; hardBounces: number }[];
  /** The one SMTP relay: its configured rate and what the last minute used of it. */
  relays: { name: string; ratePerSecond: number | null; maxConnections: number; sentLastMinute: number; usedPercent: number | null }[];
}

@Injectable()
export class DeliveryHealthService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async snapshot(days = 14): Promise<DeliveryHealth> {
    const now = this.clock.now();
    const [outbox, [due], paused, blocks, bounces, [recent]] = await Promise.all([
      this.db.query(`SELECT status, count(*)::int AS count FROM deliveries GROUP BY status ORDER BY status`),
      this.db.query(`SELECT min(next_attempt_at) AS at FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1`, [now]),
      this.db.query(`SELECT domain, paused_until, reason FROM domain_pauses WHERE paused_until > $1 ORDER BY paused_until DESC LIMIT 100`, [now]),
      this.db.query(
        `SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
                count(*) FILTER (WHERE reason = 'bounced')::int AS bounced, count(*) FILTER (WHERE reason = 'complained')::int AS complained
         FROM bounced_addresses WHERE created_at > $1::timestamptz - make_interval(days => $2) GROUP BY 1`,
        [now, days],
      ),
      this.db.query(
        `SELECT to_char(date_trunc('day', updated_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*)::int AS n
         FROM deliveries WHERE status = 'failed' AND reason = 'failed_bounced' AND updated_at > $1::timestamptz - make_interval(days => $2) GROUP BY 1`,
        [now, days],
      ),
      this.db.query(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'sent' AND sent_at > $1::timestamptz - interval '1 minute' AND sent_at <= $1`, [
        now,
      ]),
    ]);
    const perDay = new Map<string, { day: string; bounced: number; complained: number; hardBounces: number }>();
    const day = (d: string) => perDay.get(d) ?? perDay.set(d, { day: d, bounced: 0, complained: 0, hardBounces: 0 }).get(d)!;
    for (const b of blocks) Object.assign(day(b.day), { bounced: b.bounced, complained: b.complained });
    for (const b of bounces) day(b.day).hardBounces = b.n;
    const rate = this.config.smtpRatePerSecond ?? null;
    return {
      outbox,
      oldestDueSeconds: due?.at ? Math.round((now.getTime() - due.at.getTime()) / 1000) : 0,
      pausedDomains: paused.map((p: { domain: string; paused_until: Date; reason: string | null }) => ({
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
          sentLastMinute: recent.n,
          usedPercent: rate ? Math.round((100 * recent.n) / (rate * 60)) : null,
        },
      ],
    };
  }
}
