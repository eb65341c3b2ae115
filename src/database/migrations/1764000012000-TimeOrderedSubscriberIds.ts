import { MigrationInterface, QueryRunner } from 'typeorm';

// New subscribers get time-ordered ids (UUID version 7, RFC 9562: 48 bits of Unix milliseconds,
// then random bits; PostgreSQL 18 has uuidv7() built in, 15 does not). With random ids, the order
// of ids (in which the dispatch walks an audience, checks each delivery's subscriber and reserves
// each window) is a random walk over the subscriber heap and the primary-key index; with
// time-ordered ids it follows the order subscribers were written in, so those reads hit pages in
// sequence, and an import appends to the right edge of the primary key instead of splitting pages
// all over it. Existing ids stay as they are. The id reveals when the subscriber was created, to
// whoever sees it (API key holders; the customer, in their own signed links): nothing more.
export class TimeOrderedSubscriberIds1764000012000 implements MigrationInterface {
  name = 'TimeOrderedSubscriberIds1764000012000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION tactful_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
        -- A random (version 4) uuid with its first 48 bits replaced by the Unix time in
        -- milliseconds and its version nibble turned from 4 (0100) into 7 (0111).
        SELECT encode(
          set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
          'hex')::uuid
      $$`);
    await db.query(`ALTER TABLE subscribers ALTER COLUMN id SET DEFAULT tactful_uuidv7()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE subscribers ALTER COLUMN id SET DEFAULT gen_random_uuid()`);
    await db.query(`DROP FUNCTION tactful_uuidv7()`);
  }
}
