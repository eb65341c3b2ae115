// A fresh, migrated database for one test file, cloned from the run's template.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { withDatabase } from './global-setup';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TACTFUL_TEST_SERVER_URL;
  if (!url) throw new Error('test/support/global-setup.ts did not run (jest globalSetup)');
  return url;
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: withDatabase(serverUrl(), 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  // The run id (set by the global setup) lets the teardown find every database of this run.
  const name = `tactful_t${process.env.TACTFUL_TEST_RUN_ID}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${process.env.TACTFUL_TEST_TEMPLATE}`));
  return {
    url: withDatabase(serverUrl(), name),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** An empty database (no migration applied), for a test that applies migrations itself. */
export async function createEmptyTestDatabase(): Promise<TestDatabase> {
  const name = `tactful_t${process.env.TACTFUL_TEST_RUN_ID}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: withDatabase(serverUrl(), name),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A fresh database and one open connection to it, for files that talk SQL directly. */
export async function connectedTestDatabase(): Promise<{ db: TestDatabase; client: Client; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const client = new Client({ connectionString: db.url });
  await client.connect();
  return {
    db,
    client,
    close: async () => {
      await client.end();
      await db.drop();
    },
  };
}

/**
 * The months of the decision log (partitions of `deliveries`) that hold rows and that the plan
 * (EXPLAIN (FORMAT JSON) output, its top node) reads sequentially. An empty month (the coming
 * ones, made ahead) costs nothing to scan and is left out; run ANALYZE first.
 */
export async function seqScannedMonths(
  query: (text: string, params: unknown[]) => Promise<{ relname: string }[]>,
  plan: Record<string, unknown>,
): Promise<string[]> {
  const scanned: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    const relation = String(node['Relation Name'] ?? '');
    if (node['Node Type'] === 'Seq Scan' && (relation === 'deliveries' || relation.startsWith('deliveries_'))) scanned.push(relation);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(plan);
  const rows = await query(`SELECT relname FROM pg_class WHERE relname = ANY($1::text[]) AND reltuples > 0 ORDER BY relname`, [scanned]);
  return rows.map((r) => r.relname);
}
