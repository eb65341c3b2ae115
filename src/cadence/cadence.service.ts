// Enforcement of the cadence cap in SQL (the statements: window.queries.ts), and the one runner of
// the hand-over state machine (hand-over.policy.ts) for every marketing kind.
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';
import { runPrepared } from '../database/prepared';
import { MarketingOutlook, marketingOutlook, nextDigestAt, windowOpensAt } from './cadence.policy';
import { QuietHours } from '../config/quiet-hours';
import { Cadence, WINDOW_DAYS } from './slots';
import { ClaimedDelivery, ComposedMessage, DeliveryKind, GateVerdict } from '../delivery/delivery-kinds';
import { Reason } from '../reasons/reason-codes';
import { attemptOutcome, HandOverOutcome, HandOverStep, handOverStep, refusalOutcome, WindowAction } from './hand-over.policy';
import { RECORD_HAND_OVER, reserveSql, WINDOW_ACTION_SQL } from './window.queries';

/** One marketing mail as the window knows it: the delivery, its customer and its reservation key. */
export interface WindowHold {
  deliveryId: string;
  subscriberId: string;
  idempotencyKey: string;
}

/**
 * A kind of marketing mail (campaign, digest): only its own checks and side effects. The hand-over
 * record, the window and the verdict of a lost hand-over are CadenceService.marketingKind()'s.
 */
export interface MarketingHandOver<Facts> {
  kind: string;
  /**
   * The kind's send-time checks, with the delivery and subscriber rows locked, before the
   * hand-over record: a refusal (its reason says which outcome: refusalOutcome()), or the facts
   * its compose needs, read in the same transaction.
   */
  check(tx: EntityManager, delivery: ClaimedDelivery, now: Date): Promise<{ refused: GateVerdict } | { facts: Facts }>;
  compose(tx: EntityManager, delivery: ClaimedDelivery, facts: Facts): Promise<ComposedMessage>;
  /** The kind's own consequences of an outcome, never the window's (a digest's entries, say). */
  after?(tx: EntityManager, delivery: ClaimedDelivery, outcome: HandOverOutcome, step: HandOverStep): Promise<void>;
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
    @InjectDataSource() private readonly db: DataSource,
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
   * The delivery kind that runs the hand-over state machine for `handOver`: its checks, then the
   * hand-over record; each outcome's window action applied here and nowhere else, then the kind's
   * own side effects. A lost hand-over is deferred into the customer's next digest, for every kind.
   */
  marketingKind<Facts>(handOver: MarketingHandOver<Facts>): DeliveryKind {
    // What check() read, for compose() of the same delivery in the same transaction.
    const checked = new WeakMap<ClaimedDelivery, { facts: Facts }>();
    const settle = async (tx: EntityManager, delivery: ClaimedDelivery, outcome: HandOverOutcome) => {
      const step = handOverStep(outcome);
      await this.applyWindowAction(tx, step.window, [holdOf(delivery)]);
      await handOver.after?.(tx, delivery, outcome, step);
    };
    return {
      kind: handOver.kind,
      gate: async (tx, delivery, now): Promise<GateVerdict | null> => {
        const result = await handOver.check(tx, delivery, now);
        if ('refused' in result) {
          await settle(tx, delivery, refusalOutcome(result.refused.reason));
          return result.refused;
        }
        if (!(await this.recordHandOver(tx, delivery, now))) {
          await settle(tx, delivery, 'hand_over_lost');
          const state = await this.windowStateIn(tx, holdOf(delivery).subscriberId, now);
          return { status: 'deferred', reason: Reason.DeferredCadence, nextAttemptAt: state.nextDigestAt };
        }
        checked.set(delivery, { facts: result.facts });
        return null;
      },
      compose: (tx, delivery) => {
        const own = checked.get(delivery);
        if (!own) throw new Error(`${handOver.kind} delivery ${delivery.id} composed without its hand-over check`);
        return handOver.compose(tx, delivery, own.facts);
      },
      settled: (tx, delivery, status, reason) => settle(tx, delivery, attemptOutcome(status, reason)),
    };
  }

  /** Carries out one window action (hand-over.policy.ts) for the given mails, in the caller's transaction. */
  async applyWindowAction(tx: EntityManager, action: WindowAction, holds: WindowHold[]): Promise<void> {
    if (action === 'keep' || holds.length === 0) return;
    const values =
      action === 'forget' ? [holds.map((h) => h.deliveryId)] : [holds.map((h) => h.subscriberId), holds.map((h) => h.idempotencyKey)];
    await runPrepared(tx, WINDOW_ACTION_SQL[action], values);
  }

  /**
   * At hand-over: records the send under the exclusion constraint. Returns false when another
   * marketing mail to the subscriber lies inside the window (the caller defers this one).
   */
  private async recordHandOver(tx: EntityManager, delivery: ClaimedDelivery, now: Date): Promise<boolean> {
    // The worker took the subscriber's turn (hand-over-turn.ts) when it locked the delivery.
    const settings = delivery.handOverTurn;
    if (!settings) throw new Error(`hand-over of delivery ${delivery.id} without the subscriber's hand-over turn`);
    const days = WINDOW_DAYS[settings.cadence as Cadence] ?? WINDOW_DAYS.weekly;
    // One statement: the send record under the exclusion constraint (a conflict means another
    // marketing mail went inside the window: nothing is written), and the window now running from
    // the real hand-over rather than from the reservation.
    const recorded = await runPrepared(tx, RECORD_HAND_OVER, [holdOf(delivery).subscriberId, delivery.id, now, days, settings.timeZone, delivery.idempotencyKey]);
    return recorded.length > 0;
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

function holdOf(delivery: ClaimedDelivery): WindowHold {
  if (!delivery.subscriberId) throw new Error(`marketing delivery ${delivery.id} has no subscriber to hold a window for`);
  return { deliveryId: delivery.id, subscriberId: delivery.subscriberId, idempotencyKey: delivery.idempotencyKey };
}
