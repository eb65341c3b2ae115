// The metrics' statements (docs/SQL.md): what a Prometheus scrape reads from the database.
import { queries, sql } from '../database/statements';

export const MetricsQueries = queries('metrics', {
  decisions: sql<[], { class: string; status: string; reason: string; n: number }>(
    'Deliveries by class, status and reason: the outbox and the decision log at once.',
    `SELECT class, status, reason, count(*)::int AS n FROM deliveries GROUP BY class, status, reason`,
  ),
  oldestDue: sql<[now: Date], { at: Date | null }>(
    'The oldest queued row that is due: how far the worker is behind.',
    `SELECT min(next_attempt_at) AS at FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1`,
  ),
  digestLag: sql<[now: Date], { at: Date | null }>(
    'The most overdue digest of an active subscriber.',
    `SELECT min(next_digest_at) AS at FROM subscribers WHERE status = 'active' AND next_digest_at <= $1`,
  ),
  pausedDomains: sql<[now: Date], { n: number }>(
    'Recipient domains paused right now after an SMTP policy block.',
    `SELECT count(*)::int AS n FROM domain_pauses WHERE paused_until > $1`,
  ),
});
