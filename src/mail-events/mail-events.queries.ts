// Statements of the mail loop's inbound half (docs/SQL.md; mail-events.service.ts). The service's
// event statements still run inline (test/unit/sql-placement.spec.ts lists it as not converted yet).
import { queries, sql } from '../database/statements';

export const MailEventQueries = queries('mail-events', {
  pruneReplayKeys: sql<[before: Date, batch: number]>(
    'Replay keys (provider event ids, Mailgun tokens) older than the replay window go, in batches; older events are refused as stale anyway.',
    `WITH old AS (SELECT ctid FROM webhook_events WHERE received_at < $1 LIMIT $2)
     DELETE FROM webhook_events w USING old WHERE w.ctid = old.ctid`,
  ),
});
