// Every statement that writes a customer's cadence window, in one place (docs/SQL.md; docs/CONTEXT.md
// has the words). Two holds, both in the database:
// - the reservation (decision time): a compare-and-set on cadence_windows, set-based, that names
//   the mail it holds the window for (reserved_key = the delivery's idempotency key);
// - the hand-over record (send time): a marketing_sends row under an exclusion constraint, per mail.
// Only CadenceService runs the statements; which one runs for which outcome is hand-over.policy.ts.
// The reservation is a CTE body that the set-based decisions (a campaign's dispatch batch, a
// digest's slot) put into their own statements, so it is a fragment, here beside the rest.
import { queries, sql } from '../database/statements';

/**
 * The reservation key of a digest: the digest delivery's idempotency key, one per subscriber and
 * slot (minute precision, UTC). SQL over a subscriber id and a slot instant.
 */
export const digestKeySql = (subscriberId: string, slot: string): string =>
  `'digest:' || ${subscriberId}::text || ':' || to_char(${slot} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI')`;

/**
 * A CTE body that reserves the window for each row of `eligible` (alias e; columns id, cadence,
 * time_zone) whose window is free at `nowParam`, under the key `keySql` (SQL over e), and returns
 * the ids it reserved. A racing transaction blocks on the row lock and re-evaluates the WHERE
 * against the committed row, so exactly one wins. The window as it was is kept in
 * previous_marketing_at, for release. Called with constants only, when a queries file loads.
 */
export function reserveSql(eligible: string, nowParam: string, keySql: string): string {
  return `
      INSERT INTO cadence_windows AS w (subscriber_id, last_marketing_at, window_days, time_zone, reserved_key, previous_marketing_at)
      SELECT e.id, ${nowParam}, tactful_window_days(e.cadence), e.time_zone, ${keySql}, NULL
      FROM ${eligible} e
      ON CONFLICT (subscriber_id) DO UPDATE SET
        previous_marketing_at = w.last_marketing_at,
        last_marketing_at = EXCLUDED.last_marketing_at,
        window_days = EXCLUDED.window_days,
        time_zone = EXCLUDED.time_zone,
        reserved_key = EXCLUDED.reserved_key
      WHERE tactful_window_end(w.last_marketing_at, EXCLUDED.time_zone, EXCLUDED.window_days) <= EXCLUDED.last_marketing_at
      RETURNING w.subscriber_id`;
}

/** The window actions (hand-over.policy.ts) take their mails as parallel arrays: one entry per mail. */
type Holds = [subscriberIds: string[], reservationKeys: string[]];

export const WindowQueries = queries('window', {
  recordHandOver: sql<[subscriberId: string, deliveryId: string, now: Date, windowDays: number, timeZone: string, reservationKey: string]>(
    // Run on every marketing mail's hand-over: prepared.
    'The hand-over record, one statement: the send under the exclusion constraint (a conflict means another marketing mail went ' +
      'inside the window: nothing is written, no row returned), and the window running from the real hand-over rather than from the ' +
      'reservation, which is used up. A delivery that already has its record (sent once, the answer lost, now sent again) keeps it. ' +
      "The constraint compares each mail's window as it was when the mail went; a customer who has since chosen a longer cadence " +
      '(weekly -> every two weeks) gets the longer window from their last mail, checked in `longer` (in any zone: a local day is 24 h ± 1 h).',
    `WITH own AS (
   SELECT 1 FROM marketing_sends WHERE delivery_id = $2)
 , longer AS (
   SELECT 1 FROM marketing_sends m
   WHERE m.subscriber_id = $1 AND m.delivery_id <> $2
     AND m.during && tstzrange($3::timestamptz - make_interval(days => $4::int + 1), $3::timestamptz)
     AND upper(m.during) - lower(m.during) < make_interval(days => $4::int) - interval '2 hours'
     AND greatest(tactful_window_end(lower(m.during), $5, $4::int), lower(m.during) + make_interval(days => $4::int, hours => 1)) > $3::timestamptz)
 , sent AS (
   INSERT INTO marketing_sends (subscriber_id, delivery_id, during)
   SELECT $1, $2, tstzrange($3::timestamptz, tactful_window_end($3::timestamptz, $5, $4::int))
   WHERE NOT EXISTS (SELECT 1 FROM own) AND NOT EXISTS (SELECT 1 FROM longer)
   ON CONFLICT ON CONSTRAINT marketing_sends_cadence DO NOTHING
   RETURNING subscriber_id)
 , window_from_now AS (
   INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone)
   SELECT subscriber_id, $3, $4, $5 FROM sent
   ON CONFLICT (subscriber_id) DO UPDATE SET last_marketing_at = GREATEST(cadence_windows.last_marketing_at, EXCLUDED.last_marketing_at),
     window_days = EXCLUDED.window_days, time_zone = EXCLUDED.time_zone,
     reserved_key = CASE WHEN cadence_windows.reserved_key = $6 THEN NULL ELSE cadence_windows.reserved_key END
   RETURNING 1)
 SELECT 1 FROM window_from_now UNION ALL SELECT 1 FROM own`,
    { prepared: true },
  ),
  release: sql<Holds>(
    "Window action `release`: the window returns to what it was before this mail's reservation, while the mail still holds it " +
      '(reserved_key), set-based over the mails concerned. Run at hand-overs and cancels: prepared.',
    `UPDATE cadence_windows w SET last_marketing_at = coalesce(w.previous_marketing_at, '-infinity'), reserved_key = NULL
     FROM unnest($1::uuid[], $2::text[]) AS h(subscriber_id, key)
     WHERE w.subscriber_id = h.subscriber_id AND w.reserved_key = h.key`,
    { prepared: true },
  ),
  yield: sql<Holds>(
    "Window action `yield`: another mail holds the window now, so only this mail's claim goes (a rewind would hide that mail).",
    `UPDATE cadence_windows w SET reserved_key = NULL
     FROM unnest($1::uuid[], $2::text[]) AS h(subscriber_id, key)
     WHERE w.subscriber_id = h.subscriber_id AND w.reserved_key = h.key`,
    { prepared: true },
  ),
  forget: sql<[deliveryIds: string[]]>(
    'Window action `forget`: no send happened after all, so the hand-over record goes.',
    `DELETE FROM marketing_sends WHERE delivery_id = ANY($1::bigint[])`,
    { prepared: true },
  ),
});
