// Several instances may start at once: migrations run under an advisory lock, so each applies exactly once.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { runMigrations } from '../../src/database/data-source';
import { MIGRATIONS } from '../../src/database/migration-list';
import { withDatabase } from '../support/global-setup';

const serverUrl = () => {
  const url = process.env.TACTFUL_TEST_SERVER_URL;
  if (!url) throw new Error('jest globalSetup did not run');
  return url;
};

async function onServer<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: withDatabase(serverUrl(), database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// An EMPTY database, not a clone of the migrated template.
const name = `tactful_t${process.env.TACTFUL_TEST_RUN_ID}_mig_${randomBytes(4).toString('hex')}`;
const url = () => withDatabase(serverUrl(), name);

beforeAll(() => onServer('postgres', (c) => c.query(`CREATE DATABASE ${name}`)));
afterAll(() => onServer('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));

describe('migrations on start', () => {
  const expected = MIGRATIONS.map((m) => new m().name ?? m.name);

  it('three instances migrating one empty database at once all succeed and apply each migration exactly once', async () => {
    const empty = await onServer(name, (c) => c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`));
    expect(empty.rows[0].n).toBe(0);

    const started = Date.now();
    const results = await Promise.all([runMigrations(url()), runMigrations(url()), runMigrations(url())]);
    process.stdout.write(`3 concurrent runMigrations on an empty database: ${Date.now() - started} ms\n`);

    // Exactly one instance did the work; the others found the schema current once they got the lock.
    expect(results.flat().sort()).toEqual([...expected].sort());
    expect(results.filter((applied) => applied.length > 0)).toHaveLength(1);

    const rows = await onServer(name, (c) => c.query(`SELECT name, count(*)::int AS n FROM migrations GROUP BY name ORDER BY name`));
    expect(rows.rows).toEqual([...expected].sort().map((n) => ({ name: n, n: 1 })));
  });

  it('leaves a schema that works: a topic, a subscriber and a consent record can be stored and read', async () => {
    const row = await onServer(name, async (c) => {
      const topic = await c.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('offers', 'Angebote', 'Offers') RETURNING id`);
      const subscriber = await c.query(
        `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source)
         VALUES ('anna@example.de', 'de', 'Europe/Berlin', 'weekly', 'pending', 'api') RETURNING id`,
      );
      await c.query(
        `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source)
         VALUES ($1, $2, 'pending', now(), 'api')`,
        [subscriber.rows[0].id, topic.rows[0].id],
      );
      const read = await c.query(
        `SELECT s.email, t.key, ts.status FROM topic_subscriptions ts
           JOIN subscribers s ON s.id = ts.subscriber_id JOIN topics t ON t.id = ts.topic_id`,
      );
      return read.rows;
    });
    expect(row).toEqual([{ email: 'anna@example.de', key: 'offers', status: 'pending' }]);
  });

  it('a later start applies nothing and leaves the lock free', async () => {
    expect(await runMigrations(url())).toEqual([]);
    const locks = await onServer(name, (c) =>
      c.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`, [name]),
    );
    expect(locks.rows[0].n).toBe(0);
  });
});
