// The decision log's months (docs/SCALING.md): `deliveries` is partitioned by id range, one
// partition per calendar month; the work of one rotation is the database function
// tactful_rotate_decision_log (migration 1767000300000), one statement in one transaction.
import { queries, sql } from '../database/statements';

export interface RotationStep {
  /**
   * created: a coming month's partition; moved: the id sequence entered this month; dropped;
   * kept_pending / kept_unsettled: past the retention but still needed; busy / kept_busy: a month
   * to make or to drop whose lock was not had within the wait (tried again next run).
   */
  action: 'created' | 'moved' | 'dropped' | 'kept_pending' | 'kept_unsettled' | 'busy' | 'kept_busy';
  partition: string;
  /** dropped: the rows that went; kept_*: what holds the month. */
  rows: string;
}

export const DecisionLogQueries = queries('decision_log', {
  rotate: sql<[now: Date, retentionMonths: number], RotationStep>(
    "One rotation: this month's and the next two months' partitions exist, the id sequence stands in this month's, and every " +
      'month whose newest row is older than the retention, with nothing pending and no unsettled campaign, is summed into ' +
      'subscriber_history and dropped (a DETACH and a DROP: seconds, whatever its row count). Making or dropping a month waits for ' +
      "the log's lock at most 200 ms (requests queue behind that wait), else it is tried on the next run.",
    `SELECT action, partition, rows::text AS rows FROM tactful_rotate_decision_log($1, $2)`,
  ),
});
