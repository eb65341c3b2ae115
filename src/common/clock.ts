// The clock port: services ask it for "now" so tests can travel in time.

export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/** Reads the database server's clock: (its time in ms since the epoch). */
export type DatabaseTimeReader = () => Promise<number>;

/**
 * The host's clock corrected to the database server's. Cadence windows are measured between
 * hand-overs recorded by different instances; hosts whose clocks drift apart by a minute or two
 * would otherwise let a mail through a few minutes before its window ends (or record a window
 * that began before the mail left). With every instance on PostgreSQL's time, the windows of all
 * instances are measured on one clock. The offset is re-measured periodically (NTP may step the
 * host clock); each sample takes the middle of the round trip, the best of a few samples wins.
 */
export class DatabaseClock extends Clock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** How far the database's clock is ahead of this host's, in ms (negative: behind). */
  get offset(): number {
    return this.offsetMs;
  }

  async sync(read: DatabaseTimeReader, samples = 3): Promise<number> {
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < samples; i++) {
      const sent = Date.now();
      const databaseTime = await read();
      const received = Date.now();
      const sample = { rtt: received - sent, offset: databaseTime - (sent + received) / 2 };
      if (!best || sample.rtt < best.rtt) best = sample;
    }
    this.offsetMs = Math.round(best!.offset);
    return this.offsetMs;
  }

  /** Re-syncs every `everyMs`; a failed sync keeps the last offset (the database may be restarting). */
  keepSynced(read: DatabaseTimeReader, everyMs: number, on: { synced(offsetMs: number): void; failed(error: unknown): void }): void {
    this.stop();
    this.timer = setInterval(() => void this.sync(read).then(on.synced, on.failed), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A clock for tests: frozen until moved. */
export class FakeClock extends Clock {
  private current: Date;
  constructor(start: Date | string = '2026-01-05T08:00:00Z') {
    super();
    this.current = new Date(start);
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | string): void {
    this.current = new Date(to);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
