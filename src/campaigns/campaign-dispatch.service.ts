// Turns a due campaign into one decision per candidate subscriber, set-based: each batch is one
// INSERT … SELECT that resolves the audience, reserves cadence windows by compare-and-set, and
// writes queued / deferred / suppressed / expired rows with their reasons, then checkpoints the
// cursor in the same transaction (the campaign row locked FOR UPDATE). A crash resumes at the
// cursor, so no batch is written twice: a campaign's rows need no key in delivery_keys (the
// partitioned decision log's idempotency guard, which every other kind of row claims on insert).
// The statements: campaigns.queries.ts.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CadenceService } from '../cadence/cadence.service';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { withAdvisoryLock } from '../database/advisory-lock';
import { Db, Tx } from '../database/sql';
import { CampaignQueries as Q, compileAudience, DecisionParams, DueCampaign, withAudience } from './campaigns.queries';

export interface DispatchResult {
  campaigns: number;
  decided: number;
}

export const campaignKeyPrefix = (campaignId: string) => `campaign:${campaignId}:`;

/** The cursor before every subscriber id: a dispatch starts here, and a dry run looks at everyone from here. */
export const FIRST_CURSOR = '00000000-0000-0000-0000-000000000000';

@Injectable()
export class CampaignDispatchService {
  private readonly logger = new Logger(CampaignDispatchService.name);
  batchSize = 50_000;

  constructor(
    private readonly db: Db,
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
        const campaign = await this.db.row(Q.nextDue, [now]);
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
    await this.db.run(Q.startDispatch, [campaign.id, this.clock.now()]);
    for (;;) {
      const batch = await this.db.transaction((tx) => this.dispatchBatch(tx, campaign));
      decided += batch.inserted;
      if (batch.candidates < this.batchSize) break;
    }
    const dispatched = await this.db.row(Q.dispatched, [campaign.id, this.clock.now(), campaign.id]);
    this.logger.log({ campaign: campaign.id, decided, status: dispatched?.status ?? 'cancelled' }, 'campaign dispatched');
    return decided;
  }

  private async dispatchBatch(tx: Tx, campaign: DueCampaign): Promise<{ candidates: number; inserted: number }> {
    const { dispatch_cursor: cursor, status } = (await tx.row(Q.lockCursor, [campaign.id]))!;
    if (status !== 'dispatching') return { candidates: 0, inserted: 0 };
    const now = this.clock.now();
    const params: DecisionParams = [
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
    await tx.run(Q.batchSettings, []);
    const row = (await tx.row(withAudience(Q.dispatchBatch, compileAudience(campaign.audience, params, 's')), params))!;
    if (row.last_id) await tx.run(Q.saveCursor, [campaign.id, row.last_id]);
    return { candidates: row.candidates, inserted: row.inserted };
  }
}
