// The console's operations figures (docs/SQL.md): read-only counts over the shared database, so
// every instance shows the same.
import { queries, sql } from '../database/statements';

export const DeliveryHealthQueries = queries('deliveryHealth', {
  oldestDue: sql<[now: Date], { at: Date | null }>(
    'When the oldest due queued row became due: how far the workers are behind. min() so a backlog costs one scan of the queued rows, not a sort.',
    `SELECT min(next_attempt_at) AS at FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1`,
  ),
  pausedDomains: sql<[now: Date], { domain: string; paused_until: Date; reason: string | null }>(
    'Recipient domains paused now, latest pause end first; capped at 100 so a page never lists a runaway table.',
    `SELECT domain, paused_until, reason FROM domain_pauses WHERE paused_until > $1 ORDER BY paused_until DESC LIMIT 100`,
  ),
  blocksPerDay: sql<[now: Date, days: number], { day: string; bounced: number; complained: number }>(
    'Addresses blocked for bouncing or complaining, per UTC day over the last `days` days: the day is formatted in UTC so every instance groups alike.',
    `SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
            count(*) FILTER (WHERE reason = 'bounced')::int AS bounced, count(*) FILTER (WHERE reason = 'complained')::int AS complained
     FROM bounced_addresses WHERE created_at > $1::timestamptz - make_interval(days => $2) GROUP BY 1`,
  ),
  hardBouncesPerDay: sql<[now: Date, days: number], { day: string; n: number }>(
    'Mails that failed on a hard bounce, per UTC day over the last `days` days (updated_at is when they failed), to set beside the blocked addresses.',
    `SELECT to_char(date_trunc('day', updated_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*)::int AS n
     FROM deliveries WHERE status = 'failed' AND reason = 'failed_bounced' AND updated_at > $1::timestamptz - make_interval(days => $2) GROUP BY 1`,
  ),
  sentLastMinute: sql<[now: Date, cap: number], { n: number }>(
    "Mails sent in the minute up to now: what the relay's rate was used for, measured from the rows rather than an instance's own counter. A range of deliveries_sent_at_idx, counted up to `cap` (past the relay's whole minute there is nothing more to tell), so a page costs the same at any send rate.",
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM deliveries WHERE status = 'sent' AND sent_at > $1::timestamptz - interval '1 minute' AND sent_at <= $1 LIMIT $2) recent`,
  ),
});
