import { MigrationInterface, QueryRunner } from 'typeorm';

// Orders, shipments and carrier events: what transactional mail needs to check itself at the
// moment it is handed to SMTP ("never a tracking mail for a parcel you already have").
//
// subscriber_id: set when the customer's address belongs to a subscriber, NULL for a shop customer
// who never signed up. Such a customer gets transactional mail at the order's address and nothing
// else: no subscriber row is made for them, because a subscriber row is where marketing consent
// lives (see src/shipments/orders.service.ts). Rows are still co-located by customer: a linked
// order carries the subscriber's id like every customer-scoped table, an unlinked one is keyed by
// its own id and touches no other customer's data.
export class Shipments1764000004000 implements MigrationInterface {
  name = 'Shipments1764000004000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE orders (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        shop           text NOT NULL CHECK (shop ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        number         text NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
        -- Erasing the subscriber erases their orders too (and, by cascade, their mails).
        subscriber_id  uuid REFERENCES subscribers (id) ON DELETE CASCADE,
        customer_email text NOT NULL CHECK (customer_email = lower(customer_email) AND position('@' in customer_email) > 1),
        locale         text NOT NULL CHECK (locale IN ('de', 'en')),
        -- The shop's snapshot [{sku, name, quantity}]: only read whole, to write the mails.
        items          jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array' AND jsonb_array_length(items) > 0),
        placed_at      timestamptz NOT NULL,
        created_at     timestamptz NOT NULL,
        -- A shop's order number is its idempotency key: a repeated POST finds the first order.
        UNIQUE (shop, number)
      )`);
    await db.query(`CREATE INDEX orders_subscriber_idx ON orders (subscriber_id) WHERE subscriber_id IS NOT NULL`);
    // An order for an address that signs up later is linked when its next shipment is registered.
    await db.query(`CREATE INDEX orders_unlinked_email_idx ON orders (customer_email) WHERE subscriber_id IS NULL`);

    await db.query(`
      CREATE TABLE shipments (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        subscriber_id   uuid REFERENCES subscribers (id) ON DELETE CASCADE,  -- the order's, copied for co-location
        carrier         text NOT NULL CHECK (carrier ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
        tracking_number text NOT NULL CHECK (tracking_number ~ '^[A-Za-z0-9_-]{1,100}$'),
        tracking_url    text NOT NULL CHECK (tracking_url LIKE 'https://%'),
        items           jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array' AND jsonb_array_length(items) > 0),
        -- Derived from shipment_events by deriveShipmentState() under this row's lock; every
        -- shipment mail re-reads it (FOR SHARE) in the transaction that hands it to SMTP.
        status          text NOT NULL CHECK (status IN ('created', 'label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned')),
        status_at       timestamptz,                  -- carrier time of the event that set status
        delivered_at    timestamptz,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL,
        -- The carrier's tracking number names the parcel: a repeated POST finds the first shipment,
        -- and the carrier webhook finds the shipment by it.
        UNIQUE (carrier, tracking_number)
      )`);
    await db.query(`CREATE INDEX shipments_order_idx ON shipments (order_id)`);

    await db.query(`
      CREATE TABLE shipment_events (
        carrier       text NOT NULL,
        event_id      text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
        shipment_id   uuid NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
        subscriber_id uuid REFERENCES subscribers (id) ON DELETE CASCADE,
        status        text NOT NULL CHECK (status IN ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned')),
        occurred_at   timestamptz NOT NULL,           -- the carrier's time: events are ordered by it
        received_at   timestamptz NOT NULL,           -- ours: when the event was applied
        source        text NOT NULL CHECK (source IN ('api', 'webhook')),
        -- A carrier's event id is unique for that carrier: a replayed or repeated event is stored once.
        PRIMARY KEY (carrier, event_id)
      )`);
    await db.query(`CREATE INDEX shipment_events_shipment_idx ON shipment_events (shipment_id, occurred_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE shipment_events, shipments, orders`);
  }
}
