// A relay's rate limit, held across every instance: send slots 1/rate seconds apart, reserved
// in PostgreSQL (one row per relay in relay_paces) so that three instances sending at 14 mails/s
// together still send 14/s, not 42. A slot is reserved before the mail is built and the worker
// waits for it outside any transaction, so a paced lane holds no connection and no lock.
//
// Slots, not tokens: a token bucket lets a full bucket out at once and then refills, up to twice
// the rate in one second; evenly spaced slots never put more than `rate` starts into a second.
// No credit builds up while a relay is idle (a reservation starts no earlier than now).
import { DataSource } from 'typeorm';

/** Slots are handed out at most this far ahead, so a reservation never outlives a worker's lease. */
export const PACE_HORIZON_SECONDS = 1;

// Database time for everyone: the instances' own clocks may disagree. statement_timestamp() is
// taken before the row lock is granted, which only ever makes the grant smaller or start earlier
// than the reserved slots, never shortens the spacing between two reservations.
const RESERVE = `
  WITH cur AS (
    SELECT GREATEST(next_slot_at, statement_timestamp()) AS start FROM relay_paces WHERE relay = $1 FOR UPDATE),
  grant_ AS (
    SELECT start, LEAST($2::int, GREATEST(0, floor(
      extract(epoch FROM (statement_timestamp() + make_interval(secs => $4) - start)) * $3 + 1e-9))::int) AS granted
    FROM cur),
  taken AS (
    UPDATE relay_paces p SET next_slot_at = g.start + make_interval(secs => g.granted / $3::float8)
    FROM grant_ g WHERE p.relay = $1
    RETURNING g.granted, extract(epoch FROM (g.start - statement_timestamp())) * 1000 AS start_in_ms)
  SELECT granted, start_in_ms FROM taken`;

export interface SlotGrant {
  /** Slots granted (0 when the horizon is full). */
  granted: number;
  /** The first slot, in ms from the moment the reservation was made (≥ 0). */
  startInMs: number;
  /** Between two slots. */
  spacingMs: number;
}

export class RelayPacer {
  private readonly known = new Set<string>();

  constructor(private readonly db: DataSource) {}

  /** Up to `wanted` consecutive slots of `relay` within the horizon. */
  async reserve(relay: string, ratePerSecond: number, wanted: number): Promise<SlotGrant> {
    if (!this.known.has(relay)) {
      await this.db.query(`INSERT INTO relay_paces (relay, next_slot_at) VALUES ($1, statement_timestamp()) ON CONFLICT (relay) DO NOTHING`, [relay]);
      this.known.add(relay);
    }
    const [row] = await this.db.query(RESERVE, [relay, wanted, ratePerSecond, PACE_HORIZON_SECONDS]);
    return { granted: Number(row.granted), startInMs: Math.max(0, Number(row.start_in_ms)), spacingMs: 1000 / ratePerSecond };
  }

  /**
   * Hands out one slot at a time for the `total` mails of a claimed batch, reserving more as the
   * lanes use them up. `next()` resolves at the lane's slot (never before it: the wait is counted
   * from when the reservation's reply arrived, which is after the database's "now").
   */
  schedule(relay: string, ratePerSecond: number, total: number): PacedSlots {
    return new PacedSlots(this, relay, ratePerSecond, total);
  }
}

/** How late a slot may still be used. */
const LATE_SLOT_GRACE_MS = 50;

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

  async next(): Promise<void> {
    for (;;) {
      while (this.slots.length === 0) {
        this.reserving ??= this.reserveMore().finally(() => (this.reserving = undefined));
        await this.reserving;
      }
      const at = this.slots.shift()!;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
      // A slot missed by more than the grace (a stalled event loop, a slow hand-over before it)
      // is given up, not used late: late mails used at once would reach the relay bunched.
      if (performance.now() - at <= LATE_SLOT_GRACE_MS) return;
      this.remaining += 1;
    }
  }

  private async reserveMore(): Promise<void> {
    const grant = await this.pacer.reserve(this.relay, this.rate, Math.max(1, this.remaining));
    const received = performance.now();
    if (grant.granted === 0) {
      // Other instances hold the whole horizon: wait until part of it has passed.
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, Math.min(grant.startInMs - PACE_HORIZON_SECONDS * 1000 + grant.spacingMs, 1000))));
      return;
    }
    for (let i = 0; i < grant.granted; i++) this.slots.push(received + grant.startInMs + i * grant.spacingMs);
    this.remaining -= grant.granted;
  }
}
