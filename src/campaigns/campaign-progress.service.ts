// How far each campaign is: counted from its outbox rows, logged while it sends, and the step
// from `sending` to `completed` once nothing of it is left to hand over. This runs as a scheduler
// job (campaign-progress), never in the worker: the hand-over of a mail costs nothing extra.
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { withAdvisoryLock } from '../database/advisory-lock';
import { MetricsQueries } from '../metrics/metrics.queries';
import { CampaignProgress, IN_PROGRESS_STATUSES, progressFrom, ProgressRow, waiting } from './campaign-state.policy';

/** A campaign as far as its progress goes. */
export interface ProgressSubject {
  id: string;
  status: string;
  /** The counts stored when it completed (or settled after a cancel), else null. */
  progress: CampaignProgress | null;
}

/** One progress line: ids and counts only, no personal data. */
export interface ProgressLine extends CampaignProgress {
  campaign: string;
  status: string;
}

export interface ProgressTick {
  /** Campaigns that went from sending to completed. */
  completed: number;
  /** Cancelled (or older completed) campaigns whose final counts were stored. */
  settled: number;
  /** The progress lines logged in this tick. */
  lines: ProgressLine[];
}

// A campaign's deliveries by status, and whether a digest carried them: the per-campaign rollup
// (metrics/campaign-counts.ts, equal to grouping its deliveries; test sends left out), read in the
// caller's transaction so a cancel sees its own changes. A handful of rows per campaign and hour,
// not one per recipient: a campaign of a million shows its progress at once.
const COUNT_SQL = MetricsQueries.campaignCounts.text;

// Campaigns whose final counts are not stored yet (campaigns_open_idx): every one being sent, and
// a few cancelled ones (their last mails may still be in a worker's hands) or completed ones
// (completed at their dispatch, or before these counts existed) per tick.
const OPEN_SQL = `
  (SELECT id, status FROM campaigns WHERE progress IS NULL AND status IN ('dispatching', 'sending'))
  UNION ALL
  (SELECT id, status FROM campaigns WHERE progress IS NULL AND status IN ('completed', 'cancelled') ORDER BY id LIMIT 20)`;

// Nothing of it is left in the outbox: sending -> completed with its final counts; a cancelled or
// older completed campaign keeps its status and gets its counts. Guarded by the status read
// before counting, so a cancel in between wins (and clears the counts for a recount).
const SETTLE_SQL = `
  WITH settled AS (
    UPDATE campaigns SET
      status = CASE WHEN status = 'sending' THEN 'completed' ELSE status END,
      completed_at = CASE WHEN status = 'sending' THEN $3::timestamptz ELSE completed_at END,
      progress = $4::jsonb, updated_at = $3::timestamptz
    WHERE id = $1 AND status = $2 AND progress IS NULL
    RETURNING id)
  SELECT id FROM settled`;

const REPEAT_UNCHANGED_MS = 5 * 60_000;

@Injectable()
export class CampaignProgressService {
  private readonly logger = new Logger('CampaignProgress');
  /** The last line this instance logged per campaign, and when: a new line when something moved, else every few minutes. */
  private readonly lastLines = new Map<string, { key: string; at: number }>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  /** The progress to show for each campaign: none before its dispatch, the stored counts once settled, else counted now. */
  /** `tx`: inside a transaction that changed them (a cancel), its own view of the rows. */
  async of(campaigns: readonly ProgressSubject[], tx: EntityManager = this.db.manager): Promise<Map<string, CampaignProgress | null>> {
    const shown = new Map<string, CampaignProgress | null>();
    const toCount: ProgressSubject[] = [];
    for (const c of campaigns) {
      if (c.status === 'draft' || c.status === 'scheduled') shown.set(c.id, null);
      else if (c.progress) shown.set(c.id, c.progress);
      else toCount.push(c);
    }
    for (const [id, progress] of await this.count(toCount, tx)) shown.set(id, progress);
    return shown;
  }

  /** Counts now, in one statement for all of them. */
  async count(campaigns: readonly Pick<ProgressSubject, 'id' | 'status'>[], tx: EntityManager = this.db.manager): Promise<Map<string, CampaignProgress>> {
    if (campaigns.length === 0) return new Map();
    const rows: { campaign_id: string; status: string; via_digest: boolean; n: string }[] = await tx.query(COUNT_SQL, [campaigns.map((c) => c.id)]);
    const byCampaign = new Map<string, ProgressRow[]>(campaigns.map((c) => [c.id, []]));
    for (const r of rows) byCampaign.get(r.campaign_id)?.push({ status: r.status, viaDigest: r.via_digest, n: Number(r.n) });
    const now = this.clock.now();
    return new Map(campaigns.map((c) => [c.id, progressFrom(byCampaign.get(c.id)!, c.status !== 'dispatching', now)]));
  }

  /**
   * One tick of the campaign-progress job: a progress line for each campaign being sent (when it
   * moved since the last one), and the final step for each whose outbox is empty. One instance
   * at a time; null when another holds the turn.
   */
  async tick(): Promise<ProgressTick | null> {
    const run = await withAdvisoryLock(this.db, 'tactful:job:campaign-progress', async () => {
      const open: { id: string; status: string }[] = await this.db.query(OPEN_SQL);
      const counts = await this.count(open);
      const result: ProgressTick = { completed: 0, settled: 0, lines: [] };
      for (const campaign of open) {
        const progress = counts.get(campaign.id)!;
        if (IN_PROGRESS_STATUSES.includes(campaign.status)) {
          const line = this.report(campaign, progress);
          if (line) result.lines.push(line);
        }
        const settled = await this.settle(campaign, progress);
        if (settled === 'completed') result.completed++;
        else if (settled === 'settled') result.settled++;
      }
      return result;
    });
    return run.ran ? run.result : null;
  }

  private async settle(campaign: { id: string; status: string }, progress: CampaignProgress): Promise<'completed' | 'settled' | null> {
    if (campaign.status === 'dispatching' || waiting(progress) > 0) return null;
    const settled = await this.db.query(SETTLE_SQL, [campaign.id, campaign.status, this.clock.now(), JSON.stringify(progress)]);
    if (settled.length === 0) return null;
    this.lastLines.delete(campaign.id);
    if (campaign.status !== 'sending') return 'settled';
    this.logger.log({ campaign: campaign.id, ...progress }, 'campaign completed');
    return 'completed';
  }

  private report(campaign: { id: string; status: string }, progress: CampaignProgress): ProgressLine | null {
    const { countedAt, ...counts } = progress;
    const key = `${campaign.status}:${JSON.stringify(counts)}`;
    const now = this.clock.now().getTime();
    const last = this.lastLines.get(campaign.id);
    // Unchanged counts are repeated now and then: a campaign held back (quiet hours, a paused
    // domain) still shows up in the log as waiting.
    if (last && last.key === key && now - last.at < REPEAT_UNCHANGED_MS) return null;
    this.lastLines.set(campaign.id, { key, at: now });
    const line: ProgressLine = { campaign: campaign.id, status: campaign.status, ...progress, countedAt };
    this.logger.log(line, `campaign ${campaign.status}: ${progress.percentDone} % done`);
    return line;
  }
}
