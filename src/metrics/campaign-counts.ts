// A campaign's decisions by status and reason over time, kept as a rollup per campaign and hour
// (migration 1767000100000-CampaignCounts): the deliveries triggers append each statement's net
// change to campaign_count_deltas, the fold-delivery-counts job folds them into campaign_counts,
// and a read adds both (metrics.queries.ts). Its cost depends on a campaign's hours and reasons,
// never on its number of recipients; it equals a GROUP BY over the campaign's deliveries as of
// the reading snapshot (test/integration/campaign-counts.spec.ts).
import { Injectable } from '@nestjs/common';
import { Db, Sql } from '../database/sql';
import { readReason } from '../reasons/reason-codes';
import { MetricsQueries as Q } from './metrics.queries';

export interface CampaignCount {
  campaignId: string;
  /** The start of the UTC hour of the rows' latest decision (their updated_at). */
  hour: Date;
  status: string;
  reason: string;
  /** A digest carried these mails (their digest_delivery_id is set). */
  viaDigest: boolean;
  n: number;
}

export async function readCampaignCounts(db: Sql, campaignIds: readonly string[]): Promise<CampaignCount[]> {
  if (campaignIds.length === 0) return [];
  const rows = await db.rows(Q.campaignCounts, [[...campaignIds]]);
  return rows.map((r) => ({ campaignId: r.campaign_id, hour: r.hour, status: r.status, reason: r.reason, viaDigest: r.via_digest, n: Number(r.n) }));
}

/** Folds the per-campaign deltas into the rollup; answers how many deltas were folded. */
export async function foldCampaignCounts(db: Sql): Promise<number> {
  return (await db.row(Q.foldCampaignCounts, []))!.n;
}

/** The rollup for the services and pages that show a campaign's figures. */
@Injectable()
export class CampaignCounts {
  constructor(private readonly db: Db) {}

  /** Every group of these campaigns' deliveries, ordered by campaign, hour, status and reason. */
  of(campaignIds: readonly string[]): Promise<CampaignCount[]> {
    return readCampaignCounts(this.db, campaignIds);
  }
}

/** A campaign's stats as GET /v1/campaigns/{id}/stats gives them (reasons under their current names), from its rollup rows. */
export function statsOf(counts: readonly CampaignCount[]): { total: number; byStatus: Record<string, number>; byReason: Record<string, number> } {
  const byStatus: Record<string, number> = {};
  const byReason: Record<string, number> = {};
  let total = 0;
  for (const c of counts) {
    if (c.n === 0) continue;
    total += c.n;
    byStatus[c.status] = (byStatus[c.status] ?? 0) + c.n;
    const reason = readReason(c.reason);
    byReason[reason] = (byReason[reason] ?? 0) + c.n;
  }
  return { total, byStatus, byReason };
}
