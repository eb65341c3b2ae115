// A relay's rate limit, held across every instance: send slots 1/rate seconds apart, reserved
// in PostgreSQL (one row per relay in relay_paces, reserve_relay_slots() in migration
// 1766000400000) so that three instances sending at 14 mails/s together still send 14/s, not 42.
//
// Slots, not tokens: a token bucket lets a full bucket out at once and then refills, up to twice
// the rate in one second; evenly spaced slots never put more than `rate` starts into a second.
// No credit builds up while a relay is idle (a reservation starts no earlier than now).
import type { Sql } from '../database/sql';
import { DeliveryQueries as Q } from './delivery.queries';

/** Slots are handed out at most this far ahead, so a reservation never outlives a worker's lease. */
export const PACE_HORIZON_SECONDS = 1;

/** How late a slot may still be used; a later one is given up (see take()). */
const LATE_SLOT_GRACE_MS = 50;

export class RelayPacer {
  /**
   * Local time (performance.now()) minus database time, as the smallest difference seen between a
   * reply's arrival and the database's "now" in it: the true offset plus the fastest round trip.
   * Slots are mapped with this one estimate, so a reply that came late (a busy event loop, a slow
   * network) does not shift its slots later than the next reservation's and bunch them up; and
   * since no reply arrives before the database sent it, no slot is ever mapped early.
   */
  private offsetMs = Infinity;

  constructor(private readonly db: Sql) {}

  /** Up to `wanted` consecutive slots of `relay` within the horizon, as local times. */
  async reserve(relay: string, ratePerSecond: number, wanted: number): Promise<{ slots: number[]; retryInMs: number }> {
    const row = (await this.db.row(Q.reserveRelaySlots, [relay, wanted, ratePerSecond, PACE_HORIZON_SECONDS]))!;
    const received = performance.now();
    const nowMs = Number(row.now_ms);
    this.offsetMs = Math.min(this.offsetMs, received - nowMs);
    const spacing = 1000 / ratePerSecond;
    const first = Number(row.first_ms) + this.offsetMs;
    const slots = Array.from({ length: Number(row.granted) }, (_, i) => first + i * spacing);
    // None granted: the horizon is full until the first free slot comes within it.
    const retryInMs = Math.max(10, Math.min(1000, Number(row.first_ms) - nowMs - PACE_HORIZON_SECONDS * 1000 + spacing));
    return { slots, retryInMs };
  }

  /** The slots for the `total` mails of one claimed batch, reserved as the lanes use them up. */
  schedule(relay: string, ratePerSecond: number, total: number): PacedSlots {
    return new PacedSlots(this, relay, ratePerSecond, total);
  }
}

/** Resolves at `at` (a performance.now() time), at once when it has passed. */
async function waitFor(at: number): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
}

export class PacedSlots {
  private slots: number[] = [];
  private remaining: number;
  private reserving: Promise<void> | undefined;

  constructor(
    private readonly pacer: RelayPacer,
    private readonly relay: string,
    private readonly rate: number,
    total: number,
  ) {
    this.remaining = total;
  }

  /**
   * Resolves at this mail's slot, reserving more when none is left; the caller hands the mail
   * over at once. A reservation takes a connection of the worker's pool while the lanes hold
   * theirs, which is why that pool has one more than there are lanes (config.ts).
   */
  async next(): Promise<void> {
    for (;;) {
      while (this.slots.length === 0) {
        this.reserving ??= this.reserveMore().finally(() => (this.reserving = undefined));
        await this.reserving;
      }
      const at = this.slots.shift()!;
      await waitFor(at);
      // A slot missed (the timer fired late, the event loop stalled) is given up, not used late:
      // late mails sent at once would reach the relay bunched.
      if (performance.now() - at <= LATE_SLOT_GRACE_MS) return;
      this.remaining += 1;
    }
  }

  private async reserveMore(): Promise<void> {
    const { slots, retryInMs } = await this.pacer.reserve(this.relay, this.rate, Math.max(1, this.remaining));
    if (slots.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
      return;
    }
    this.slots.push(...slots);
    this.remaining -= slots.length;
  }
}
