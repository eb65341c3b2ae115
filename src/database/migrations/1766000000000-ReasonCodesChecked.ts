import { MigrationInterface, QueryRunner } from 'typeorm';

// Reason codes checked by the database: deliveries.reason holds one of the Reason enum's values
// (src/reasons/reason-codes.ts), or a value an older version stored (LEGACY_REASONS, read as
// today's). The list is spelled out here, as of this migration: a new reason needs a migration
// that widens it, and test/integration/reason-codes.spec.ts fails until one does. The other reason
// columns already check theirs (suppression_list: erased; bounced_addresses: bounced, complained);
// domain_pauses.reason is the relay's own words, not a code.
//
// Added NOT VALID and then validated: the check of the existing rows takes no lock that blocks
// the outbox's writes.
const REASONS = [
  'queued',
  'sent',
  'retrying',
  'unknown_outcome',
  'domain_paused',
  'deferred_cadence',
  'deferred_digest_full',
  'deferred_budget',
  'expired',
  'suppressed_not_subscribed',
  'suppressed_unconfirmed',
  'suppressed_paused',
  'suppressed_unsubscribed',
  'suppressed_bounced',
  'suppressed_complained',
  'suppressed_erased',
  'suppressed_audience',
  'suppressed_duplicate',
  'queued_quiet_hours',
  'queued_settling',
  'suppressed_empty',
  'suppressed_cancelled',
  'already_delivered',
  'superseded',
  'failed_permanent',
  'failed_bounced',
  'failed_retries_exhausted',
  // Legacy: renamed to queued_quiet_hours (HonestStates1765000500000).
  'suppressed_quiet_hours',
];

export class ReasonCodesChecked1766000000000 implements MigrationInterface {
  name = 'ReasonCodesChecked1766000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries ADD CONSTRAINT deliveries_reason_check CHECK (reason IN (${REASONS.map((r) => `'${r}'`).join(', ')})) NOT VALID`);
    await db.query(`ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_reason_check`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_reason_check`);
  }
}
