// Hand-overs of one subscriber's marketing mail take turns, under a transaction-scoped advisory
// lock. Two concurrent inserts under the marketing_sends exclusion constraint that each see the
// other's uncommitted row would wait for each other (a deadlock, and the victim's delivery would
// sit until its lease ran out); in turns, the second sees the first's committed row and gets a
// clean conflict. The worker takes the turn in the statement that locks the claimed delivery.

/** SQL that waits for, then holds until commit, the hand-over turn of subscriber `idExpr` (a uuid). */
export const HAND_OVER_TURN_SQL = (idExpr: string): string => `pg_advisory_xact_lock(hashtextextended('tactful:hand-over:' || ${idExpr}::text, 0))`;
