// The campaigns domain's statements (docs/SQL.md): campaigns and their content, the send-time
// gate, the dispatch (a due campaign decided for its whole topic audience, batch by batch) and
// its dry run, the campaign-progress job, sender budgets.
//
// The dispatch batch and the dry run take the campaign's audience filter (audience-filter.ts): a
// tree the marketer sends, compiled here into a boolean expression whose values are all bind
// parameters (compileAudience). Their registered text is the one without a filter (`true`), which
// the start-up check prepares like every other; a campaign with a filter runs the same text with
// its compiled filter in that one place (withAudience). Nothing else of a text varies.
import { reserveSql } from '../cadence/window.queries';
import type { Locale } from '../config/config';
import { queries, sql, Statement } from '../database/statements';
import { Reason } from '../reasons/reason-codes';
import type { AudienceFilter } from './audience-filter';
import type { CampaignProgress } from './campaign-state.policy';

// ---- campaigns -------------------------------------------------------------------------------

export interface CampaignRow {
  id: string;
  name: string;
  topic_id: string;
  topic_key: string;
  topic_name_de: string;
  topic_name_en: string;
  sender: string;
  priority: number;
  status: string;
  subject_de: string | null;
  subject_en: string | null;
  body_de: string | null;
  body_en: string | null;
  digest_summary_de: string | null;
  digest_summary_en: string | null;
  locale_fallback: boolean;
  audience: AudienceFilter | null;
  digest_url: string | null;
  send_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  /** The final counts, stored once nothing of it is left in the outbox (campaign-progress job). */
  progress: CampaignProgress | null;
}

/** A campaign with its topic's key and names, as the API and compose read it. */
const CAMPAIGN = `SELECT c.*, t.key AS topic_key, t.name_de AS topic_name_de, t.name_en AS topic_name_en
       FROM campaigns c JOIN topics t ON t.id = c.topic_id`;

/** "Lately" in the audience dry run's count of recipients who rated the topic not useful. */
export const FEEDBACK_LATELY_DAYS = 90;

/** A campaign due for dispatch, as the dispatch reads it. */
export interface DueCampaign {
  id: string;
  topic_id: string;
  sender: string;
  priority: number;
  audience: AudienceFilter | null;
  expires_at: Date | null;
  dispatch_cursor: string | null;
}

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
    FROM decided x WHERE x.reason <> '${Reason.SuppressedAudience}'`;
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

/** The audience dry run's answer: who would get the campaign now, later in a digest, never, and why. */
function audienceDryRunSql(audienceSql: string): string {
  return `${dryRunSql(audienceSql)}
       SELECT status, reason, count(*)::int AS count, min(at) FILTER (WHERE status = 'deferred') AS first_digest,
              -- Recipients who told us lately that this topic's mails were not useful to them.
              count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM feedback f WHERE f.subscriber_id = decided.id AND f.topic_id = $1 AND f.rating = 'not_useful'
                  AND f.created_at > $4::timestamptz - make_interval(days => ${FEEDBACK_LATELY_DAYS})))::int AS rated_not_useful
       FROM decided GROUP BY status, reason ORDER BY status, reason`;
}

/**
 * "Not in this campaign's audience" is a count, not a row per customer (issue 21: a decision that
 * explains nothing to the customer; a fifth of the simulated quarter's log): the batch adds it to
 * the campaign's counts and the decision counts (the deltas the deliveries triggers would have
 * appended for such rows), so the campaign's stats, its progress and /metrics read it as before.
 * Exactly once: the batch's transaction also moves the dispatch cursor past these customers.
 */
const outsideAudienceCounts = `
       outside AS (SELECT count(*)::int AS n FROM decided WHERE reason = '${Reason.SuppressedAudience}'),
       outside_campaign AS (
         INSERT INTO campaign_count_deltas (campaign_id, hour, status, reason, via_digest, n)
         SELECT $6::text, date_bin('1 hour', $4::timestamptz, timestamptz '2000-01-01 00:00:00+00'), 'suppressed', '${Reason.SuppressedAudience}', false, n
         FROM outside WHERE n > 0),
       outside_total AS (
         INSERT INTO delivery_count_deltas (class, status, reason, n)
         SELECT 'marketing', 'suppressed', '${Reason.SuppressedAudience}', n FROM outside WHERE n > 0)`.trimEnd();

/**
 * One dispatch batch as one statement: decide, reserve the windows seen free, write every
 * decision; returns the batch's candidate count, its last subscriber id (the next cursor) and
 * how many decisions it wrote (rows, and the counted customers outside the audience). Parameters as decisionSql.
 */
export function dispatchBatchSql(audienceSql: string): string {
  const { candidates, decided, insert } = decisionSql(audienceSql);
  return `WITH ${candidates},
       reserved AS (${reserveSql('eligible', '$4::timestamptz', '$5::text || e.id::text')}),
       ${decided},
       inserted AS (${insert} RETURNING 1),
       ${outsideAudienceCounts}
     SELECT (SELECT count(*)::int FROM cand) AS candidates,
            (SELECT max(id::text) FROM cand) AS last_id,
            (SELECT count(*)::int FROM inserted) + (SELECT n FROM outside) AS inserted`;
}

/**
 * The parameters of the dispatch's decision (decisionSql), in order; the audience filter's bound
 * values follow them (compileAudience pushes them onto the same list).
 */
export type DecisionParams = [
  topicId: string,
  cursor: string,
  batchSize: number,
  now: Date,
  keyPrefix: string,
  campaignId: string,
  sender: string,
  priority: number,
  expiresAt: Date | null,
  quietStart: number,
  quietEnd: number,
  ...audience: unknown[],
];

export interface DispatchBatchRow {
  candidates: number;
  last_id: string | null;
  inserted: number;
}

export interface AudienceDryRunRow {
  status: string;
  reason: string;
  count: number;
  first_digest: Date | null;
  rated_not_useful: number;
}

export interface SenderBudgetRow {
  sender: string;
  max_slots: number;
  per_slots: number;
  updated_at: Date;
}

export const CampaignQueries = queries('campaigns', {
  topicRef: sql<[key: string], { id: string; archived: boolean }>(
    'The topic a campaign names by key (the unique index): its id, and whether it is archived (it then takes no new campaign).',
    `SELECT id, archived FROM topics WHERE key = $1`,
  ),
  create: sql<
    [
      name: string,
      topicId: string,
      sender: string,
      priority: number,
      subjectDe: string | null,
      subjectEn: string | null,
      bodyDe: string | null,
      bodyEn: string | null,
      digestSummaryDe: string | null,
      digestSummaryEn: string | null,
      localeFallback: boolean,
      audience: string | null,
      sendAt: string | null,
      expiresAt: string | null,
      now: Date,
      digestUrl: string | null,
    ],
    { id: string }
  >(
    'A new campaign, always a draft: scheduling is its own step, after the content has been checked whole.',
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, subject_en, body_de, body_en,
                              digest_summary_de, digest_summary_en, locale_fallback, audience, send_at, expires_at, created_at, updated_at, digest_url)
       VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16) RETURNING id`,
  ),
  byId: sql<[id: string], CampaignRow>('One campaign with its topic (primary key).', `${CAMPAIGN} WHERE c.id = $1`),
  list: sql<[status: string | null], CampaignRow>(
    'The newest 500 campaigns, of one status when asked for: one text for both (a null status lists every one).',
    `${CAMPAIGN} WHERE $1::text IS NULL OR c.status = $1 ORDER BY c.created_at DESC LIMIT 500`,
  ),
  titles: sql<[ids: string[]], { id: string; name: string; subject_de: string | null; subject_en: string | null }>(
    'Names and subjects of the campaigns a list mentions (the console timeline), in one read by primary key.',
    `SELECT id, name, subject_de, subject_en FROM campaigns WHERE id = ANY($1::uuid[])`,
  ),
  update: sql<
    [
      id: string,
      name: string | null,
      topicId: string,
      sender: string | null,
      priority: number | null,
      subjectDe: string | null,
      subjectEn: string | null,
      bodyDe: string | null,
      bodyEn: string | null,
      digestSummaryDe: string | null,
      digestSummaryEn: string | null,
      localeFallback: boolean | null,
      audience: string | null,
      sendAt: string | null,
      expiresAt: string | null,
      now: Date,
      digestUrl: string | null,
    ]
  >(
    'A PATCH of a draft or scheduled campaign: a null keeps the optional columns; subject, body, audience and times come merged ' +
      'with the stored ones (they were checked together), so they are written as given.',
    `UPDATE campaigns SET name = coalesce($2, name), topic_id = $3, sender = coalesce($4, sender), priority = coalesce($5, priority),
         subject_de = $6, subject_en = $7, body_de = $8, body_en = $9,
         digest_summary_de = coalesce($10, digest_summary_de), digest_summary_en = coalesce($11, digest_summary_en),
         locale_fallback = coalesce($12, locale_fallback), audience = $13, send_at = $14, expires_at = $15, updated_at = $16,
         digest_url = coalesce($17, digest_url)
       WHERE id = $1`,
  ),
  lockStatus: sql<[id: string], { status: string }>(
    'A revise or cancel locks the campaign row first: the dispatch (which locks it per batch) and a second cancel wait for it.',
    `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`,
  ),
  revise: sql<
    [
      id: string,
      subjectDe: string | null,
      subjectEn: string | null,
      bodyDe: string | null,
      bodyEn: string | null,
      digestSummaryDe: string | null,
      digestSummaryEn: string | null,
      expiresAt: Date | null,
      now: Date,
    ]
  >(
    'New words and expiry for a campaign whose subject moved (a rescheduled webinar), whatever its status.',
    `UPDATE campaigns SET subject_de = $2, subject_en = $3, body_de = $4, body_en = $5, digest_summary_de = $6, digest_summary_en = $7,
           expires_at = $8, updated_at = $9 WHERE id = $1`,
  ),
  reviseWaiting: sql<[id: string, expiresAt: Date | null, now: Date]>(
    'The copies of a revised campaign still waiting (deferred into a digest, queued) take its new expiry (deliveries_ref_idx); sent ones stay.',
    `UPDATE deliveries SET expires_at = $2, updated_at = $3 WHERE ref_id = $1 AND kind = 'campaign' AND status IN ('queued', 'deferred')`,
  ),
  schedule: sql<[id: string, sendAt: Date, now: Date]>(
    'A checked draft (or a scheduled campaign, moved) becomes due at its send time (campaigns_due_idx).',
    `UPDATE campaigns SET status = 'scheduled', send_at = $2, updated_at = $3 WHERE id = $1`,
  ),
  cancel: sql<[id: string, now: Date]>(
    'Cancelled: its counts change now (deferred copies are suppressed too), so the stored ones go and the campaign-progress job ' +
      "stores them again once the last mail in a worker's hands has settled.",
    `UPDATE campaigns SET status = 'cancelled', cancelled_at = $2, updated_at = $2, progress = NULL WHERE id = $1`,
  ),
  cancelWaiting: sql<[id: string, reason: Reason, now: Date], { id: string; subscriber_id: string; idempotency_key: string }>(
    'Everything of a cancelled campaign not yet handed to SMTP is suppressed, in one statement; it returns the mails whose windows ' +
      'the cancel then releases. Rows being handed over right now are locked by their worker: SKIP LOCKED leaves them, and the ' +
      "worker's send-time gate sees the cancelled campaign.",
    `WITH target AS (
           SELECT id FROM deliveries WHERE ref_id = $1 AND kind = 'campaign' AND status IN ('queued', 'deferred') FOR UPDATE SKIP LOCKED)
         , done AS (
           UPDATE deliveries d SET status = 'suppressed', reason = $2, updated_at = $3 FROM target WHERE d.id = target.id
           RETURNING d.id, d.subscriber_id, d.idempotency_key)
         SELECT id, subscriber_id, idempotency_key FROM done`,
  ),
  subscriberLocale: sql<[subscriberId: string], { locale: Locale }>(
    'A preview for a subscriber takes only their language (the links stay inert samples).',
    `SELECT locale FROM subscribers WHERE id = $1`,
  ),
  testSend: sql<[addresses: string[], topicId: string, campaignId: string, sender: string, locale: string, run: string, now: Date]>(
    'A test send: one service-class row per listed address, set-based; the run id in the key lets the same addresses be sent again.',
    `INSERT INTO deliveries (to_address, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key,
                               next_attempt_at, created_at, updated_at, payload)
       SELECT a, 'service', 'campaign_test', $2, $3, $4, $5, 'queued', 'queued', 'test:' || $3 || ':' || $6 || ':' || a, $7, $7, $7, '{"test": true}'
       FROM unnest($1::text[]) a`,
  ),
  gate: sql<
    [subscriberId: string | null, topicId: string | null, campaignId: string | null],
    { subscription_status: string | null; status: string | null; expires_at: Date | null; version: string | null }
  >(
    'The send-time facts of a campaign mail in one round trip: the subscription (locked FOR SHARE, so a consent change waits for ' +
      "the hand-over), the campaign's state, and the version (xmin) of the campaign and topic rows that compose reuses. " +
      'Run on every campaign mail: prepared.',
    `WITH subscription AS (
   SELECT status FROM topic_subscriptions WHERE subscriber_id = $1 AND topic_id = $2 FOR SHARE)
 SELECT (SELECT status FROM subscription) AS subscription_status, c.status, c.expires_at,
        c.xmin::text || ':' || t.xmin::text AS version
 FROM (VALUES (1)) one LEFT JOIN campaigns c ON c.id = $3 LEFT JOIN topics t ON t.id = c.topic_id`,
    { prepared: true },
  ),

  // ---- dispatch ------------------------------------------------------------------------------
  nextDue: sql<[now: Date], DueCampaign>(
    'The next due campaign, highest priority first, so it wins the contested windows (campaigns_due_idx).',
    `SELECT id, topic_id, sender, priority, audience, expires_at, dispatch_cursor FROM campaigns
           WHERE status IN ('scheduled', 'dispatching') AND send_at <= $1
           ORDER BY priority DESC, send_at, id LIMIT 1`,
  ),
  startDispatch: sql<[id: string, now: Date]>(
    'Dispatching while it decides; guarded, so a cancel between reading it due and here stays a cancel.',
    `UPDATE campaigns SET status = 'dispatching', started_at = coalesce(started_at, $2), updated_at = $2
       WHERE id = $1 AND status IN ('scheduled', 'dispatching')`,
  ),
  lockCursor: sql<[id: string], { dispatch_cursor: string | null; status: string }>(
    "Each batch locks its campaign first: a cancel waits for the batch (or the batch sees the cancel), and the cursor read is the batch's own.",
    `SELECT dispatch_cursor, status FROM campaigns WHERE id = $1 FOR UPDATE`,
  ),
  batchSettings: sql<[]>(
    "Settings for the batch's transaction (SET LOCAL, one round trip): its CTEs hold a batch of rows each (in memory, not spilled " +
      'to temp files), and JIT compiling the statement costs more than it saves (≈ 110 ms per batch, bench/plans/enqueue-1m.txt).',
    `SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)`,
  ),
  dispatchBatch: sql<DecisionParams, DispatchBatchRow>(
    'One dispatch batch as one statement (dispatchBatchSql): decide, reserve the windows seen free, write every decision. ' +
      'Text for a campaign without an audience filter; withAudience() puts a filter in.',
    dispatchBatchSql('true'),
  ),
  saveCursor: sql<[id: string, cursor: string]>(
    "The batch's checkpoint, in its transaction: a crash resumes after the last subscriber it decided.",
    `UPDATE campaigns SET dispatch_cursor = $2 WHERE id = $1`,
  ),
  dispatched: sql<[id: string, now: Date, refId: string], { status: string }>(
    'Every candidate has a decision: the campaign is sending, or completed at once when nothing of it waits in the outbox ' +
      '(everyone deferred, say; one probe of deliveries_ref_idx). Its counts are stored by the campaign-progress job. ' +
      'No row: it was cancelled meanwhile.',
    `WITH dispatched AS (
    UPDATE campaigns c SET status = CASE WHEN w.waiting THEN 'sending' ELSE 'completed' END,
      completed_at = CASE WHEN w.waiting THEN NULL ELSE $2::timestamptz END, finished_at = $2, updated_at = $2
    FROM (SELECT EXISTS (SELECT 1 FROM deliveries WHERE ref_id = $3 AND status IN ('queued', 'sending') AND kind = 'campaign') AS waiting) w
    WHERE c.id = $1 AND c.status = 'dispatching'
    RETURNING c.status)
  SELECT status FROM dispatched`,
  ),
  audienceDryRun: sql<DecisionParams, AudienceDryRunRow>(
    'The audience dry run: the decision SQL of the dispatch run as a SELECT, counted by status and reason, with the recipients ' +
      'who lately rated the topic not useful. Changes nothing. Text for a campaign without an audience filter; withAudience() puts a filter in.',
    audienceDryRunSql('true'),
  ),

  // ---- progress ------------------------------------------------------------------------------
  openCampaigns: sql<[], { id: string; status: string }>(
    'Campaigns whose final counts are not stored yet (campaigns_open_idx): every one being sent, and a few cancelled ones (their ' +
      "last mails may still be in a worker's hands) or completed ones (completed at their dispatch, or before these counts existed) per tick.",
    `(SELECT id, status FROM campaigns WHERE progress IS NULL AND status IN ('dispatching', 'sending'))
  UNION ALL
  (SELECT id, status FROM campaigns WHERE progress IS NULL AND status IN ('completed', 'cancelled') ORDER BY id LIMIT 20)`,
  ),
  settle: sql<[id: string, status: string, now: Date, progress: string], { id: string }>(
    'Nothing of it is left in the outbox: sending -> completed with its final counts; a cancelled or older completed campaign keeps ' +
      'its status and gets its counts. Guarded by the status read before counting, so a cancel in between wins (and clears the counts ' +
      'for a recount).',
    `WITH settled AS (
    UPDATE campaigns SET
      status = CASE WHEN status = 'sending' THEN 'completed' ELSE status END,
      completed_at = CASE WHEN status = 'sending' THEN $3::timestamptz ELSE completed_at END,
      progress = $4::jsonb, updated_at = $3::timestamptz
    WHERE id = $1 AND status = $2 AND progress IS NULL
    RETURNING id)
  SELECT id FROM settled`,
  ),

  // ---- sender budgets ------------------------------------------------------------------------
  senderBudgets: sql<[], SenderBudgetRow>(
    'Every sender budget in force, by sender.',
    `SELECT sender, max_slots, per_slots, updated_at FROM sender_budgets ORDER BY sender`,
  ),
  putSenderBudget: sql<[sender: string, maxSlots: number, perSlots: number, at: Date], SenderBudgetRow>(
    "A sender's budget, created or replaced whole (PUT): dispatch reads it for every campaign of that sender.",
    `INSERT INTO sender_budgets (sender, max_slots, per_slots, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sender) DO UPDATE SET max_slots = EXCLUDED.max_slots, per_slots = EXCLUDED.per_slots, updated_at = EXCLUDED.updated_at
     RETURNING sender, max_slots, per_slots, updated_at`,
  ),
  deleteSenderBudget: sql<[sender: string]>(
    'Removes a budget (the cadence cap still applies); the row count says whether there was one.',
    `DELETE FROM sender_budgets WHERE sender = $1`,
  ),
});

/**
 * A statement of the audience family (dispatchBatch, audienceDryRun) for one campaign: the
 * registered text with the campaign's compiled filter (compileAudience, whose values are bound
 * after the decision's parameters) in the place of `true`. Without a filter, the registered
 * statement itself.
 */
export function withAudience<R>(statement: Statement<DecisionParams, R>, audienceSql: string): Statement<DecisionParams, R> {
  if (audienceSql === 'true') return statement;
  const text = AUDIENCE_TEXTS.get(statement as Statement<DecisionParams, unknown>);
  if (!text) throw new Error(`statement ${statement.name} takes no audience filter`);
  return Object.freeze({ ...statement, text: text(audienceSql).trim() });
}

/** The statements that take an audience filter, and how each one's text is built around it. */
const AUDIENCE_TEXTS = new Map<Statement<DecisionParams, unknown>, (audienceSql: string) => string>([
  [CampaignQueries.dispatchBatch, dispatchBatchSql],
  [CampaignQueries.audienceDryRun, audienceDryRunSql],
]);

// ---- the audience filter -----------------------------------------------------------------------

/**
 * Compiles a validated filter into a SQL boolean expression over the subscriber alias, pushing
 * every name and value onto `params` (placeholders continue after the ones already there).
 */
export function compileAudience(filter: AudienceFilter | null | undefined, params: unknown[], alias = 's'): string {
  if (!filter) return 'true';
  const bind = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const attr = (name: string) => `${alias}.attributes -> ${bind(name)}::text`;
  if ('and' in filter) return `(${filter.and.map((f) => compileAudience(f, params, alias)).join(' AND ')})`;
  if ('or' in filter) return `(${filter.or.map((f) => compileAudience(f, params, alias)).join(' OR ')})`;
  if ('not' in filter) return `(NOT coalesce(${compileAudience(filter.not, params, alias)}, false))`;
  if ('locale' in filter) return `(${alias}.locale = ${bind(filter.locale)}::text)`;
  if ('webinar' in filter) {
    const webinar = bind(filter.webinar);
    const attended = filter.attended === undefined ? '' : ` AND wr.attended = ${bind(filter.attended)}::boolean`;
    return `EXISTS (SELECT 1 FROM webinar_registrations wr WHERE wr.subscriber_id = ${alias}.id AND wr.webinar_id = ${webinar}::uuid AND wr.status = 'registered'${attended})`;
  }
  const f = filter;
  if (f.eq !== undefined) return `coalesce(${attr(f.attr)} = ${bind(JSON.stringify(f.eq))}::jsonb, false)`;
  if (f.ne !== undefined) return `(${attr(f.attr)} IS DISTINCT FROM ${bind(JSON.stringify(f.ne))}::jsonb)`;
  if (f.in !== undefined) return `coalesce(${attr(f.attr)} = ANY(${bind(f.in.map((v) => JSON.stringify(v)))}::jsonb[]), false)`;
  if (f.exists !== undefined) return `(jsonb_exists(${alias}.attributes, ${bind(f.attr)}::text) = ${bind(f.exists)}::boolean)`;
  const op = f.gte !== undefined ? '>=' : '<=';
  const operand = (f.gte ?? f.lte)!;
  const value = `${alias}.attributes -> ${bind(f.attr)}::text`;
  return typeof operand === 'number'
    ? `(CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value} #>> '{}')::numeric ${op} ${bind(operand)}::numeric ELSE false END)`
    : `(CASE WHEN jsonb_typeof(${value}) = 'string' THEN (${value} #>> '{}') ${op} ${bind(operand)}::text ELSE false END)`;
}
