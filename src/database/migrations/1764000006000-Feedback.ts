import { MigrationInterface, QueryRunner } from 'typeorm';

// Listening: a customer's rating of each marketing item (campaign or digest item), their topic
// suggestions, and the "drop this topic?" questions put to them. Everything hangs off
// subscriber_id with ON DELETE CASCADE, so erasing a person erases what they told us.
export class Feedback1764000006000 implements MigrationInterface {
  name = 'Feedback1764000006000';

  async up(db: QueryRunner): Promise<void> {
    // One answer per subscriber and item; a second answer overwrites it (updated_at moves,
    // created_at stays: "in a row" is the order in which items were first rated).
    await db.query(`
      CREATE TABLE feedback (
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        item_type     text NOT NULL CHECK (item_type IN ('campaign', 'digest_item')),
        item_id       uuid NOT NULL,
        topic_id      uuid NOT NULL REFERENCES topics (id),
        rating        text NOT NULL CHECK (rating IN ('useful', 'not_useful')),
        comment       text CHECK (length(comment) <= 2000),
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        PRIMARY KEY (subscriber_id, item_type, item_id)
      )`);
    await db.query(`CREATE INDEX feedback_item_idx ON feedback (item_type, item_id)`);
    await db.query(`CREATE INDEX feedback_topic_idx ON feedback (topic_id, created_at)`);
    await db.query(`CREATE INDEX feedback_subscriber_topic_idx ON feedback (subscriber_id, topic_id, created_at DESC)`);

    await db.query(`
      CREATE TABLE topic_suggestions (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subscriber_id uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        text          text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
        created_at    timestamptz NOT NULL
      )`);
    await db.query(`CREATE INDEX topic_suggestions_subscriber_idx ON topic_suggestions (subscriber_id)`);
    await db.query(`CREATE INDEX topic_suggestions_recent_idx ON topic_suggestions (created_at DESC)`);

    // A question asked in one digest; answered (or not) by the customer. Never acted on without them.
    await db.query(`
      CREATE TABLE drop_topic_prompts (
        id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subscriber_id      uuid NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        topic_id           uuid NOT NULL REFERENCES topics (id),
        digest_delivery_id bigint REFERENCES deliveries (id) ON DELETE CASCADE,
        asked_at           timestamptz NOT NULL,
        answer             text CHECK (answer IN ('dropped')),
        answered_at        timestamptz,
        CHECK ((answer IS NULL) = (answered_at IS NULL))
      )`);
    await db.query(`CREATE INDEX drop_topic_prompts_subscriber_idx ON drop_topic_prompts (subscriber_id, topic_id, asked_at DESC)`);
    await db.query(`CREATE INDEX drop_topic_prompts_delivery_idx ON drop_topic_prompts (digest_delivery_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE drop_topic_prompts, topic_suggestions, feedback`);
  }
}
