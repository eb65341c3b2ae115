// The hook point between the outbox and the domains: each kind of message registers how to
// render it and what to re-check at the moment it is handed to SMTP (consent, shipment state, …).
import { Injectable } from '@nestjs/common';
import { Locale } from '../config/config';
import type { Sql, Tx } from '../database/sql';
import { MessageClass, Reason } from '../reasons/reason-codes';
import { addressVerdict } from './bounced-addresses';
import { consentVerdict } from '../reasons/send-gate.policy';
import { DeliveryQueries as Q, DeliveryRow, LockedDeliveryRow } from './delivery.queries';

/** A claimed delivery row, joined with its subscriber, as the worker sees it at send time. */
export interface ClaimedDelivery {
  id: string;
  subscriberId: string | null;
  email: string;
  subscriberStatus: string | null;
  class: MessageClass;
  kind: string;
  topicId: string | null;
  refId: string | null;
  /** Who wrote it (the campaign's sender); decides the Reply-To. */
  sender: string | null;
  locale: Locale;
  payload: Record<string, unknown>;
  attempts: number;
  /** Hand-overs of this mail that went unanswered so far (retry.policy.ts sends it once more). */
  unknownOutcomes: number;
  idempotencyKey: string;
  createdAt: Date;
  /**
   * Set when the worker already holds this subscriber's hand-over turn (a marketing mail to a
   * subscriber), with the cadence settings read under the same lock.
   */
  handOverTurn?: { cadence: string; timeZone: string };
  /**
   * A marketing mail of a topic: the subscription's status (null: there is none) as the worker's
   * lock statement read it, FOR SHARE, in the hand-over transaction. Undefined where it was not
   * read (a row mapped elsewhere): subscriberGate reads it itself then.
   */
  subscriptionStatus?: string | null;
}

/** A deliveries row (joined with its subscriber's email, status and cadence) as the kinds see it. */
export function claimedDeliveryOf(row: DeliveryRow | LockedDeliveryRow): ClaimedDelivery {
  return {
    id: row.id,
    subscriberId: row.subscriber_id,
    email: (row.subscriber_email ?? row.to_address)!,
    subscriberStatus: row.subscriber_status ?? null,
    class: row.class,
    kind: row.kind,
    topicId: row.topic_id,
    refId: row.ref_id,
    sender: row.sender,
    locale: row.locale,
    payload: row.payload ?? {},
    attempts: row.attempts,
    unknownOutcomes: row.unknown_outcomes,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    ...('hand_over_turn' in row && {
      handOverTurn: row.hand_over_turn ? { cadence: row.subscriber_cadence!, timeZone: row.subscriber_time_zone! } : undefined,
      subscriptionStatus: row.subscription_read ? (row.subscription_status ?? null) : undefined,
    }),
  };
}

export interface ComposedMessage {
  /** A template name known to the TemplateRenderer. */
  template: string;
  data: Record<string, unknown>;
  /** Extra headers (the worker adds Message-ID, List-Unsubscribe for marketing, List-Id, Feedback-ID). */
  headers?: Record<string, string>;
  attachments?: { filename: string; content: string | Buffer; contentType: string; method?: string }[];
}

export interface DeliveryKind {
  kind: string;
  /**
   * Runs inside the transaction that hands the mail to SMTP, with the delivery and subscriber
   * rows locked. Returns a reason to suppress, or null to send.
   */
  gate(tx: Tx, delivery: ClaimedDelivery, now: Date): Promise<GateVerdict | null>;
  compose(tx: Tx, delivery: ClaimedDelivery): Promise<ComposedMessage>;
  /**
   * After the attempt was recorded (same transaction): e.g. give back a cadence window. `reason`
   * tells a mail that surely did not go (retrying, failed) from one that may have reached the
   * relay (unknown_outcome: the connection died after the whole message was sent).
   */
  settled?(tx: Tx, delivery: ClaimedDelivery, status: string, reason: Reason): Promise<void>;
  /**
   * Whether settled() writes anything for this outcome of the attempt. false lets the worker send
   * the hand-over's COMMIT in its record statement's round trip (one round trip fewer), and a
   * statement settled() then runs anyway throws. Absent: settled() may write whatever the outcome.
   */
  settledWrites?(status: string, reason: Reason): boolean;
  /**
   * Composes a mail that already went again, without its send-time checks (a marketing kind's
   * compose needs what its gate read): the console's mail view. Absent: compose() serves.
   */
  view?(tx: Tx, delivery: ClaimedDelivery): Promise<ComposedMessage>;
}

/** Not now: suppressed or expired for good, or deferred (into the next digest) until `nextAttemptAt`. */
export interface GateVerdict {
  status: 'suppressed' | 'expired' | 'deferred';
  reason: Reason;
  nextAttemptAt?: Date;
}

@Injectable()
export class DeliveryKinds {
  private readonly kinds = new Map<string, DeliveryKind>();

  register(kind: DeliveryKind): void {
    if (this.kinds.has(kind.kind)) throw new Error(`delivery kind ${kind.kind} registered twice`);
    this.kinds.set(kind.kind, kind);
  }

  get(kind: string): DeliveryKind {
    const found = this.kinds.get(kind);
    if (!found) throw new Error(`no delivery kind "${kind}" is registered`);
    return found;
  }
}

/** The consent checks every mail to a subscriber passes, with the subscription row locked. */
export async function subscriberGate(
  tx: Sql,
  delivery: ClaimedDelivery,
  /** The subscription's status when the caller already read it (locked FOR SHARE) in its own query. */
  knownSubscriptionStatus?: string | null,
): Promise<{ status: 'suppressed'; reason: Reason } | null> {
  if (delivery.subscriberId === null) {
    const reason = await addressVerdict(tx, delivery.email, delivery.class);
    return reason ? { status: 'suppressed', reason } : null;
  }
  let subscriptionStatus: string | null = null;
  const topicBound = delivery.class === 'marketing' && delivery.topicId !== null;
  if (topicBound && knownSubscriptionStatus !== undefined) {
    subscriptionStatus = knownSubscriptionStatus;
  } else if (topicBound && delivery.subscriptionStatus !== undefined) {
    // Read (and locked FOR SHARE) by the worker's lock statement, in this transaction.
    subscriptionStatus = delivery.subscriptionStatus;
  } else if (topicBound) {
    const subscription = await tx.row(Q.subscriptionStatus, [delivery.subscriberId, delivery.topicId!]);
    subscriptionStatus = subscription?.status ?? null;
  }
  const reason = consentVerdict({ class: delivery.class, subscriberStatus: delivery.subscriberStatus, subscriptionStatus, topicBound });
  return reason ? { status: 'suppressed', reason } : null;
}
