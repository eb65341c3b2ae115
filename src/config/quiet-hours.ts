// The shape of the QUIET_HOURS setting; the arithmetic on it is in src/cadence/slots.ts.
/**
 * The local night in which no marketing mail is handed over (QUIET_HOURS, read in src/config/config.ts).
 * Whole hours, because tactful_outside_quiet() in SQL takes the same two numbers. A range that
 * starts where it ends is empty: no quiet hours at all.
 */
export interface QuietHours {
  /** Local hour quiet time starts (inclusive), e.g. 21. */
  start: number;
  /** Local hour it ends (exclusive), e.g. 8. */
  end: number;
}

export const DEFAULT_QUIET_HOURS: QuietHours = { start: 21, end: 8 };
/** QUIET_HOURS=off: an empty range, in TypeScript and in SQL alike. */
export const NO_QUIET_HOURS: QuietHours = { start: 0, end: 0 };
