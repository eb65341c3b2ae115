import { MigrationInterface, QueryRunner } from 'typeorm';

// Addresses without a subscriber (shop customers who only get order and shipment mail) that
// hard-bounced or complained: the next order's mails to them are suppressed instead of bouncing
// again and again. Stored as SHA-256 of the normalised address, like the suppression list.
// Subscribers keep this in their own status (bounced, complained).
export class BouncedAddresses1764000009000 implements MigrationInterface {
  name = 'BouncedAddresses1764000009000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE bounced_addresses (
        email_hash bytea PRIMARY KEY,
        reason     text NOT NULL CHECK (reason IN ('bounced', 'complained')),
        response   text,
        created_at timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE bounced_addresses`);
  }
}
