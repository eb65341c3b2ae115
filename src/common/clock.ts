// The clock port: services ask it for "now" so tests can travel in time.

export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
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
