// The hand-over state machine (cadence/hand-over.policy.ts) run for every kind of marketing mail.
// A kind (campaign, digest) supplies only its own checks, its content and its after-effects; the
// hand-over record, the window action of each outcome (carried out by
// CadenceService.applyWindowAction) and the verdict of a lost hand-over are the same for all, so a
// new marketing kind writes no window code.
import { CadenceService, holdOf } from '../cadence/cadence.service';
import { attemptOutcome, HandOverOutcome, HandOverStep, handOverStep, refusalOutcome } from '../cadence/hand-over.policy';
import type { Tx } from '../database/sql';
import { Reason } from '../reasons/reason-codes';
import { ClaimedDelivery, ComposedMessage, DeliveryKind, GateVerdict } from './delivery-kinds';

/** A kind of marketing mail: only its own checks and side effects. */
export interface MarketingHandOver<Facts> {
  kind: string;
  /**
   * The kind's send-time checks, with the delivery and subscriber rows locked, before the
   * hand-over record: a refusal (its reason says which outcome: refusalOutcome()), or the facts
   * its compose needs, read in the same transaction.
   */
  check(tx: Tx, delivery: ClaimedDelivery, now: Date): Promise<{ refused: GateVerdict } | { facts: Facts }>;
  compose(tx: Tx, delivery: ClaimedDelivery, facts: Facts): Promise<ComposedMessage>;
  /**
   * The facts a mail was composed with, read without locks or checks: to show a mail that went
   * as the customer got it (the console's mail view, in a read-only transaction).
   */
  viewFacts(tx: Tx, delivery: ClaimedDelivery): Promise<Facts>;
  /** The kind's own consequences of an outcome, never the window's (a digest's entries, say). */
  after?(tx: Tx, delivery: ClaimedDelivery, outcome: HandOverOutcome, step: HandOverStep): Promise<void>;
}

/**
 * The delivery kind that runs the machine for `handOver`: its checks, then the hand-over record;
 * each outcome's window action, then the kind's own side effects. A lost hand-over is deferred
 * into the customer's next digest (deferred_cadence), whatever the kind.
 */
export function marketingKind<Facts>(cadence: CadenceService, handOver: MarketingHandOver<Facts>): DeliveryKind {
  // What check() read, for compose() of the same delivery in the same transaction.
  const checked = new WeakMap<ClaimedDelivery, { facts: Facts }>();
  const settle = async (tx: Tx, delivery: ClaimedDelivery, outcome: HandOverOutcome) => {
    const step = handOverStep(outcome);
    await cadence.applyWindowAction(tx, step.window, [holdOf(delivery)]);
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
      if (!(await cadence.recordHandOver(tx, delivery, now))) {
        await settle(tx, delivery, 'hand_over_lost');
        const state = await cadence.windowStateIn(tx, holdOf(delivery).subscriberId, now);
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
    // A window kept writes nothing (applyWindowAction); a kind's own after-effects may.
    settledWrites: (status, reason) => handOverStep(attemptOutcome(status, reason)).window !== 'keep' || handOver.after !== undefined,
    view: async (tx, delivery) => handOver.compose(tx, delivery, await handOver.viewFacts(tx, delivery)),
  };
}
