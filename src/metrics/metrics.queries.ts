// The metrics' statements (docs/SQL.md): what a Prometheus scrape reads from the database, and the
// fold-delivery-counts job that keeps the decision counts' rollup (delivery-counts.ts). A scrape
// never reads deliveries: its cost depends on the number of groups and of deltas since the last
// fold, never on the size of the history.
import { queries, sql } from '../database/statements';

export const MetricsQueries = queries('metrics', {
  decisions: sql<[], { class: string; status: string; reason: string; n: string }>(
    'Deliveries by class, status and reason (the outbox and the decision log at once), from the rollup: the folded counts plus the deltas the triggers appended since the last fold. n is a bigint (pg hands it over as text).',
    `SELECT class, status, reason, sum(n)::bigint AS n FROM (
       SELECT class, status, reason, n FROM delivery_counts
       UNION ALL SELECT class, status, reason, n FROM delivery_count_deltas) c
     GROUP BY 1, 2, 3 HAVING sum(n) <> 0`,
  ),
  oldestDue: sql<[], { at: Date | null }>(
    "The oldest queued row's due time as the last fold-delivery-counts run measured it: a scrape does not read deliveries.",
    `SELECT oldest_due_at AS at FROM outbox_watermarks`,
  ),
  digestLag: sql<[now: Date], { at: Date | null }>(
    'The most overdue digest of an active subscriber.',
    `SELECT min(next_digest_at) AS at FROM subscribers WHERE status = 'active' AND next_digest_at <= $1`,
  ),
  pausedDomains: sql<[now: Date], { n: number }>(
    'Recipient domains paused right now after an SMTP policy block.',
    `SELECT count(*)::int AS n FROM domain_pauses WHERE paused_until > $1`,
  ),
  // Two folds at once cannot count a delta twice: the second one's DELETE skips the rows the first deleted.
  foldCounts: sql<[], { n: number }>(
    'Moves the decision-count deltas into the rollup (fold-delivery-counts), in one statement: a delta is deleted and added together or not at all.',
    `WITH moved AS (DELETE FROM delivery_count_deltas RETURNING class, status, reason, n)
     , folded AS (
       INSERT INTO delivery_counts (class, status, reason, n)
       SELECT class, status, reason, sum(n) FROM moved GROUP BY 1, 2, 3
       ON CONFLICT (class, status, reason) DO UPDATE SET n = delivery_counts.n + EXCLUDED.n
       RETURNING 1)
     SELECT (SELECT count(*) FROM moved)::int AS n`,
  ),
  campaignCounts: sql<[campaignIds: string[]], { campaign_id: string; hour: Date; status: string; reason: string; via_digest: boolean; n: string }>(
    "These campaigns' deliveries by hour of their latest decision, status, reason and whether a digest carried them, from the per-campaign rollup (campaign-counts.ts): the folded counts plus the deltas since the last fold, through both tables' campaign indexes. A handful of rows per campaign and hour, whatever the campaign's size. n is a bigint (pg hands it over as text).",
    `SELECT campaign_id, hour, status, reason, via_digest, sum(n)::bigint AS n FROM (
       SELECT campaign_id, hour, status, reason, via_digest, n FROM campaign_counts WHERE campaign_id = ANY($1::text[])
       UNION ALL SELECT campaign_id, hour, status, reason, via_digest, n FROM campaign_count_deltas WHERE campaign_id = ANY($1::text[])) c
     GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5`,
  ),
  foldCampaignCounts: sql<[], { n: number }>(
    'Moves the per-campaign deltas into campaign_counts (fold-delivery-counts), in one statement as foldCounts does. A group that nets to zero stays (a row per campaign, hour and passing state such as sending); readers leave it out.',
    `WITH moved AS (DELETE FROM campaign_count_deltas RETURNING campaign_id, hour, status, reason, via_digest, n)
     , folded AS (
       INSERT INTO campaign_counts (campaign_id, hour, status, reason, via_digest, n)
       SELECT campaign_id, hour, status, reason, via_digest, sum(n) FROM moved GROUP BY 1, 2, 3, 4, 5
       ON CONFLICT (campaign_id, hour, status, reason, via_digest) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n
       RETURNING 1)
     SELECT (SELECT count(*) FROM moved)::int AS n`,
  ),
  measureOldestDue: sql<[now: Date]>(
    "Records the oldest queued row's due time for the scrapes (fold-delivery-counts), through the due index: queued rows only, whatever the history.",
    `INSERT INTO outbox_watermarks (one, oldest_due_at, measured_at)
     VALUES (true, (SELECT min(next_attempt_at) FROM deliveries WHERE status = 'queued'), $1)
     ON CONFLICT (one) DO UPDATE SET oldest_due_at = EXCLUDED.oldest_due_at, measured_at = EXCLUDED.measured_at`,
  ),
});
