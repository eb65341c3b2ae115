// The promise, as SQL over the simulation's database. Each proof is a query that returns the
// violating rows; it reads the mails from a table name it is given, so the same query can be
// pointed at a copy with a violation planted on purpose (probe()) to show that it can fail.
import { DateTime } from 'luxon';
import { Client } from 'pg';
import { REASONS } from '../../src/reasons/reason-codes';

export interface Sources {
  received: string;
  entries: string;
  carrier: string;
  deliveries: string;
}

export const REAL: Sources = { received: 'sim_received', entries: 'sim_received_entries', carrier: 'sim_carrier_posts', deliveries: 'deliveries' };

const TRACKING_KINDS = `('shipment_shipped', 'shipment_out_for_delivery', 'shipment_exception')`;

/** The subscriber's recorded state (status, cadence, zone) at instant `at`. */
const stateAt = (subscriber: string, at: string) =>
  `(SELECT h.status, h.cadence, h.time_zone FROM sim_subscriber_history h
    WHERE h.subscriber_id = ${subscriber} AND h.at <= ${at} ORDER BY h.at DESC, h.seq DESC LIMIT 1)`;

export interface Proof {
  key: string;
  title: string;
  sql(s: Sources): string;
  params?: (end: Date) => unknown[];
  /** Plants one violation into the probe tables (probe_received, …); returns a description. */
  plant(db: Client): Promise<string>;
}

export const PROOFS: Proof[] = [
  {
    key: 'unconfirmed_topic',
    title: 'mails on topics a customer had not confirmed at send time',
    // Campaign mails by their campaign's topic; digests by every entry they carried (read from the
    // mail's own feedback links), each against the topic's recorded status at hand-over.
    sql: (s) => `
      WITH mails AS (
        SELECT r.delivery_id, r.subscriber_id, r.topic_id, r.at, r.kind FROM ${s.received} r
        WHERE r.class = 'marketing' AND r.kind <> 'digest'
        UNION ALL
        SELECT e.delivery_id, e.subscriber_id, e.topic_id, e.at, 'digest entry ' || e.item_kind FROM ${s.entries} e)
      SELECT m.*, st.status AS topic_status FROM mails m
      LEFT JOIN LATERAL (SELECT h.status FROM sim_topic_history h
                         WHERE h.subscriber_id = m.subscriber_id AND h.topic_id = m.topic_id AND h.at <= m.at
                         ORDER BY h.at DESC, h.seq DESC LIMIT 1) st ON true
      WHERE st.status IS DISTINCT FROM 'confirmed'`,
    plant: async (db) => {
      const [r] = (await db.query(`SELECT subscriber_id, topic_id, at FROM sim_topic_history WHERE status = 'revoked' ORDER BY seq DESC LIMIT 1`)).rows;
      await db.query(
        `INSERT INTO probe_received (delivery_id, subscriber_id, rcpt, class, kind, topic_id, ref_id, at) VALUES (-1, $1, 'probe', 'marketing', 'campaign', $2, NULL, $3::timestamptz + interval '1 hour')`,
        [r.subscriber_id, r.topic_id, r.at],
      );
      return 'a campaign mail one hour after the customer revoked its topic';
    },
  },
  {
    key: 'cadence',
    title: "pairs of marketing mails inside a customer's window",
    // Consecutive marketing mails by hand-over time; the window is 7 or 14 calendar days in the
    // customer's zone, by the cadence in force at the earlier mail and at the later one (the longer).
    sql: (s) => `
      WITH m AS (
        SELECT r.delivery_id, r.subscriber_id, r.kind, r.at,
               lag(r.at) OVER w AS prev_at, lag(r.delivery_id) OVER w AS prev_id
        FROM ${s.received} r WHERE r.class = 'marketing' AND r.subscriber_id IS NOT NULL
        WINDOW w AS (PARTITION BY r.subscriber_id ORDER BY r.at, r.delivery_id))
      SELECT m.*, a.cadence AS cadence_at_prev, b.cadence AS cadence_at_send, a.time_zone FROM m
      CROSS JOIN LATERAL ${stateAt('m.subscriber_id', 'm.prev_at')} a
      CROSS JOIN LATERAL ${stateAt('m.subscriber_id', 'm.at')} b
      WHERE m.prev_at IS NOT NULL
        AND m.at < ((m.prev_at AT TIME ZONE a.time_zone)
                    + make_interval(days => CASE WHEN 'biweekly' IN (a.cadence, b.cadence) THEN 14 ELSE 7 END)) AT TIME ZONE a.time_zone`,
    plant: async (db) => {
      await db.query(
        `INSERT INTO probe_received SELECT -2, subscriber_id, rcpt, class, kind, topic_id, ref_id, at + interval '1 day'
         FROM sim_received WHERE class = 'marketing' AND subscriber_id IS NOT NULL ORDER BY at DESC LIMIT 1`,
      );
      return 'a second marketing mail one day after another';
    },
  },
  {
    key: 'tracking_after_delivered',
    title: "tracking mails handed to SMTP after the shipment's delivered event",
    // "After": once the carrier's delivered event had reached Tactful (first accepted post).
    sql: (s) => `
      SELECT r.delivery_id, r.kind, r.ref_id, r.at, k.known_at FROM ${s.received} r
      JOIN LATERAL (SELECT min(c.posted_at) AS known_at FROM ${s.carrier} c
                    WHERE c.shipment_id::text = r.ref_id AND c.status = 'delivered' AND c.http_status = 200) k ON true
      WHERE r.kind IN ${TRACKING_KINDS} AND k.known_at < r.at`,
    plant: async (db) => {
      const [c] = (await db.query(`SELECT shipment_id, posted_at FROM sim_carrier_posts WHERE status = 'delivered' ORDER BY posted_at LIMIT 1`)).rows;
      await db.query(
        `INSERT INTO probe_received (delivery_id, subscriber_id, rcpt, class, kind, topic_id, ref_id, at)
         VALUES (-3, NULL, 'probe', 'transactional', 'shipment_out_for_delivery', NULL, $1, $2::timestamptz + interval '1 hour')`,
        [c.shipment_id, c.posted_at],
      );
      return 'an "arrives today" mail one hour after the delivered event arrived';
    },
  },
  {
    key: 'undecided',
    title: 'items without a terminal decision and reason',
    // Every decision row ends sent, suppressed, expired or failed with a known reason, or still
    // waits with a reason for something that will come: a mail moved past quiet hours (queued,
    // dated after the quarter), or a deferral for the digest of a customer who can still get it
    // (active or paused, topic confirmed, not expired; a deferred digest has no topic). A deferral for someone who left waits for nothing.
    sql: (s) => `
      SELECT d.id, d.class, d.kind, d.status, d.reason, d.next_attempt_at, d.subscriber_id, s.status AS subscriber_status, ts.status AS topic_status
      FROM ${s.deliveries} d
      LEFT JOIN subscribers s ON s.id = d.subscriber_id
      LEFT JOIN topic_subscriptions ts ON ts.subscriber_id = d.subscriber_id AND ts.topic_id = d.topic_id
      WHERE NOT coalesce(
        (d.status = 'sent' AND d.reason = 'sent' AND d.sent_at IS NOT NULL)
        OR (d.status IN ('suppressed', 'expired', 'failed') AND d.reason = ANY($1::text[]) AND d.reason NOT IN ('queued', 'retrying', 'unknown_outcome'))
        OR (d.status = 'queued' AND d.reason = ANY($1::text[]) AND d.next_attempt_at > $2)
        OR (d.status = 'deferred' AND d.reason = ANY($1::text[]) AND d.reason LIKE 'deferred%'
            AND s.status IN ('active', 'paused') AND (d.expires_at IS NULL OR d.expires_at > $2)
            -- A digest that lost its hand-over waits, topic-free, for the customer's next digest.
            AND (ts.status = 'confirmed' OR (d.kind = 'digest' AND d.topic_id IS NULL))), false)`,
    params: (end) => [REASONS, end],
    plant: async (db) => {
      await db.query(`INSERT INTO probe_deliveries SELECT * FROM deliveries WHERE status = 'sent' LIMIT 1`);
      await db.query(`UPDATE probe_deliveries SET status = 'sending', reason = 'queued', sent_at = NULL`);
      return 'a delivery left in "sending"';
    },
  },
  {
    key: 'after_opt_out',
    title: 'mails to unsubscribed, bounced or complained customers after the event',
    // Bounced: nothing at all. Complained: only transactional. Unsubscribed (and paused, pending):
    // no marketing. By the subscriber's recorded status at the moment of hand-over.
    sql: (s) => `
      SELECT r.delivery_id, r.class, r.kind, r.at, st.status FROM ${s.received} r
      CROSS JOIN LATERAL ${stateAt('r.subscriber_id', 'r.at')} st
      WHERE r.subscriber_id IS NOT NULL AND (
        st.status = 'bounced'
        OR (st.status = 'complained' AND r.class <> 'transactional')
        OR (st.status IN ('unsubscribed', 'paused', 'pending') AND r.class = 'marketing'))`,
    plant: async (db) => {
      const [h] = (
        await db.query(`SELECT subscriber_id, at FROM sim_subscriber_history WHERE status IN ('unsubscribed', 'complained') ORDER BY seq DESC LIMIT 1`)
      ).rows;
      await db.query(
        `INSERT INTO probe_received (delivery_id, subscriber_id, rcpt, class, kind, topic_id, ref_id, at) VALUES (-5, $1, 'probe', 'marketing', 'digest', NULL, NULL, $2::timestamptz + interval '1 hour')`,
        [h.subscriber_id, h.at],
      );
      return 'a digest one hour after the customer unsubscribed or complained';
    },
  },
];

/**
 * Campaigns with more candidates (a subscription to its topic existed when it was dispatched)
 * without a decision row than the campaign counted as outside its audience: those are decided
 * as a count, not a row (issue 21); any beyond that count were silently dropped.
 */
// People who are gone (erased, or sign-ups never confirmed and deleted after 30 days) took their
// decisions with them, by design: only those still stored are expected to have one (so a gone
// person outside the audience leaves the count above the missing rows, never below).
export const SILENTLY_DROPPED_SQL = `
  WITH first_seen AS (
         SELECT h.subscriber_id, h.topic_id, min(h.at) AS at FROM sim_topic_history h
         WHERE EXISTS (SELECT 1 FROM subscribers s WHERE s.id = h.subscriber_id) GROUP BY 1, 2),
       expected AS (
         SELECT c.id::text AS ref, f.subscriber_id FROM campaigns c JOIN first_seen f ON f.topic_id = c.topic_id
         WHERE c.started_at IS NOT NULL AND f.at < c.started_at),
       missing AS (
         SELECT e.ref, count(*)::int AS n FROM expected e
         LEFT JOIN deliveries d ON d.ref_id = e.ref AND d.subscriber_id = e.subscriber_id
         WHERE d.id IS NULL GROUP BY e.ref),
       outside AS (
         SELECT campaign_id AS ref, sum(n)::int AS n
         FROM (SELECT campaign_id, reason, n FROM campaign_counts UNION ALL SELECT campaign_id, reason, n FROM campaign_count_deltas) c
         WHERE reason = 'suppressed_audience' GROUP BY campaign_id)
  SELECT m.ref, m.n AS missing_rows, coalesce(o.n, 0) AS outside_audience FROM missing m LEFT JOIN outside o ON o.ref = m.ref
  WHERE m.n > coalesce(o.n, 0)`;

export interface ProofResult {
  key: string;
  title: string;
  violations: number;
  examples: unknown[];
  /** What was planted into a copy, and how many violations the same query found there. */
  probe: { planted: string; found: number };
}

export async function runProofs(db: Client, end: Date): Promise<ProofResult[]> {
  await db.query(`DROP TABLE IF EXISTS probe_received, probe_entries, probe_carrier, probe_deliveries`);
  await db.query(`CREATE TABLE probe_received (LIKE sim_received)`);
  await db.query(`CREATE TABLE probe_entries (LIKE sim_received_entries)`);
  await db.query(`CREATE TABLE probe_carrier (LIKE sim_carrier_posts)`);
  await db.query(`CREATE TABLE probe_deliveries (LIKE deliveries)`);
  const probed: Sources = {
    received: '(SELECT * FROM sim_received UNION ALL SELECT * FROM probe_received)',
    entries: '(SELECT * FROM sim_received_entries UNION ALL SELECT * FROM probe_entries)',
    carrier: '(SELECT * FROM sim_carrier_posts UNION ALL SELECT * FROM probe_carrier)',
    deliveries: '(SELECT * FROM deliveries UNION ALL SELECT * FROM probe_deliveries)',
  };
  const results: ProofResult[] = [];
  for (const proof of PROOFS) {
    const params = proof.params?.(end) ?? [];
    const real = (await db.query(proof.sql(REAL), params)).rows;
    await db.query(`TRUNCATE probe_received, probe_entries, probe_carrier, probe_deliveries`);
    const planted = await proof.plant(db);
    const found = (await db.query(proof.sql(probed), params)).rows.length;
    results.push({ key: proof.key, title: proof.title, violations: real.length, examples: real.slice(0, 5), probe: { planted, found: found - real.length } });
  }
  await db.query(`DROP TABLE probe_received, probe_entries, probe_carrier, probe_deliveries`);
  return results;
}

// ---- per-customer allowance ----------------------------------------------------------------------

export interface Allowance {
  /** Customers who were ever active, by share of their allowance received. */
  buckets: { label: string; customers: number; steadyCustomers: number }[];
  over: { subscriberId: string; received: number; allowed: number }[];
  customers: number;
  fullShare: number;
}

const BUCKETS: { label: string; test: (p: number) => boolean }[] = [
  { label: '0 %', test: (p) => p === 0 },
  { label: '1–24 %', test: (p) => p > 0 && p < 0.25 },
  { label: '25–49 %', test: (p) => p >= 0.25 && p < 0.5 },
  { label: '50–74 %', test: (p) => p >= 0.5 && p < 0.75 },
  { label: '75–99 %', test: (p) => p >= 0.75 && p < 1 },
  { label: '100 %', test: (p) => p === 1 },
  { label: '> 100 %', test: (p) => p > 1 },
];

/**
 * The most marketing mails a customer's cadence allows between `from` and `to` (both included):
 * the time is cut where their cadence changed, and a stretch of length L under a window of W
 * days holds at most floor(L / W) + 1 mails. A customer weekly all quarter may get 14 in
 * 13 weeks + 1 hour, a biweekly one 7.
 */
export function allowanceOf(changes: { at: Date; cadence: string; timeZone: string }[], from: Date, to: Date): number {
  let total = 0;
  const cuts = changes.filter((c) => c.at > from && c.at < to);
  const first = [...changes].reverse().find((c) => c.at <= from) ?? changes[0];
  const stretches = [{ at: from, cadence: first.cadence, timeZone: first.timeZone }, ...cuts];
  for (let i = 0; i < stretches.length; i++) {
    const s = stretches[i];
    const until = i + 1 < stretches.length ? stretches[i + 1].at : to;
    const days = s.cadence === 'biweekly' ? 14 : 7;
    const span = DateTime.fromJSDate(until, { zone: s.timeZone }).diff(DateTime.fromJSDate(s.at, { zone: s.timeZone }), 'days').days;
    total += Math.floor(span / days + 1e-9) + 1;
  }
  return total;
}

export async function allowances(db: Client, from: Date, to: Date): Promise<Allowance> {
  const history: { subscriber_id: string; at: Date; status: string; cadence: string; time_zone: string }[] = (
    await db.query(`SELECT subscriber_id, at, status, cadence, time_zone FROM sim_subscriber_history ORDER BY subscriber_id, at, seq`)
  ).rows;
  const mails: { subscriber_id: string; n: number }[] = (
    await db.query(`SELECT subscriber_id, count(*)::int AS n FROM sim_received WHERE class = 'marketing' AND subscriber_id IS NOT NULL GROUP BY 1`)
  ).rows;
  const received = new Map(mails.map((m) => [m.subscriber_id, m.n]));
  const bySubscriber = new Map<string, typeof history>();
  for (const h of history) bySubscriber.set(h.subscriber_id, [...(bySubscriber.get(h.subscriber_id) ?? []), h]);
  const counts = BUCKETS.map(() => ({ all: 0, steady: 0 }));
  const over: Allowance['over'] = [];
  let customers = 0;
  let full = 0;
  for (const [id, rows] of bySubscriber) {
    if (!rows.some((r) => r.status === 'active')) continue;
    customers++;
    const allowed = allowanceOf(
      rows.map((r) => ({ at: r.at, cadence: r.cadence, timeZone: r.time_zone })),
      from,
      to,
    );
    const got = received.get(id) ?? 0;
    const share = got / allowed;
    if (got > allowed) over.push({ subscriberId: id, received: got, allowed });
    if (share === 1) full++;
    // Steady: active from before the quarter to its end, one cadence throughout.
    const steady = rows.every((r) => r.status === 'active') && new Set(rows.map((r) => r.cadence)).size === 1 && rows[0].at <= from;
    const bucket = BUCKETS.findIndex((b) => b.test(share));
    counts[bucket].all++;
    if (steady) counts[bucket].steady++;
  }
  return {
    buckets: BUCKETS.map((b, i) => ({ label: b.label, customers: counts[i].all, steadyCustomers: counts[i].steady })),
    over,
    customers,
    fullShare: full,
  };
}

// ---- totals -------------------------------------------------------------------------------------

export async function totals(db: Client, end: Date) {
  // Rows still waiting at the end, by why they wait and whether their recipient can still get a digest.
  const waiting = (
    await db.query(
      `SELECT d.status, d.reason, s.status AS subscriber_status, coalesce(ts.status, '-') AS topic_status,
              CASE WHEN d.next_attempt_at <= $1 THEN 'date passed' ELSE 'dated after the quarter' END AS due, count(*)::int AS n
       FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
       LEFT JOIN topic_subscriptions ts ON ts.subscriber_id = d.subscriber_id AND ts.topic_id = d.topic_id
       WHERE d.status IN ('deferred', 'queued', 'sending', 'unknown')
       GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
      [end],
    )
  ).rows as { status: string; reason: string; subscriber_status: string; topic_status: string; due: string; n: number }[];
  const byClass = (await db.query(`SELECT class, kind, count(*)::int AS n FROM sim_received GROUP BY 1, 2 ORDER BY 1, 2`)).rows as {
    class: string;
    kind: string;
    n: number;
  }[];
  // The decision counts (as /metrics reads them), not the rows: "not in the audience" is only counted.
  const byReason = (
    await db.query(
      `SELECT class, status, reason, sum(n)::int AS n
       FROM (SELECT class, status, reason, n FROM delivery_counts UNION ALL SELECT class, status, reason, n FROM delivery_count_deltas) c
       GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`,
    )
  ).rows as {
    class: string;
    status: string;
    reason: string;
    n: number;
  }[];
  const [carrier] = (
    await db.query(`
      SELECT count(*)::int AS posted,
             count(*) FILTER (WHERE duplicate)::int AS duplicates,
             count(DISTINCT shipment_id) FILTER (WHERE status = 'delivered')::int AS delivered_shipments,
             (SELECT count(*)::int FROM (
                SELECT occurred_at < max(occurred_at) OVER (PARTITION BY shipment_id ORDER BY posted_at, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
                FROM sim_carrier_posts) x WHERE late) AS out_of_order,
             (SELECT count(*)::int FROM sim_carrier_posts WHERE posted_at - occurred_at > interval '1 hour') AS late
      FROM sim_carrier_posts`)
  ).rows;
  const [tracking] = (
    await db.query(`
      SELECT count(*)::int AS sent,
             count(*) FILTER (WHERE r.at > (SELECT min(c.occurred_at) FROM sim_carrier_posts c WHERE c.shipment_id::text = r.ref_id AND c.status = 'delivered'))::int AS after_parcel_arrived_before_known
      FROM sim_received r WHERE r.kind IN ${TRACKING_KINDS}`)
  ).rows;
  const [entries] = (
    await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE token_subscriber_id <> subscriber_id)::int AS foreign FROM sim_received_entries`)
  ).rows;
  // Campaigns by status, and whether any of their mails still waits in the outbox (queued or being handed over).
  const campaigns = (
    await db.query(
      `SELECT c.status, EXISTS (SELECT 1 FROM deliveries d WHERE d.ref_id = c.id::text AND d.kind = 'campaign' AND d.status IN ('queued', 'sending')) AS waiting,
              count(*)::int AS n
       FROM campaigns c GROUP BY 1, 2 ORDER BY 1, 2`,
    )
  ).rows as { status: string; waiting: boolean; n: number }[];
  return { byClass, byReason, carrier, tracking, entries, waiting, campaigns };
}
