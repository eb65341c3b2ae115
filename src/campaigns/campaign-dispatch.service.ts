// Turns a due campaign into one decision per candidate subscriber, set-based: each batch is one
// INSERT … SELECT that resolves the audience, reserves cadence windows by compare-and-set, and
// writes queued / deferred / suppressed / expired rows with their reasons, then checkpoints the
// cursor in the same transaction. A crash resumes at the cursor; idempotency keys make a
// repeated batch a no-op.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { CadenceService } from '../cadence/cadence.service';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { withAdvisoryLock } from '../database/advisory-lock';
import { Reason } from '../reasons/reason-codes';
import { AudienceFilter, compileAudience } from './audience-filter';

export interface DispatchResult {
  campaigns: number;
  decided: number;
}

interface DueCampaign {
  id: string;
  topic_id: string;
  sender: string;
  priority: number;
  audience: AudienceFilter | null;
  expires_at: Date | null;
  dispatch_cursor: string | null;
}

export const campaignKeyPrefix = (campaignId: string) => `campaign:${campaignId}:`;

/** The cursor before every subscriber id: a dispatch starts here, and a dry run looks at everyone from here. */
export const FIRST_CURSOR = '00000000-0000-0000-0000-000000000000';

/**
 * The decision for every candidate of one batch, in SQL. It mirrors decide() in
 * cadence.policy.ts: consent, audience, expiry, then the window (send now, or fold into the next
 * digest, or expire when the item would be stale by then). `candidates` defines the CTEs cand,
 * quiet and eligible; the caller adds `reserved` (subscriber ids whose window it holds) before
 * `decided`. Parameters: $1 topic, $2 cursor, $3 batch size, $4 now, $5 key prefix,
 * $6 campaign id, $7 sender, $8 priority, $9 expires_at, $10/$11 quiet hours; the audience
 * filter's parameters follow.
 *
 * Cost per candidate is what counts here (1,000,000 per campaign; bench/enqueue.js): candidates
 * come index-only from subscribers_dispatch_idx in id order (the heap is in random uuid order),
 * quiet hours are computed once per zone, and only windows seen free are attempted: the
 * compare-and-set stays the authority for those, and a window already held at the snapshot is
 * deferred, as the compare-and-set would decide, without locking its row.
 */
export function decisionSql(audienceSql: string): { candidates: string; decided: string; insert: string } {
  const candidates = `
    cand AS (
      SELECT s.id, s.status, s.cadence, s.locale, s.time_zone, s.digest_weekday, s.digest_hour, ts.status AS sub_status,
             coalesce(${audienceSql}, false) AS in_audience,
             w.last_marketing_at,
             -- When the window opens again: NULL (never taken) or not after $4 means free now.
             tactful_window_end(w.last_marketing_at, s.time_zone, tactful_window_days(s.cadence)) AS opens,
             -- The sender's share of this customer's windows: at most max_slots in the last per_slots windows.
             CASE WHEN b.sender IS NULL THEN true ELSE (
               SELECT count(*) FROM deliveries bd
               WHERE bd.subscriber_id = s.id AND bd.sender = $7 AND bd.class = 'marketing' AND bd.status IN ('queued', 'sending', 'sent')
                 AND bd.created_at > $4::timestamptz - make_interval(days => b.per_slots * tactful_window_days(s.cadence))) < b.max_slots
             END AS budget_ok
      FROM topic_subscriptions ts
      JOIN subscribers s ON s.id = ts.subscriber_id
      LEFT JOIN cadence_windows w ON w.subscriber_id = s.id
      LEFT JOIN sender_budgets b ON b.sender = $7
      WHERE ts.topic_id = $1 AND ts.subscriber_id > $2::uuid
      ORDER BY ts.subscriber_id
      LIMIT $3),
    -- The end of quiet hours depends only on the zone: once per zone of the batch, not per row.
    quiet AS (
      SELECT z.time_zone, tactful_outside_quiet($4, z.time_zone, $10, $11) AS send_at
      FROM (SELECT DISTINCT time_zone FROM cand) z),
    eligible AS (
      SELECT c.id, c.cadence, c.time_zone FROM cand c
      WHERE c.status = 'active' AND c.sub_status = 'confirmed' AND c.in_audience AND c.budget_ok
        AND (c.opens IS NULL OR c.opens <= $4)
        AND ($9::timestamptz IS NULL OR $9 > (SELECT q.send_at FROM quiet q WHERE q.time_zone = c.time_zone)))`;
  const decided = `
    decided AS (
      SELECT c.id, c.locale, d.status, d.reason, d.at
      FROM cand c
      LEFT JOIN quiet q ON q.time_zone = c.time_zone
      LEFT JOIN reserved r ON r.subscriber_id = c.id
      CROSS JOIN LATERAL (
        SELECT tactful_next_digest(c.opens, $4, c.time_zone, c.digest_weekday, c.digest_hour) AS digest_at, q.send_at) t
      CROSS JOIN LATERAL (
        SELECT CASE
          WHEN c.status IN ('bounced', 'complained', 'unsubscribed', 'paused', 'pending') THEN 'suppressed'
          WHEN c.sub_status <> 'confirmed' OR NOT c.in_audience THEN 'suppressed'
          WHEN r.subscriber_id IS NOT NULL THEN 'queued'
          WHEN $9::timestamptz IS NOT NULL AND $9 <= greatest(t.digest_at, $4) THEN 'expired'
          ELSE 'deferred' END AS status,
        CASE
          WHEN c.status = 'bounced'      THEN '${Reason.SuppressedBounced}'
          WHEN c.status = 'complained'   THEN '${Reason.SuppressedComplained}'
          WHEN c.status = 'unsubscribed' THEN '${Reason.SuppressedUnsubscribed}'
          WHEN c.status = 'paused'       THEN '${Reason.SuppressedPaused}'
          WHEN c.status = 'pending'      THEN '${Reason.SuppressedUnconfirmed}'
          WHEN c.sub_status = 'revoked'  THEN '${Reason.SuppressedUnsubscribed}'
          WHEN c.sub_status <> 'confirmed' THEN '${Reason.SuppressedUnconfirmed}'
          WHEN NOT c.in_audience         THEN '${Reason.SuppressedAudience}'
          WHEN r.subscriber_id IS NOT NULL AND t.send_at > $4 THEN '${Reason.QueuedQuietHours}'
          WHEN r.subscriber_id IS NOT NULL THEN '${Reason.Queued}'
          WHEN $9::timestamptz IS NOT NULL AND $9 <= greatest(t.digest_at, $4) THEN '${Reason.Expired}'
          WHEN NOT c.budget_ok           THEN '${Reason.DeferredBudget}'
          ELSE '${Reason.DeferredCadence}' END AS reason,
        CASE WHEN r.subscriber_id IS NOT NULL THEN t.send_at ELSE coalesce(t.digest_at, $4) END AS at) d)`;
  const insert = `
    INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key,
                            priority, next_attempt_at, expires_at, created_at, updated_at)
    SELECT x.id, 'marketing', 'campaign', $1, $6::text, $7, x.locale, x.status, x.reason, $5 || x.id::text, $8, x.at, $9, $4, $4
    FROM decided x
    ON CONFLICT (idempotency_key) DO NOTHING`;
  return { candidates, decided, insert };
}

/**
 * The dispatch's decisions without its writes (the audience dry run, and the differential test
 * against decide()): the CTEs up to `decided` (columns id, locale, status, reason, at), with
 * "would reserve" (eligible, window free at $4) in place of the compare-and-set. Parameters as
 * decisionSql; the caller adds the final SELECT over `decided`.
 */
export function dryRunSql(audienceSql: string): string {
  const { candidates, decided } = decisionSql(audienceSql);
  return `WITH ${candidates},
         -- The dispatch's write-only parameters, typed here so the shared parameter list stays valid.
         unused_params AS (SELECT $5::text, $6::text, $7::text, $8::int),
         reserved AS (
           SELECT e.id AS subscriber_id FROM eligible e JOIN cand c ON c.id = e.id
           WHERE c.last_marketing_at IS NULL OR tactful_window_end(c.last_marketing_at, c.time_zone, tactful_window_days(c.cadence)) <= $4),
         ${decided}`;
}

/**
 * Settings for the batch's transaction: its CTEs hold a batch of rows each (in memory, not spilled
 * to temp files), and JIT compiling the statement costs more than it saves (≈ 110 ms per batch,
 * bench/plans/enqueue-1m.txt).
 */
export const DISPATCH_BATCH_SETTINGS = [`SET LOCAL work_mem = '64MB'`, `SET LOCAL jit = off`];

/**
 * One dispatch batch as one statement: decide, reserve the windows seen free, write every
 * decision; returns the batch's candidate count, its last subscriber id (the next cursor) and
 * how many rows it inserted. Parameters as decisionSql.
 */
export function dispatchBatchSql(audienceSql: string): string {
  const { candidates, decided, insert } = decisionSql(audienceSql);
  return `WITH ${candidates},
       reserved AS (${CadenceService.reserveCte('eligible', '$4::timestamptz', '$5::text || e.id::text')}),
       ${decided},
       inserted AS (${insert} RETURNING 1)
     SELECT (SELECT count(*)::int FROM cand) AS candidates,
            (SELECT max(id::text) FROM cand) AS last_id,
            (SELECT count(*)::int FROM inserted) AS inserted`;
}

/**
 * Every candidate has a decision: the campaign is sending, or completed at once when nothing of
 * it waits in the outbox (everyone deferred, say; one probe of deliveries_ref_idx). Its counts
 * are stored by the campaign-progress job. $1 campaign, $2 now, $3 the campaign id as deliveries.ref_id.
 */
const DISPATCHED_SQL = `
  WITH dispatched AS (
    UPDATE campaigns c SET status = CASE WHEN w.waiting THEN 'sending' ELSE 'completed' END,
      completed_at = CASE WHEN w.waiting THEN NULL ELSE $2::timestamptz END, finished_at = $2, updated_at = $2
    FROM (SELECT EXISTS (SELECT 1 FROM deliveries WHERE ref_id = $3 AND status IN ('queued', 'sending') AND kind = 'campaign') AS waiting) w
    WHERE c.id = $1 AND c.status = 'dispatching'
    RETURNING c.status)
  SELECT status FROM dispatched`;

@Injectable()
export class CampaignDispatchService {
  private readonly logger = new Logger(CampaignDispatchService.name);
  batchSize = 50_000;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly cadence: CadenceService,
  ) {}

  /** Dispatches every due campaign, highest priority first, so it wins the contested windows. */
  async dispatchDue(): Promise<DispatchResult> {
    const run = await withAdvisoryLock(this.db, 'tactful:job:dispatch-campaigns', async () => {
      const result: DispatchResult = { campaigns: 0, decided: 0 };
      for (;;) {
        const now = this.clock.now();
        const [campaign]: DueCampaign[] = await this.db.query(
          `SELECT id, topic_id, sender, priority, audience, expires_at, dispatch_cursor FROM campaigns
           WHERE status IN ('scheduled', 'dispatching') AND send_at <= $1
           ORDER BY priority DESC, send_at, id LIMIT 1`,
          [now],
        );
        if (!campaign) return result;
        result.campaigns++;
        result.decided += await this.dispatch(campaign);
      }
    });
    return run.ran ? run.result : { campaigns: 0, decided: 0 };
  }

  /** dispatching while it decides, sending once every candidate has a decision (campaign-state.policy.ts). */
  private async dispatch(campaign: DueCampaign): Promise<number> {
    let decided = 0;
    // Guarded: a cancel between the SELECT above and here stays a cancel.
    await this.db.query(
      `UPDATE campaigns SET status = 'dispatching', started_at = coalesce(started_at, $2), updated_at = $2
       WHERE id = $1 AND status IN ('scheduled', 'dispatching')`,
      [campaign.id, this.clock.now()],
    );
    for (;;) {
      const batch = await this.db.transaction((tx) => this.dispatchBatch(tx, campaign));
      decided += batch.inserted;
      if (batch.candidates < this.batchSize) break;
    }
    const [dispatched] = await this.db.query(DISPATCHED_SQL, [campaign.id, this.clock.now(), campaign.id]);
    this.logger.log({ campaign: campaign.id, decided, status: dispatched?.status ?? 'cancelled' }, 'campaign dispatched');
    return decided;
  }

  private async dispatchBatch(tx: EntityManager, campaign: DueCampaign): Promise<{ candidates: number; inserted: number }> {
    const [{ dispatch_cursor: cursor, status }] = await tx.query(`SELECT dispatch_cursor, status FROM campaigns WHERE id = $1 FOR UPDATE`, [campaign.id]);
    if (status !== 'dispatching') return { candidates: 0, inserted: 0 };
    const now = this.clock.now();
    const params: unknown[] = [
      campaign.topic_id,
      cursor ?? FIRST_CURSOR,
      this.batchSize,
      now,
      campaignKeyPrefix(campaign.id),
      campaign.id,
      campaign.sender,
      campaign.priority,
      campaign.expires_at,
      this.cadence.quietHours.start,
      this.cadence.quietHours.end,
    ];
    for (const setting of DISPATCH_BATCH_SETTINGS) await tx.query(setting);
    const [row] = await tx.query(dispatchBatchSql(compileAudience(campaign.audience, params, 's')), params);
    if (row.last_id) await tx.query(`UPDATE campaigns SET dispatch_cursor = $2 WHERE id = $1`, [campaign.id, row.last_id]);
    return { candidates: row.candidates, inserted: row.inserted };
  }
}
