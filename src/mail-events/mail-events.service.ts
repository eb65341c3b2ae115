// The one way in for everything the mail world says back: DSNs and ARF reports over SMTP, mails
// to the List-Unsubscribe mailto, the providers' webhooks, Tactful's own signed webhook. Each
// event finds the mail or the person it is about, is decided by mail-event.policy.ts, and is
// applied in one transaction together with its evidence row (mail_events), which the timeline
// shows. A repeated provider event id changes nothing.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { scrubSecrets } from '../common/log-redaction';
import { APP_CONFIG, AppConfig } from '../config/config';
import { blockAddress } from '../delivery/bounced-addresses';
import { MetricsService } from '../metrics/metrics.service';
import { emailHash } from '../addresses/email';
import { decideMailEvent, MailEventKind, MailEventOutcome, MailEventSource } from './mail-event.policy';

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
    @InjectDataSource() private readonly db: DataSource,
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
    const rows = await this.db.query(
      `INSERT INTO webhook_events (source, event_id, received_at) VALUES ($1, left($2, 300), $3) ON CONFLICT DO NOTHING RETURNING 1`,
      [source, id, this.clock.now()],
    );
    return rows.length > 0;
  }

  private async apply(tx: EntityManager, event: InboundMailEvent, now: Date): Promise<MailEventResult> {
    if (event.replayKey) {
      const [fresh] = await tx.query(
        `INSERT INTO webhook_events (source, event_id, received_at) VALUES ($1, left($2, 300), $3) ON CONFLICT DO NOTHING RETURNING 1`,
        [event.replayKey.source, event.replayKey.id, now],
      );
      if (!fresh) return { duplicate: true, subscriberFound: false, outcome: 'none', subscriberId: null, deliveryId: null, queuedSuppressed: 0 };
    }
    const target = await this.find(tx, event);
    let status: string | null = null;
    if (target.subscriberId) {
      const [row] = await tx.query(`SELECT status, email FROM subscribers WHERE id = $1 FOR UPDATE`, [target.subscriberId]);
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
    if (hash && !target.subscriberId) await tx.query(`SELECT pg_advisory_xact_lock(('x' || substr(encode($1::bytea, 'hex'), 1, 15))::bit(60)::bigint)`, [hash]);

    let softBouncesInWindow = 0;
    if (event.kind === 'soft_bounce' && hash) {
      const since = new Date(now.getTime() - this.config.softBounceDays * 86_400_000);
      // Distinct mails: a DSN and a provider event about the same mail count once.
      const [{ count }] = await tx.query(
        `SELECT count(DISTINCT key)::int AS count FROM (
           SELECT coalesce('d' || delivery_id::text, 'm' || message_id, 'e' || id::text) AS key
           FROM mail_events WHERE email_hash = $1 AND kind = 'soft_bounce' AND occurred_at > $2
           UNION ALL SELECT coalesce('d' || $3::text, 'm' || $4::text, 'this')) k`,
        [hash, since, target.deliveryId, target.messageId],
      );
      softBouncesInWindow = count;
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
      await tx.query(`UPDATE subscribers SET status = $2, paused_until = NULL, status_changed_at = $3, updated_at = $3 WHERE id = $1 AND status <> $2`, [
        target.subscriberId,
        decision.newStatus,
        now,
      ]);
      if (decision.revokeTopics) {
        await tx.query(
          `UPDATE topic_subscriptions SET status = 'revoked', revoked_at = $2, revocation_source = $3, revoked_api_key_id = NULL
           WHERE subscriber_id = $1 AND status <> 'revoked'`,
          [target.subscriberId, now, event.source === 'mailto' ? 'mail' : 'mail_provider'],
        );
      }
      // The gate (at hand-over) suppresses them; made due now, they are decided within seconds
      // rather than when their retry or quiet-hours time comes, through the one hand-over path.
      const [{ count }] = await tx.query(
        `WITH due AS (
           UPDATE deliveries SET next_attempt_at = $2, updated_at = $2
           WHERE subscriber_id = $1 AND status = 'queued' AND class = ANY($3) RETURNING 1)
         SELECT count(*)::int AS count FROM due`,
        [target.subscriberId, now, decision.suppressClasses],
      );
      queuedSuppressed = count;
    }
    if (!target.subscriberId && decision.blockAddress && target.email) {
      await blockAddress(tx, target.email, decision.blockAddress, `${event.source}: ${event.statusCode ?? ''} ${event.diagnostic ?? ''}`.trim(), now);
    }
    await this.insertEvidence(tx, event, target, hash, decision.outcome, occurredAt, now);
    return { duplicate: false, subscriberFound: target.subscriberId !== null, outcome: decision.outcome, ...base, queuedSuppressed };
  }

  /** The mail and the person, from the strongest clue to the weakest. */
  private async find(tx: EntityManager, event: InboundMailEvent): Promise<Target> {
    const messageId = normalizeMessageId(event.messageId);
    const recipient = bareAddress(event.recipient);
    if (event.subscriberId) return { subscriberId: event.subscriberId, email: null, deliveryId: event.deliveryId ?? null, messageId };
    const delivery = async (sql: string, value: string) => {
      const [row] = await tx.query(`SELECT d.id, d.subscriber_id, d.to_address, d.message_id FROM deliveries d WHERE ${sql} ORDER BY d.id DESC LIMIT 1`, [
        value,
      ]);
      return row as { id: string; subscriber_id: string | null; to_address: string | null; message_id: string | null } | undefined;
    };
    const found =
      (event.deliveryId && /^\d{1,19}$/.test(event.deliveryId) ? await delivery(`d.id = $1`, event.deliveryId) : undefined) ??
      (messageId ? await delivery(`d.message_id = $1`, messageId) : undefined); // deliveries_message_id_idx
    if (found) {
      return {
        subscriberId: found.subscriber_id,
        email: found.to_address ?? recipient,
        deliveryId: String(found.id),
        messageId: found.message_id ?? messageId,
      };
    }
    if (recipient) {
      const [subscriber] = await tx.query(`SELECT id FROM subscribers WHERE email = $1`, [recipient]);
      return { subscriberId: subscriber?.id ?? null, email: recipient, deliveryId: null, messageId };
    }
    return { subscriberId: null, email: null, deliveryId: null, messageId };
  }

  private async insertEvidence(
    tx: EntityManager,
    event: InboundMailEvent,
    target: Target,
    hash: Buffer | null,
    outcome: MailEventOutcome,
    occurredAt: Date,
    now: Date,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO mail_events (subscriber_id, email_hash, kind, source, outcome, delivery_id, message_id, status_code, diagnostic,
                                provider_event_id, occurred_at, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
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
      ],
    );
  }
}
