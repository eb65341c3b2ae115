// The one way in for everything the mail world says back: DSNs and ARF reports over SMTP, mails
// to the List-Unsubscribe mailto, the providers' webhooks, Tactful's own signed webhook. Each
// event finds the mail or the person it is about, is decided by mail-event.policy.ts, and is
// applied in one transaction together with its evidence row (mail_events), which the timeline
// shows. A repeated provider event id changes nothing.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { scrubSecrets } from '../common/log-redaction';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Tx } from '../database/sql';
import { blockAddress } from '../delivery/bounced-addresses';
import { MetricsService } from '../metrics/metrics.service';
import { emailHash } from '../addresses/email';
import { decideMailEvent, MailEventKind, MailEventOutcome, MailEventSource } from './mail-event.policy';
import { MailEventQueries as Q } from './mail-events.queries';

export interface InboundMailEvent {
  source: MailEventSource;
  kind: MailEventKind;
  /** Replay protection: stored in webhook_events; a second event with the same key changes nothing. */
  replayKey?: { source: string; id: string };
  /** Who it is about, tried in this order: a signed unsubscribe token's subscriber, ... */
  subscriberId?: string | null;
  /** ... the delivery named by the VERP address or the X-Tactful-Delivery header, ... */
  deliveryId?: string | null;
  /** ... the original mail's Message-ID, ... */
  messageId?: string | null;
  /** ... the recipient's address (Original-Recipient, Final-Recipient, the provider's `email`). */
  recipient?: string | null;
  /** RFC 3463 status (`5.1.1`) or the provider's code. */
  statusCode?: string | null;
  diagnostic?: string | null;
  providerEventId?: string | null;
  occurredAt?: Date | null;
}

export interface MailEventResult {
  duplicate: boolean;
  subscriberFound: boolean;
  outcome: MailEventOutcome;
  subscriberId: string | null;
  deliveryId: string | null;
  /** Queued mails made due so the gate suppresses them now. */
  queuedSuppressed: number;
}

interface Target {
  subscriberId: string | null;
  email: string | null;
  deliveryId: string | null;
  messageId: string | null;
}

/** Message-IDs are stored with their angle brackets (delivery-worker.ts messageIdFor). */
export function normalizeMessageId(value: string | null | undefined): string | null {
  const text = (value ?? '').trim().replace(/^<+|>+$/g, '');
  return text === '' || text.length > 300 || /[\s<>]/.test(text) ? null : `<${text}>`;
}

/** A bare address from `rfc822; Anna <anna@example.de>`, `<anna@example.de>` or `anna@example.de`. */
export function bareAddress(value: string | null | undefined): string | null {
  const text = (value ?? '').replace(/^\s*rfc822\s*;/i, '').trim();
  const match = /<([^<>\s]+@[^<>\s]+)>/.exec(text) ?? /([^\s<>;,"]+@[^\s<>;,"]+)/.exec(text);
  const address = match?.[1]?.toLowerCase() ?? null;
  return address && address.length <= 254 ? address : null;
}

/**
 * How long provider event ids and tokens are kept against replays. An event that says it is older
 * is refused as stale (SNS Timestamp; SendGrid and Mailgun are held to minutes by their signed
 * timestamps), so a pruned id can never be replayed. The prune-housekeeping job keeps them
 * WEBHOOK_EVENTS_RETENTION_DAYS, never less than this.
 */
export const REPLAY_RETENTION_MS = 7 * 86_400_000;

const clip = (value: string | null | undefined, length: number): string | null => (value ? value.slice(0, length) : null);

@Injectable()
export class MailEventsService {
  private readonly logger = new Logger(MailEventsService.name);

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
  ) {}

  async record(event: InboundMailEvent): Promise<MailEventResult> {
    const now = this.clock.now();
    const result = await this.db.transaction((tx) => this.apply(tx, event, now));
    this.metrics.mailEvents.inc({ source: event.source, kind: event.kind, outcome: result.duplicate ? 'duplicate' : result.outcome });
    if (result.outcome !== 'none' && !result.duplicate) {
      this.logger.log(
        { source: event.source, kind: event.kind, outcome: result.outcome, deliveryId: result.deliveryId, subscriberId: result.subscriberId },
        'mail event applied',
      );
    }
    return result;
  }

  /** Stores a replay key on its own (a Mailgun token); false when it was seen before. */
  async claimReplayKey(source: string, id: string): Promise<boolean> {
    return (await this.db.row(Q.claimReplayKey, [source, id, this.clock.now()])) !== undefined;
  }

  private async apply(tx: Tx, event: InboundMailEvent, now: Date): Promise<MailEventResult> {
    if (event.replayKey) {
      const fresh = await tx.row(Q.claimReplayKey, [event.replayKey.source, event.replayKey.id, now]);
      if (!fresh) return { duplicate: true, subscriberFound: false, outcome: 'none', subscriberId: null, deliveryId: null, queuedSuppressed: 0 };
    }
    const target = await this.find(tx, event);
    let status: string | null = null;
    if (target.subscriberId) {
      const row = await tx.row(Q.lockSubscriber, [target.subscriberId]);
      if (row) {
        status = row.status;
        target.email = row.email;
      } else target.subscriberId = null; // erased since
    }
    const hash = target.email ? emailHash(target.email) : null;
    const occurredAt = event.occurredAt && event.occurredAt <= now ? event.occurredAt : now;
    const base = {
      subscriberId: target.subscriberId,
      deliveryId: target.deliveryId,
    };
    if (!hash && !target.subscriberId) {
      await this.insertEvidence(tx, event, target, null, 'none', occurredAt, now);
      return { duplicate: false, subscriberFound: false, outcome: 'none', ...base, queuedSuppressed: 0 };
    }
    // Serialises soft bounces of one address (a subscriber's are already serialised by its row lock).
    if (hash && !target.subscriberId) await tx.run(Q.lockAddress, [hash]);

    let softBouncesInWindow = 0;
    if (event.kind === 'soft_bounce' && hash) {
      const since = new Date(now.getTime() - this.config.softBounceDays * 86_400_000);
      // Distinct mails: a DSN and a provider event about the same mail count once.
      softBouncesInWindow = (await tx.row(Q.softBouncesInWindow, [hash, since, target.deliveryId, target.messageId]))!.count;
    }
    const decision = decideMailEvent(
      event.kind,
      { subscriberStatus: target.subscriberId ? status : null, softBouncesInWindow },
      {
        limit: this.config.softBounceLimit,
        days: this.config.softBounceDays,
      },
    );

    let queuedSuppressed = 0;
    if (target.subscriberId && decision.newStatus) {
      await tx.run(Q.setSubscriberStatus, [target.subscriberId, decision.newStatus, now]);
      if (decision.revokeTopics) {
        await tx.run(Q.revokeTopics, [target.subscriberId, now, event.source === 'mailto' ? 'mail' : 'mail_provider']);
      }
      // The gate (at hand-over) suppresses them; made due now, they are decided within seconds
      // rather than when their retry or quiet-hours time comes, through the one hand-over path.
      queuedSuppressed = (await tx.row(Q.makeQueuedDue, [target.subscriberId, now, decision.suppressClasses]))!.count;
    }
    if (!target.subscriberId && decision.blockAddress && target.email) {
      await blockAddress(tx, target.email, decision.blockAddress, `${event.source}: ${event.statusCode ?? ''} ${event.diagnostic ?? ''}`.trim(), now);
    }
    await this.insertEvidence(tx, event, target, hash, decision.outcome, occurredAt, now);
    return { duplicate: false, subscriberFound: target.subscriberId !== null, outcome: decision.outcome, ...base, queuedSuppressed };
  }

  /** The mail and the person, from the strongest clue to the weakest. */
  private async find(tx: Tx, event: InboundMailEvent): Promise<Target> {
    const messageId = normalizeMessageId(event.messageId);
    const recipient = bareAddress(event.recipient);
    if (event.subscriberId) return { subscriberId: event.subscriberId, email: null, deliveryId: event.deliveryId ?? null, messageId };
    const found =
      (event.deliveryId && /^\d{1,19}$/.test(event.deliveryId) ? await tx.row(Q.deliveryById, [event.deliveryId]) : undefined) ??
      (messageId ? await tx.row(Q.deliveryByMessageId, [messageId]) : undefined);
    if (found) {
      return {
        subscriberId: found.subscriber_id,
        email: found.to_address ?? recipient,
        deliveryId: String(found.id),
        messageId: found.message_id ?? messageId,
      };
    }
    if (recipient) {
      const subscriber = await tx.row(Q.subscriberByEmail, [recipient]);
      return { subscriberId: subscriber?.id ?? null, email: recipient, deliveryId: null, messageId };
    }
    return { subscriberId: null, email: null, deliveryId: null, messageId };
  }

  private async insertEvidence(
    tx: Tx,
    event: InboundMailEvent,
    target: Target,
    hash: Buffer | null,
    outcome: MailEventOutcome,
    occurredAt: Date,
    now: Date,
  ): Promise<void> {
    await tx.run(Q.insertEvidence, [
      target.subscriberId,
      hash,
      event.kind,
      event.source,
      outcome,
      target.deliveryId,
      clip(target.messageId, 300),
      clip(event.statusCode, 40),
      // The diagnostic often quotes the address: kept without it (the row is the person's by id).
      clip(event.diagnostic ? scrubSecrets(event.diagnostic) : null, 1000),
      clip(event.providerEventId, 300),
      occurredAt,
      now,
    ]);
  }
}
