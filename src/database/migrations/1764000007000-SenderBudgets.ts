import { MigrationInterface, QueryRunner } from 'typeorm';

// Sender budgets: a sender (a team or a system such as the shop) may take at most `max_slots`
// of every `per_slots` cadence windows of one customer; over budget, its items are folded into
// the digest instead of taking the window.
export class SenderBudgets1764000007000 implements MigrationInterface {
  name = 'SenderBudgets1764000007000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE sender_budgets (
        sender     text PRIMARY KEY CHECK (sender ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        max_slots  smallint NOT NULL CHECK (max_slots >= 1),
        per_slots  smallint NOT NULL CHECK (per_slots >= max_slots AND per_slots <= 52),
        updated_at timestamptz NOT NULL
      )`);
    // The budget check counts a subscriber's recent marketing mails of one sender.
    await db.query(
      `CREATE INDEX deliveries_sender_budget_idx ON deliveries (subscriber_id, sender, created_at) WHERE class = 'marketing' AND status IN ('queued', 'sending', 'sent')`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_sender_budget_idx`);
    await db.query(`DROP TABLE sender_budgets`);
  }
}
