import { MigrationInterface, QueryRunner } from 'typeorm';

// The console's sign-in sessions. The cookie holds a random 256-bit token; only its SHA-256 is
// stored (as the id), so a copy of this table signs nobody in. A session belongs to the API key it
// was opened with and ends with it (ON DELETE CASCADE; a revoked key is refused at every request).
export class ConsoleSessions1766000700000 implements MigrationInterface {
  name = 'ConsoleSessions1766000700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE console_sessions (
        id           bytea PRIMARY KEY CHECK (length(id) = 32),
        api_key_id   uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        locale       text NOT NULL CHECK (locale IN ('de', 'en')),
        created_at   timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        expires_at   timestamptz NOT NULL
      )`);
    await db.query(`CREATE INDEX console_sessions_api_key_idx ON console_sessions (api_key_id)`);
    await db.query(`CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE console_sessions`);
  }
}
