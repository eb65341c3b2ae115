// The outbox worker, run in every instance. It claims due rows in batches with
// FOR UPDATE SKIP LOCKED and a lease, then hands each mail to SMTP inside a transaction that
// holds the delivery row (and the subscriber row, shared) locked and re-checks that the mail may
// still go. So an unsubscribe either commits before the check (mail suppressed) or waits until
// the hand-over committed; and a stalled worker whose lease was taken over finds its row gone.
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isMainThread, threadId } from 'node:worker_threads';
import { mailDomain, replyToFor } from '../addresses/email';
import { Clock } from '../common/clock';
import { scrubSecrets } from '../common/log-redaction';
import { addressOf, APP_CONFIG, AppConfig } from '../config/config';
import { runAs } from '../database/connection-budgets';
import { Db, Tx } from '../database/sql';
import { MetricsService } from '../metrics/metrics.service';
import { TokenService } from '../links/tokens';
import { TemplateRenderer } from '../rendering/template-renderer';
import { recordHardBounce } from './bounced-addresses';
import { ClaimedDelivery, claimedDeliveryOf, DeliveryKinds } from './delivery-kinds';
import { DeliveryQueries as Q } from './delivery.queries';
import { DeliveryReferences } from './delivery-reference';
import { MAIL_STREAMS, MailRelays, MailStream, streamOf } from './mail-relays';
import { OutgoingMail, UnsafeMailError } from './mail-transport';
import type { SendOutcome } from './smtp-outcome.policy';
import { Reason } from '../reasons/reason-codes';
import { PACE_HORIZON_SECONDS, PacedSlots, RelayPacer } from './relay-pacer';
import { afterAttempt, RetrySettings } from './retry.policy';
import { VerpCodec } from './verp';

export interface WorkerRunStats {
  claimed: number;
  sent: number;
  suppressed: number;
  retried: number;
  failed: number;
  unknown: number;
  reclaimed: number;
}

/** Recipient domains paused by an SMTP policy block, read once per claimed batch. */
type DomainPauses = Map<string, Date>;

/** Each stream's claim (its condition is its partial index's predicate). */
const CLAIM = { service: Q.claimService, marketing: Q.claimMarketing } as const;

const emptyStats = (): WorkerRunStats => ({ claimed: 0, sent: 0, suppressed: 0, retried: 0, failed: 0, unknown: 0, reclaimed: 0 });

/** Deterministic per delivery: a re-send after an unknown outcome carries the same Message-ID. */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  return `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}@${domain}>`;
}

@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorker.name);
  readonly workerId = `${hostname()}:${process.pid}${isMainThread ? '' : `/t${threadId}`}:${randomUUID().slice(0, 8)}`;
  private readonly senderDomain: string;
  private readonly retry: RetrySettings;
  private readonly references: DeliveryReferences;
  /** VERP: each mail's envelope sender names its delivery; unset without BOUNCE_DOMAIN. */
  private readonly verp: VerpCodec | undefined;
  private readonly pacer: RelayPacer;
  private running = false;
  private readonly timers = new Map<MailStream, NodeJS.Timeout>();
  private readonly loops = new Map<MailStream, Promise<void>>();
  /**
   * Rows of this worker's batches not yet finished. Its streams' loops reclaim expired leases
   * while the other stream's batch runs; a row of a batch still in hand is this worker's, however
   * long the batch takes, and is not reclaimed from under it.
   */
  private readonly inHand = new Set<string>();
  /** Totals since start, for metrics. */
  readonly totals = emptyStats();

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly relays: MailRelays,
    private readonly renderer: TemplateRenderer,
    private readonly kinds: DeliveryKinds,
    private readonly tokens: TokenService,
    private readonly metrics: MetricsService,
  ) {
    this.senderDomain = mailDomain(config.mailFrom);
    this.references = new DeliveryReferences([config.tokenSecret, ...config.previousTokenSecrets]);
    this.verp = config.bounceDomain ? new VerpCodec([config.tokenSecret, ...config.previousTokenSecrets], config.bounceDomain) : undefined;
    this.pacer = new RelayPacer(db);
    this.retry = {
      maxAttempts: config.retryMaxAttempts,
      baseSeconds: config.retryBaseSeconds,
      domainPauseMinutes: config.domainPauseMinutes,
      unknownResends: 1,
    };
  }

  onApplicationBootstrap(): void {
    // WORKER_ISOLATION=thread: DeliveryWorkerThread runs it in a thread of its own instead (worker-thread.ts).
    if (this.config.workerEnabled && this.config.workerIsolation === 'inline') this.start();
  }

  /** Stop claiming and finish the batch in hand while the database is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relays.close();
  }

  /** One loop per stream: a marketing batch in hand never holds up the next service claim. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const stream of MAIL_STREAMS) {
      const tick = async () => {
        if (!this.running) return;
        let busy = false;
        try {
          busy = (await runAs('worker', () => this.runBatch(stream))).claimed > 0;
        } catch (error) {
          this.logger.error({ err: error, stream }, 'delivery worker tick failed');
        }
        if (this.running)
          this.timers.set(
            stream,
            setTimeout(() => this.loops.set(stream, tick()), busy ? 0 : this.config.workerPollMs),
          );
      };
      this.loops.set(stream, tick());
    }
  }

  /** Stops claiming; the batches in hand are finished first. */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    // A tick that was just scheduled replaces its stream's promise; wait until none is left running.
    let pending = [...this.loops.values()];
    while (pending.length > 0) {
      await Promise.all(pending);
      const now = [...this.loops.values()];
      pending = now.filter((loop) => !pending.includes(loop));
    }
  }

  /** Processes everything due now, batch after batch (tests and one-off runs). */
  async drain(): Promise<WorkerRunStats> {
    const total = emptyStats();
    for (;;) {
      const stats = await this.runOnce();
      for (const key of Object.keys(total) as (keyof WorkerRunStats)[]) total[key] += stats[key];
      if (stats.claimed === 0) return total;
    }
  }

  /**
   * One batch of each stream at once, on the worker's own connection budget (API load cannot
   * starve the hand-overs). Expired leases are reclaimed first, so the batches claim what that
   * gave back (claimed alongside, the service stream's claim would run before the reclaim).
   */
  runOnce(): Promise<WorkerRunStats> {
    return runAs('worker', async () => {
      const total = emptyStats();
      total.reclaimed = await this.reclaimExpiredLeases();
      this.totals.reclaimed += total.reclaimed;
      for (const stats of await Promise.all(MAIL_STREAMS.map((stream) => this.runBatch(stream, false)))) {
        for (const key of Object.keys(total) as (keyof WorkerRunStats)[]) total[key] += stats[key];
      }
      return total;
    });
  }

  /** `reclaim`: reclaim expired leases first (the loops: once per tick, the marketing loop for both). */
  private async runBatch(stream: MailStream, reclaim = stream === 'marketing'): Promise<WorkerRunStats> {
    const stats = emptyStats();
    if (reclaim) stats.reclaimed = await this.reclaimExpiredLeases();
    const relay = this.relays.for(stream);
    // A paced relay gets no more rows than it can send within the horizon, so a claimed row
    // waits for its slot seconds at most, never until its lease runs out.
    const limit =
      relay.ratePerSecond > 0 ? Math.min(this.config.workerBatchSize, Math.ceil(relay.ratePerSecond * PACE_HORIZON_SECONDS)) : this.config.workerBatchSize;
    const claimed = await this.claim(stream, limit);
    for (const id of claimed) this.inHand.add(id);
    stats.claimed = claimed.length;
    const pauses = claimed.length > 0 ? await this.domainPauses() : new Map<string, Date>();
    const slots: PacedSlots | undefined = relay.ratePerSecond > 0 ? this.pacer.schedule(relay.name, relay.ratePerSecond, claimed.length) : undefined;
    const lanes = stream === 'service' ? this.config.workerServiceConcurrency : this.config.workerConcurrency;
    // The mails not yet at their hand-over (those waiting for a lane or for their pacing slot)
    // keep their claim lease while this batch runs; deliverOne takes each out as it starts.
    const waiting = new Set(claimed);
    const heartbeat = claimed.length > 0 ? this.startHeartbeat(waiting) : undefined;
    let next = 0;
    const laneCount = Math.min(lanes, claimed.length);
    const lane = async () => {
      // The lane's next mail when the previous one took it: already started (its start committed
      // with the previous hand-over) or, if that did not happen, still to start.
      let carried: { id: string; started: boolean } | undefined;
      for (;;) {
        const taken = carried ?? (next < claimed.length ? { id: claimed[next++], started: false } : undefined);
        carried = undefined;
        if (!taken) break;
        const { id } = taken;
        // Unpaced, and while every other lane still finds work, this lane takes its next mail now
        // and starts it in this hand-over's record statement: one round trip per mail fewer. (A
        // paced mail is started only once its slot came, so not ahead of time.)
        const following = !slots && claimed.length - next >= laneCount ? claimed[next++] : undefined;
        const result = await this.deliverOne(id, pauses, waiting, slots, taken.started, following)
          .catch((error) => {
            this.logger.error({ err: error, deliveryId: id }, 'delivery failed unexpectedly; its lease will expire and it is retried');
            return { outcome: 'error', followingStarted: false };
          })
          .finally(() => {
            waiting.delete(id);
            this.inHand.delete(id);
          });
        if (following !== undefined) {
          if (result.followingStarted) waiting.delete(following);
          carried = { id: following, started: result.followingStarted };
        }
        const outcome = result.outcome;
        if (outcome === 'sent') stats.sent++;
        else if (outcome === 'suppressed' || outcome === 'expired') stats.suppressed++;
        else if (outcome === 'queued') stats.retried++;
        else if (outcome === 'failed') stats.failed++;
        else if (outcome === 'unknown') stats.unknown++;
      }
    };
    try {
      await Promise.all(Array.from({ length: laneCount }, lane));
    } finally {
      if (heartbeat) await heartbeat.stop();
    }
    for (const key of Object.keys(stats) as (keyof WorkerRunStats)[]) this.totals[key] += stats[key];
    if (stats.claimed > 0) this.logger.debug({ stream, workerId: this.workerId, ...stats }, 'delivery batch done');
    return stats;
  }

  /** Claims a batch of due rows; SKIP LOCKED lets every instance claim disjoint rows at once. */
  private async claim(stream: MailStream, limit: number): Promise<string[]> {
    const now = this.clock.now();
    const rows = await this.db.rows(CLAIM[stream], [now, limit, this.workerId, new Date(now.getTime() + this.config.workerClaimLeaseSeconds * 1000)]);
    return rows.map((r) => r.id);
  }

  /**
   * Renews the claim lease of the batch's waiting mails every third of it. Rows a lane holds
   * locked (at their hand-over, on the full lease) are skipped rather than waited for.
   */
  private startHeartbeat(waiting: Set<string>): { stop(): Promise<void> } {
    const claimLeaseMs = this.config.workerClaimLeaseSeconds * 1000;
    let beat: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      if (waiting.size === 0) return;
      beat = beat
        .then(() => this.db.rows(Q.renewClaimLease, [[...waiting], this.workerId, new Date(this.clock.now().getTime() + claimLeaseMs)]))
        .catch((error) => this.logger.warn({ err: error }, 'claim lease heartbeat failed; the waiting mails may be taken over'));
    }, claimLeaseMs / 3);
    return {
      stop: async () => {
        clearInterval(timer);
        await beat;
      },
    };
  }

  /**
   * A lease that ran out means its worker died (a live but slow one still holds the row lock, and
   * SKIP LOCKED passes over it). A mail it never started (no sending_started_at: it only waited in
   * the batch, on the short claim lease) goes back to the queue as never sent. A started one may
   * or may not have reached the SMTP server: it is sent once more under the same Message-ID, and
   * counted as an unknown outcome.
   */
  private async reclaimExpiredLeases(): Promise<number> {
    const now = this.clock.now();
    const rows = await this.db.rows(Q.reclaimExpired, [now, this.workerId, [...this.inHand]]);
    if (rows.length > 0) this.logger.warn({ count: rows.length }, 'reclaimed deliveries whose worker lease expired');
    return rows.length;
  }

  /**
   * The pauses in force now, once per batch rather than once per mail. A pause another instance
   * sets while this batch runs applies from the next batch on (a batch takes well under a
   * second); a pause this worker sets applies at once (record() adds it here).
   */
  private async domainPauses(): Promise<DomainPauses> {
    const rows = await this.db.rows(Q.domainPausesInForce, [this.clock.now()]);
    return new Map(rows.map((r) => [r.domain, r.paused_until]));
  }

  /**
   * `slots`: the relay's pace. The mail waits for its send slot first, still on the claim lease
   * the heartbeat renews (it stays in `waiting`); then its start is committed on its own, with the
   * full lease, before the transaction locks the row (a statement on another connection could not
   * update the row that transaction holds). So a mail the gate then suppresses has used its slot:
   * the relay sees at most the pace, never more.
   */
  private async deliverOne(
    id: string,
    pauses: DomainPauses,
    waiting: Set<string>,
    slots: PacedSlots | undefined,
    /** Its start was committed with the lane's previous hand-over (its record statement). */
    started: boolean,
    /** The lane's next mail, to start in this hand-over's record statement (unpaced lanes). */
    following?: string,
  ): Promise<{ outcome: string; followingStarted: boolean }> {
    if (!started) {
      await slots?.next();
      const startedAt = this.clock.now();
      const handOver = await this.db.row(Q.startHandOver, [
        id,
        this.workerId,
        startedAt,
        new Date(startedAt.getTime() + this.config.workerLeaseSeconds * 1000),
      ]);
      waiting.delete(id);
      if (!handOver || handOver.n === 0) return { outcome: 'lost', followingStarted: false }; // its claim lease ran out and another worker took it
    }
    let followingStarted = false;
    const outcome = await this.db.transaction(
      async (tx) => {
        const delivery = await this.lockClaimed(tx, id);
        if (!delivery) return 'lost';
        const now = this.clock.now();
        const kind = this.kinds.get(delivery.kind);
        // Before the gate, whose hand-over record would otherwise hold the window for a mail that
        // only waits: the gate runs when the pause is over, on the state of that moment. For a
        // marketing mail this is the outcome domain_paused, whose window action is keep
        // (hand-over.policy.ts): its reservation waits with it, so nothing here touches the window.
        const domain = mailDomain(delivery.email);
        const pausedUntil = pauses.get(domain);
        if (pausedUntil && pausedUntil > now) {
          await tx.run(Q.requeueForDomainPause, [id, Reason.DomainPaused, pausedUntil, now]);
          return 'queued';
        }
        const verdict = await kind.gate(tx, delivery, now);
        if (verdict) {
          await tx.run(Q.recordGateVerdict, [id, verdict.status, verdict.reason, now, verdict.nextAttemptAt ?? null]);
          this.metrics.deliveries.inc({ class: delivery.class, kind: delivery.kind, status: verdict.status, reason: verdict.reason });
          return verdict.status;
        }

        const mail = await this.buildMail(tx, delivery, kind);
        let outcome: SendOutcome;
        // The slot was waited for before the start (above): what the relay sees is spaced as the
        // slots are, give or take the gate and the rendering.
        const started = performance.now();
        try {
          outcome = await this.relays.for(streamOf(delivery.class)).transport.send(mail);
          this.metrics.smtpDuration.observe({ outcome: outcome.status }, (performance.now() - started) / 1000);
        } catch (error) {
          if (!(error instanceof UnsafeMailError)) throw error;
          // Refused before a byte went out (CR/LF in a header, say): the same mail would be refused
          // again, and letting the lease run out would log it as an unknown hand-over that never was.
          this.logger.error({ err: error, deliveryId: id }, 'mail refused as unsafe; delivery failed');
          outcome = { status: 'failed', response: `not sent: ${error.message}` };
        }
        // Whether the kind's after-effects write anything for an outcome: if not, COMMIT can go with the record.
        const settledWrites = (status: string, reason: Reason) => kind.settled !== undefined && (kind.settledWrites?.(status, reason) ?? true);
        const recorded = await this.record(tx, delivery, mail.messageId, outcome, domain, pauses, following, settledWrites);
        await kind.settled?.(tx, delivery, recorded.status, recorded.reason);
        followingStarted = recorded.followingStarted;
        return recorded.status;
      },
      // The lock statement opens the hand-over: BEGIN goes in its round trip, one fewer per mail.
      { beginWithFirstStatement: true },
    );
    // Only now, committed: a rolled-back hand-over took the following mail's start with it.
    return { outcome, followingStarted };
  }

  private async lockClaimed(tx: Tx, id: string): Promise<ClaimedDelivery | null> {
    const row = await tx.row(Q.lockClaimed, [id, this.workerId]);
    return row ? claimedDeliveryOf(row) : null;
  }

  /** The mail as it is handed to SMTP (also what the console shows of a sent mail, see mail-view.service.ts). */
  async buildMail(tx: Tx, delivery: ClaimedDelivery, kind: ReturnType<DeliveryKinds['get']>): Promise<OutgoingMail> {
    const composed = await kind.compose(tx, delivery);
    // Replies are welcome: every mail names a mailbox people read, the sender's own if it has one.
    const replyTo = replyToFor(this.config, delivery.sender);
    const layout: Record<string, unknown> = {
      locale: delivery.locale,
      replyAddress: addressOf(replyTo),
    };
    const headers: Record<string, string> = {
      // Opaque: the row id itself is sequential (delivery-reference.ts).
      'X-Tactful-Delivery': this.references.encode(delivery.id),
      'Feedback-ID': `${delivery.refId ?? delivery.kind}:${delivery.kind}:${delivery.class}:tactful`.replace(/[^\w:.-]/g, ''),
      ...composed.headers,
    };
    if (delivery.subscriberId) {
      layout.preferencesUrl = this.tokens.url('preferences', delivery.subscriberId);
      if (delivery.class === 'marketing') {
        const token = this.tokens.sign('unsubscribe', delivery.subscriberId);
        const mailto = this.config.unsubscribeMailto ?? `unsubscribe@${this.senderDomain}`;
        layout.unsubscribeUrl = this.tokens.urlOfToken('unsubscribe', token);
        headers['List-Unsubscribe'] = `<${layout.unsubscribeUrl}>, <mailto:${mailto}?subject=unsubscribe-${token}>`;
        headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
        headers['List-Id'] = `${this.config.companyName.replace(/[<>"\r\n]/g, '')} <${delivery.kind}.${this.senderDomain}>`;
      }
    }
    const rendered = await this.renderer.render(composed.template, delivery.locale, { ...layout, ...composed.data });
    return {
      messageId: messageIdFor(delivery.idempotencyKey, this.senderDomain),
      from: this.config.mailFrom,
      ...(this.verp ? { envelopeFrom: this.verp.address({ deliveryId: delivery.id, createdAt: delivery.createdAt }) } : {}),
      replyTo,
      to: delivery.email,
      date: this.clock.now(),
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      headers,
      attachments: composed.attachments,
    };
  }

  private async record(
    tx: Tx,
    delivery: ClaimedDelivery,
    messageId: string,
    outcome: SendOutcome,
    domain: string,
    pauses: DomainPauses,
    following: string | undefined,
    /** Whether the kind's settled() writes after the record for this outcome (else the record may carry the COMMIT). */
    settledWrites: (status: string, reason: Reason) => boolean,
  ): Promise<{ status: string; reason: Reason; followingStarted: boolean }> {
    const now = this.clock.now();
    const result = afterAttempt(outcome.status, { attempts: delivery.attempts, unknownOutcomes: delivery.unknownOutcomes }, this.retry, now, Math.random());
    const recorded = [
      delivery.id,
      result.status,
      result.reason,
      result.nextAttemptAt,
      outcome.response,
      messageId,
      now,
      result.countsAsUnknown ? 1 : 0,
      result.pauseDomainUntil ? 1 : 0,
    ] as const;
    let followingStarted = false;
    // The hand-over's last statement when neither a hard bounce, a domain pause nor the kind's
    // settled() writes after it (a sent campaign mail, a service mail): its round trip carries
    // the COMMIT, and it resolves committed (locks released, the following mail's start
    // committed), as the separate COMMIT did.
    const last = !settledWrites(result.status, result.reason) && !result.bounceSubscriber && !result.pauseDomainUntil;
    if (following === undefined) {
      await (last ? tx.runThenCommit(Q.recordAttempt, [...recorded]) : tx.run(Q.recordAttempt, [...recorded]));
    } else {
      const params: [...typeof recorded, string, string, Date] = [
        ...recorded,
        following,
        this.workerId,
        new Date(now.getTime() + this.config.workerLeaseSeconds * 1000),
      ];
      const row = await (last ? tx.rowThenCommit(Q.recordAttemptStartingNext, params) : tx.row(Q.recordAttemptStartingNext, params));
      followingStarted = (row?.started ?? 0) > 0;
    }
    this.metrics.deliveries.inc({ class: delivery.class, kind: delivery.kind, status: result.status, reason: result.reason });
    if (result.bounceSubscriber) await recordHardBounce(tx, delivery, outcome.response, now);
    if (result.pauseDomainUntil) {
      await tx.run(Q.pauseDomain, [domain, result.pauseDomainUntil, outcome.response.slice(0, 500), now]);
      pauses.set(domain, result.pauseDomainUntil);
      this.metrics.domainPauses.inc();
      // The SMTP reply often quotes the recipient: logged without addresses (the delivery id finds the row).
      this.logger.warn(
        { alert: 'domain_paused', domain, until: result.pauseDomainUntil, deliveryId: delivery.id, response: scrubSecrets(outcome.response) },
        'SMTP policy block: pausing the domain',
      );
    }
    return { status: result.status, reason: result.reason, followingStarted };
  }
}
