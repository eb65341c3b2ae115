// What the simulation adds to its own throw-away database so that SQL can prove the promise
// afterwards. Not a migration: nothing here exists outside a simulation run.
//
// The schema keeps only the current state of a subscriber (status, cadence) and of a topic
// subscription (status, last confirmed_at / revoked_at: a re-confirmation overwrites the
// revocation). The proofs need the state *at the moment a mail was handed over*, so triggers
// record every change, stamped with the virtual time the simulation writes into sim_clock
// whenever it moves the FakeClock. The mails themselves are logged from the SMTP sink
// (sim_received), the carrier events from what the simulated carrier posted (sim_carrier_posts).
import { Client } from 'pg';

export const INSTRUMENTATION_SQL = `
  CREATE TABLE sim_clock (one boolean PRIMARY KEY DEFAULT true CHECK (one), now timestamptz NOT NULL);
  INSERT INTO sim_clock (now) VALUES ('2000-01-01T00:00:00Z');

  CREATE TABLE sim_subscriber_history (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id uuid NOT NULL, at timestamptz NOT NULL, status text NOT NULL, cadence text NOT NULL, time_zone text NOT NULL);
  CREATE INDEX ON sim_subscriber_history (subscriber_id, at);
  CREATE FUNCTION sim_subscriber_log() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status OR NEW.cadence IS DISTINCT FROM OLD.cadence
       OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
      INSERT INTO sim_subscriber_history (subscriber_id, at, status, cadence, time_zone)
      VALUES (NEW.id, (SELECT now FROM sim_clock), NEW.status, NEW.cadence, NEW.time_zone);
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER sim_subscriber_log AFTER INSERT OR UPDATE ON subscribers FOR EACH ROW EXECUTE FUNCTION sim_subscriber_log();

  CREATE TABLE sim_topic_history (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id uuid NOT NULL, topic_id uuid NOT NULL, at timestamptz NOT NULL, status text NOT NULL);
  CREATE INDEX ON sim_topic_history (subscriber_id, topic_id, at);
  CREATE FUNCTION sim_topic_log() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
      INSERT INTO sim_topic_history (subscriber_id, topic_id, at, status)
      VALUES (NEW.subscriber_id, NEW.topic_id, (SELECT now FROM sim_clock), NEW.status);
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER sim_topic_log AFTER INSERT OR UPDATE ON topic_subscriptions FOR EACH ROW EXECUTE FUNCTION sim_topic_log();

  -- Every message the SMTP sink accepted, at the virtual time of the drain that handed it over.
  CREATE TABLE sim_received (
    delivery_id bigint NOT NULL, subscriber_id uuid, rcpt text NOT NULL, class text NOT NULL, kind text NOT NULL,
    topic_id uuid, ref_id text, at timestamptz NOT NULL);
  CREATE INDEX ON sim_received (subscriber_id, at);
  -- What a digest actually contained, read from its feedback links (each signs subscriber + item).
  CREATE TABLE sim_received_entries (
    delivery_id bigint NOT NULL, subscriber_id uuid NOT NULL, token_subscriber_id uuid NOT NULL,
    item_kind text NOT NULL, item_id uuid NOT NULL, topic_id uuid, at timestamptz NOT NULL);
  -- What the simulated carrier posted, when, and what Tactful answered.
  CREATE TABLE sim_carrier_posts (
    shipment_id uuid NOT NULL, event_id text NOT NULL, status text NOT NULL, occurred_at timestamptz NOT NULL,
    posted_at timestamptz NOT NULL, channel text NOT NULL, http_status int NOT NULL, duplicate boolean);
`;

export async function instrument(db: Client): Promise<void> {
  await db.query(INSTRUMENTATION_SQL);
}
