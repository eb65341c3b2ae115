// How far each campaign is: counted from its outbox rows, logged while it sends, and the step
// from `sending` to `completed` once nothing of it is left to hand over. This runs as a scheduler
// job (campaign-progress), never in the worker: the hand-over of a mail costs nothing extra.
// The statements: campaigns.queries.ts.
import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { withAdvisoryLock } from '../database/advisory-lock';
import { Db, Sql } from '../database/sql';
import { MetricsQueries } from '../metrics/metrics.queries';
import { CampaignProgress, IN_PROGRESS_STATUSES, progressFrom, ProgressRow, waiting } from './campaign-state.policy';
import { CampaignQueries as Q } from './campaigns.queries';

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

const REPEAT_UNCHANGED_MS = 5 * 60_000;

@Injectable()
export class CampaignProgressService {
  private readonly logger = new Logger('CampaignProgress');
  /** The last line this instance logged per campaign, and when: a new line when something moved, else every few minutes. */
  private readonly lastLines = new Map<string, { key: string; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** The progress to show for each campaign: none before its dispatch, the stored counts once settled, else counted now. */
  /** `tx`: inside a transaction that changed them (a cancel), its own view of the rows. */
  async of(campaigns: readonly ProgressSubject[], tx: Sql = this.db): Promise<Map<string, CampaignProgress | null>> {
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
  async count(campaigns: readonly Pick<ProgressSubject, 'id' | 'status'>[], tx: Sql = this.db): Promise<Map<string, CampaignProgress>> {
    if (campaigns.length === 0) return new Map();
    // The per-campaign rollup (metrics/campaign-counts.ts, equal to grouping its deliveries; test
    // sends left out), read in the caller's transaction so a cancel sees its own changes: a handful
    // of rows per campaign and hour, so a campaign of a million shows its progress at once.
    const rows = await tx.rows(MetricsQueries.campaignCounts, [campaigns.map((c) => c.id)]);
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
      const open = await this.db.rows(Q.openCampaigns, []);
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
    const settled = await this.db.run(Q.settle, [campaign.id, campaign.status, this.clock.now(), JSON.stringify(progress)]);
    if (settled === 0) return null;
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
