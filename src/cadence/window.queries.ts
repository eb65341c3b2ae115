// Every statement that writes a customer's cadence window, in one place (docs/CONTEXT.md has the
// words). Two holds, both in the database:
// - the reservation (decision time): a compare-and-set on cadence_windows, set-based, that names
//   the mail it holds the window for (reserved_key = the delivery's idempotency key);
// - the hand-over record (send time): a marketing_sends row under an exclusion constraint, per mail.
// Only CadenceService runs these; which one runs for which outcome is hand-over.policy.ts.
import { WindowAction } from './hand-over.policy';

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
 * previous_marketing_at, for release.
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

// The hand-over record. $1 subscriber, $2 delivery, $3 now, $4 window days, $5 time zone, $6 the
// delivery's reservation key. A delivery that already has its record (sent once, the answer lost,
// now sent again) keeps it. The exclusion constraint compares each mail's window as it was when
// the mail went; a customer who has since chosen a longer cadence (weekly -> every two weeks) gets
// the longer window from their last mail, checked here (in any zone: a local day is 24 h ± 1 h).
// The window then runs from the real hand-over rather than from the reservation, which is used up.
export const RECORD_HAND_OVER = `WITH own AS (
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
 SELECT 1 FROM window_from_now UNION ALL SELECT 1 FROM own`;

/**
 * The window actions, set-based over the mails they concern: release and yield take $1 subscriber
 * ids and $2 their reservation keys (one entry per mail), forget $1 delivery ids. `keep` writes nothing.
 */
export const WINDOW_ACTION_SQL: Readonly<Record<Exclude<WindowAction, 'keep'>, string>> = {
  // The window returns to what it was before this mail's reservation, while the mail still holds it.
  release: `UPDATE cadence_windows w SET last_marketing_at = coalesce(w.previous_marketing_at, '-infinity'), reserved_key = NULL
     FROM unnest($1::uuid[], $2::text[]) AS h(subscriber_id, key)
     WHERE w.subscriber_id = h.subscriber_id AND w.reserved_key = h.key`,
  // Another mail holds the window now: only this mail's claim goes (a rewind would hide that mail).
  yield: `UPDATE cadence_windows w SET reserved_key = NULL
     FROM unnest($1::uuid[], $2::text[]) AS h(subscriber_id, key)
     WHERE w.subscriber_id = h.subscriber_id AND w.reserved_key = h.key`,
  // No send happened after all: the hand-over record goes.
  forget: `DELETE FROM marketing_sends WHERE delivery_id = ANY($1::bigint[])`,
};
