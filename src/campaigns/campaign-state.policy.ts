// The life of a campaign, each state named for what is true in it, and its progress as counted
// from its outbox rows. Pure: campaign-progress.service.ts counts the rows and applies this.
//
//   draft ──schedule──> scheduled ──due──> dispatching ──every candidate decided──> sending
//     sending ──nothing of it left queued or being handed over──> completed
//   any state ──cancel──> cancelled
//
// "Dispatched" (every customer has a decision) is not "sent": a campaign of 2,000 mails is
// dispatched in a second and may take minutes to hand over, longer when quiet hours, retries or
// a paused domain hold mails back. What was deferred belongs to the customers' digests once the
// campaign completes; the digest sends it, not the campaign.

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'dispatching', 'sending', 'completed', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** A marketer may still change what and when. */
export const EDITABLE_STATUSES: readonly string[] = ['draft', 'scheduled'];

/** States in which the dispatch is deciding or the worker is handing mails over: progress lines are logged. */
export const IN_PROGRESS_STATUSES: readonly string[] = ['dispatching', 'sending'];

/** Counts of a campaign's deliveries by what became of them, and how far the sending is. */
export interface CampaignProgress {
  /** Decided to go and waiting in the outbox: for its turn, the end of quiet hours, a retry or a paused domain. */
  queued: number;
  /** Claimed by a worker and being handed to SMTP right now. */
  sending: number;
  /** Handed over to SMTP as a mail of its own. */
  sent: number;
  /** Folded into the customer's next digest, which has not gone yet. */
  deferred: number;
  /** Folded into a digest that went. */
  sentInDigest: number;
  suppressed: number;
  expired: number;
  failed: number;
  /** Handed over twice without an answer from the mail server: it may well have arrived. */
  unknown: number;
  total: number;
  /**
   * Of the mails that go as mails of their own, the share no longer waiting (handed over, failed
   * or unconfirmed), 0-100 rounded down: 100 only when none is left. Mails suppressed or deferred
   * at hand-over leave the count.
   */
  percentDone: number;
  /** When these counts were taken: now while it sends, the moment it completed afterwards. */
  countedAt: string;
}

/** One group of a campaign's deliveries: their status, and whether a digest carried them. */
export interface ProgressRow {
  status: string;
  viaDigest: boolean;
  n: number;
}

export function progressFrom(rows: readonly ProgressRow[], dispatched: boolean, countedAt: Date): CampaignProgress {
  const p: CampaignProgress = {
    queued: 0,
    sending: 0,
    sent: 0,
    deferred: 0,
    sentInDigest: 0,
    suppressed: 0,
    expired: 0,
    failed: 0,
    unknown: 0,
    total: 0,
    percentDone: 0,
    countedAt: countedAt.toISOString(),
  };
  for (const row of rows) {
    p.total += row.n;
    if (row.status === 'sent') {
      if (row.viaDigest) p.sentInDigest += row.n;
      else p.sent += row.n;
    } else if (Object.hasOwn(BUCKETS, row.status)) {
      p[BUCKETS[row.status]] += row.n;
    }
  }
  const done = p.sent + p.failed + p.unknown;
  const goes = done + waiting(p);
  p.percentDone = goes === 0 ? (dispatched ? 100 : 0) : Math.floor((100 * done) / goes);
  return p;
}

const BUCKETS: Record<string, Exclude<keyof CampaignProgress, 'sent' | 'sentInDigest' | 'total' | 'percentDone' | 'countedAt'>> = {
  queued: 'queued',
  sending: 'sending',
  deferred: 'deferred',
  suppressed: 'suppressed',
  expired: 'expired',
  failed: 'failed',
  unknown: 'unknown',
};

/** Mails still in the outbox or in a worker's hands: while there are any, the campaign is sending. */
export function waiting(p: Pick<CampaignProgress, 'queued' | 'sending'>): number {
  return p.queued + p.sending;
}
