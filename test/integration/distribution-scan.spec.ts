// Scale past one machine, checked (issue 21, item 7): every named statement that reads or writes a
// customer-scoped table without pinning it to one customer (an equality on subscriber_id, or on
// subscribers.id) is listed in docs/SCALING.md, and the list there is exactly the scan's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import '../../src/app.module';
import { registeredStatements } from '../../src/database/statements';
import { connectedTestDatabase } from '../support/database';
import { DistributionColumns, loadParser, unpinnedTables } from '../support/distribution-scan';

let columns: DistributionColumns;

beforeAll(async () => {
  await loadParser();
  const { client, close } = await connectedTestDatabase();
  try {
    columns = await customerScoped(client);
  } finally {
    await close();
  }
});

/** subscribers (by id) and every table with a subscriber_id column: the tables Citus would distribute. */
async function customerScoped(client: Client): Promise<DistributionColumns> {
  const { rows } = await client.query(
    `SELECT DISTINCT table_name FROM information_schema.columns
     WHERE table_schema = 'public' AND column_name = 'subscriber_id' AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public')`,
  );
  return new Map([['subscribers', 'id'], ...rows.map((r): [string, string] => [r.table_name, 'subscriber_id'])]);
}

/** The list between the markers in docs/SCALING.md: `- \`statement.name\` (tables): why`. */
function documented(): Map<string, string[]> {
  const doc = readFileSync(join(__dirname, '../../docs/SCALING.md'), 'utf8');
  const section = doc.split('<!-- distribution-scan:start -->')[1]?.split('<!-- distribution-scan:end -->')[0];
  if (section === undefined) throw new Error('docs/SCALING.md has no distribution-scan markers');
  const listed = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^- `([\w.]+)` \(([^)]*)\)/.exec(line);
    if (m)
      listed.set(
        m[1],
        m[2].split(',').map((t) => t.trim().replace(/`/g, '')),
      );
  }
  return listed;
}

function scan(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const statement of registeredStatements()) {
    const { tables } = unpinnedTables(statement.text, columns);
    if (tables.length > 0) found.set(statement.name, tables);
  }
  return found;
}

describe('the statements a distributed PostgreSQL could not pin to one customer', () => {
  it('tells a pinned statement from one that fans out to every shard', () => {
    const cases: [string, string[]][] = [
      [`SELECT id FROM deliveries WHERE subscriber_id = $1`, []],
      [`SELECT d.id FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.status = 'queued'`, []],
      [`SELECT id FROM deliveries WHERE status = 'queued' ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED`, ['deliveries']],
      [`SELECT s.id FROM subscribers s WHERE s.email = $1`, ['subscribers']],
      [`UPDATE deliveries d SET status = 'sent' WHERE d.id = $1`, ['deliveries']],
      [`UPDATE deliveries SET status = 'sent' WHERE subscriber_id = ANY($1::uuid[])`, []],
      [`DELETE FROM marketing_sends WHERE subscriber_id IN (SELECT id FROM subscribers WHERE status = 'bounced')`, ['subscribers']],
      [`INSERT INTO deliveries (subscriber_id, kind) VALUES ($1, 'x')`, []],
      [`INSERT INTO deliveries (kind) SELECT 'x' FROM topics`, ['deliveries']],
      [`WITH due AS (SELECT subscriber_id FROM marketing_sends) SELECT 1 FROM due JOIN deliveries USING (subscriber_id)`, ['marketing_sends']],
      [`SELECT 1 FROM deliveries WHERE subscriber_id = $1 UNION ALL SELECT 1 FROM marketing_sends`, ['marketing_sends']],
      [`SELECT 1 FROM topics WHERE key = $1`, []],
    ];
    expect(cases.map(([text]) => unpinnedTables(text, columns).tables)).toEqual(cases.map(([, tables]) => tables));
  });

  it('parses every named statement of the app with PostgreSQL parser', () => {
    const all = registeredStatements();
    expect(all.length).toBeGreaterThan(100);
    const unparsed = all.filter((s) => {
      try {
        unpinnedTables(s.text, columns);
        return false;
      } catch {
        return true;
      }
    });
    expect(unparsed.map((s) => s.name)).toEqual([]);
  });

  it('lists in docs/SCALING.md exactly the statements that touch a customer-scoped table without pinning it', () => {
    const found = scan();
    const listed = documented();
    const missing = [...found].filter(([name]) => !listed.has(name)).map(([name, tables]) => `- \`${name}\` (${tables.map((t) => `\`${t}\``).join(', ')}): `);
    const extra = [...listed.keys()].filter((name) => !found.has(name));
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    for (const [name, tables] of found) expect([name, listed.get(name)]).toEqual([name, tables]);
  });
});
