// Enforcement of the cadence cap in SQL (the statements: window.queries.ts, cadence.queries.ts): the reservation, the
// hand-over record, and the one place the hand-over state machine's window actions
// (hand-over.policy.ts) are carried out. delivery/marketing-hand-over.ts runs the machine for
// every marketing kind.
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Sql } from '../database/sql';
import { CadenceQueries as Q } from './cadence.queries';
import { MarketingOutlook, marketingOutlook, nextDigestAt, windowOpensAt } from './cadence.policy';
import { QuietHours } from '../config/quiet-hours';
import { Cadence, WINDOW_DAYS } from './slots';
import { WindowAction } from './hand-over.policy';
import { reserveSql, WindowQueries as W } from './window.queries';

/** One marketing mail as the window knows it: the delivery, its customer and its reservation key. */
export interface WindowHold {
  deliveryId: string;
  subscriberId: string;
  idempotencyKey: string;
}

/** A marketing mail at its hand-over: the claimed delivery as far as the window needs it. */
export interface HandOverMail {
  id: string;
  subscriberId: string | null;
  idempotencyKey: string;
  /** Set when the worker holds the customer's hand-over turn, with the cadence settings read under it. */
  handOverTurn?: { cadence: string; timeZone: string };
}

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
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.quietHours = config.quietHours;
  }

  /** The reservation, as a CTE body for the set-based decisions (window.queries.ts reserveSql). */
  static reserveCte(eligible: string, nowParam: string, keySql: string): string {
    return reserveSql(eligible, nowParam, keySql);
  }

  /**
   * Carries out one window action (hand-over.policy.ts) for the given mails, in the caller's
   * transaction.
   */
  async applyWindowAction(tx: Sql, action: WindowAction, holds: WindowHold[]): Promise<void> {
    if (action === 'keep' || holds.length === 0) return;
    if (action === 'forget') await tx.run(W.forget, [holds.map((h) => h.deliveryId)]);
    else await tx.run(action === 'release' ? W.release : W.yield, [holds.map((h) => h.subscriberId), holds.map((h) => h.idempotencyKey)]);
  }

  /**
   * At hand-over: records the send under the exclusion constraint. Returns false when another
   * marketing mail to the subscriber lies inside the window (the caller defers this one).
   */
  async recordHandOver(tx: Sql, delivery: HandOverMail, now: Date): Promise<boolean> {
    // The worker took the subscriber's turn (hand-over-turn.ts) when it locked the delivery.
    const settings = delivery.handOverTurn;
    if (!settings) throw new Error(`hand-over of delivery ${delivery.id} without the subscriber's hand-over turn`);
    const days = WINDOW_DAYS[settings.cadence as Cadence] ?? WINDOW_DAYS.weekly;
    // One statement: the send record under the exclusion constraint (a conflict means another
    // marketing mail went inside the window: nothing is written), and the window now running from
    // the real hand-over rather than from the reservation.
    const recorded = await tx.run(W.recordHandOver, [holdOf(delivery).subscriberId, delivery.id, now, days, settings.timeZone, delivery.idempotencyKey]);
    return recorded > 0;
  }

  /**
   * Whether and when marketing can reach one subscriber, as the timeline shows it: the window,
   * and the next slot and digest, or why there are none (marketingOutlook()).
   */
  async outlook(subscriberId: string): Promise<(MarketingOutlook & { lastMarketingAt: Date | null }) | null> {
    const row = await this.db.row(Q.outlook, [subscriberId]);
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

  /** The window and the next slot and digest, as `tx` (the caller's transaction, or the pool) sees them. */
  async windowStateIn(tx: Sql, subscriberId: string, now: Date): Promise<WindowState> {
    const row = await tx.row(Q.windowState, [subscriberId]);
    const snapshot = {
      lastMarketingAt: row?.last ?? null,
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

/** The window hold of a marketing mail (which always has a customer). */
export function holdOf(delivery: HandOverMail): WindowHold {
  if (!delivery.subscriberId) throw new Error(`marketing delivery ${delivery.id} has no subscriber to hold a window for`);
  return { deliveryId: delivery.id, subscriberId: delivery.subscriberId, idempotencyKey: delivery.idempotencyKey };
}
