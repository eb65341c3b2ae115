// Enforcement of the cadence cap in SQL. Two holds, both in the database:
// - reservation (dispatch time): compare-and-set on cadence_windows, set-based;
// - hand-over (send time): a marketing_sends row under an exclusion constraint, per mail.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { runPrepared } from '../database/prepared';
import { MarketingOutlook, marketingOutlook, nextDigestAt, windowOpensAt } from './cadence.policy';
import { QuietHours } from '../config/quiet-hours';
import { Cadence, WINDOW_DAYS } from './slots';

// $1 subscriber, $2 delivery, $3 now, $4 window days, $5 time zone, $6 the delivery's reservation key.
// A delivery that already has its record (sent once, the answer lost, now sent again) keeps it.
// The exclusion constraint compares each mail's window as it was when the mail went; a customer
// who has since chosen a longer cadence (weekly -> every two weeks) gets the longer window from
// their last mail, checked here (in any zone: a local day is 24 h ± 1 h).
const RECORD_HAND_OVER = `WITH own AS (
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

export interface WindowState {
  lastMarketingAt: Date | null;
  nextMarketingSlot: Date;
  nextDigestAt: Date;
}

@Injectable()
export class CadenceService {
  /** QUIET_HOURS, for the dispatch SQL (tactful_outside_quiet) and the pure policy alike. */
  readonly quietHours: QuietHours;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.quietHours = config.quietHours;
  }

  /**
   * A CTE that reserves the window for each row of `eligible` (columns id, cadence, time_zone) whose window
   * is free at `nowParam`, and returns the ids it reserved. A racing transaction blocks on the
   * row lock and re-evaluates the WHERE against the committed row, so exactly one wins.
   */
  static reserveCte(eligible: string, nowParam: string, keyPrefixParam: string): string {
    return `
      INSERT INTO cadence_windows AS w (subscriber_id, last_marketing_at, window_days, time_zone, reserved_key, previous_marketing_at)
      SELECT e.id, ${nowParam}, tactful_window_days(e.cadence), e.time_zone, ${keyPrefixParam} || e.id::text, NULL
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

  /**
   * At hand-over: records the send under the exclusion constraint. Returns false when another
   * marketing mail to the subscriber lies inside the window (the caller defers this one).
   */
  async recordHandOver(
    tx: EntityManager,
    delivery: { id: string; subscriberId: string; idempotencyKey: string; handOverTurn?: { cadence: string; timeZone: string } },
    now: Date,
  ): Promise<boolean> {
    // The worker took the subscriber's turn (hand-over-turn.ts) when it locked the delivery.
    const settings = delivery.handOverTurn;
    if (!settings) throw new Error(`hand-over of delivery ${delivery.id} without the subscriber's hand-over turn`);
    const days = WINDOW_DAYS[settings.cadence as Cadence] ?? WINDOW_DAYS.weekly;
    // One statement: the send record under the exclusion constraint (a conflict means another
    // marketing mail went inside the window: nothing is written), and the window now running from
    // the real hand-over rather than from the reservation.
    const recorded = await runPrepared(tx, RECORD_HAND_OVER, [delivery.subscriberId, delivery.id, now, days, settings.timeZone, delivery.idempotencyKey]);
    return recorded.length > 0;
  }

  /** A mail that held the window will not go after all: the window returns to what it was. */
  async release(tx: EntityManager, subscriberId: string, idempotencyKey: string): Promise<void> {
    await tx.query(
      `UPDATE cadence_windows SET last_marketing_at = coalesce(previous_marketing_at, '-infinity'), reserved_key = NULL
       WHERE subscriber_id = $1 AND reserved_key = $2`,
      [subscriberId, idempotencyKey],
    );
  }

  /**
   * The hand-over lost to another marketing mail inside the window: that mail holds the window
   * now, so this delivery only drops its claim. (release() would rewind the window to before
   * this reservation and hide the send that just went.)
   */
  async yieldReservation(tx: EntityManager, subscriberId: string, idempotencyKey: string): Promise<void> {
    await tx.query(`UPDATE cadence_windows SET reserved_key = NULL WHERE subscriber_id = $1 AND reserved_key = $2`, [subscriberId, idempotencyKey]);
  }

  /** A sent mail that failed after the hand-over record (SMTP refused it): its send record goes. */
  async forgetHandOver(tx: EntityManager, deliveryId: string): Promise<void> {
    await tx.query(`DELETE FROM marketing_sends WHERE delivery_id = $1`, [deliveryId]);
  }

  /**
   * Whether and when marketing can reach one subscriber, as the timeline shows it: the window,
   * and the next slot and digest, or why there are none (marketingOutlook()).
   */
  async outlook(subscriberId: string): Promise<(MarketingOutlook & { lastMarketingAt: Date | null }) | null> {
    const [row] = await this.db.query(
      `SELECT s.cadence, s.time_zone, s.digest_weekday, s.digest_hour, s.status, s.paused_until,
              EXISTS (SELECT 1 FROM topic_subscriptions ts WHERE ts.subscriber_id = s.id AND ts.status = 'confirmed') AS has_confirmed_topic,
              CASE WHEN w.last_marketing_at = '-infinity' THEN NULL ELSE w.last_marketing_at END AS last
       FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id WHERE s.id = $1`,
      [subscriberId],
    );
    if (!row) return null;
    const lastMarketingAt: Date | null = row.last ?? null;
    const outlook = marketingOutlook(
      {
        status: row.status,
        pausedUntil: row.paused_until,
        hasConfirmedTopic: row.has_confirmed_topic,
        lastMarketingAt,
        cadence: row.cadence,
        timeZone: row.time_zone,
        digestWeekday: row.digest_weekday,
        digestHour: row.digest_hour,
      },
      this.clock.now(),
    );
    return { ...outlook, lastMarketingAt };
  }

  async windowStateIn(manager: EntityManager, subscriberId: string, now: Date): Promise<WindowState> {
    const [row] = await manager.query(
      `SELECT s.cadence, s.time_zone, s.digest_weekday, s.digest_hour,
              CASE WHEN w.last_marketing_at = '-infinity' THEN NULL ELSE w.last_marketing_at END AS last
       FROM subscribers s LEFT JOIN cadence_windows w ON w.subscriber_id = s.id WHERE s.id = $1`,
      [subscriberId],
    );
    const snapshot = {
      lastMarketingAt: (row?.last as Date | null) ?? null,
      cadence: (row?.cadence ?? 'weekly') as Cadence,
      timeZone: row?.time_zone ?? this.config.defaultTimeZone,
      digestWeekday: row?.digest_weekday ?? 1,
      digestHour: row?.digest_hour ?? 9,
    };
    const opens = windowOpensAt(snapshot);
    return {
      lastMarketingAt: snapshot.lastMarketingAt,
      nextMarketingSlot: opens && opens > now ? opens : now,
      nextDigestAt: nextDigestAt(snapshot, now),
    };
  }
}
