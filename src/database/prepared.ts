// Named (prepared) statements for the few statements run on every mail or page view. pg sends a
// named statement's text once per connection; PostgreSQL parses it once and, after five runs,
// keeps a generic plan. For one-row statements by key, parsing and planning are most of what
// PostgreSQL spends on them (measured in bench/send.js and bench/preferences.js, BENCHMARKS.md).
// A statement is named by its text, so a name always stands for one text (pg refuses a second
// text under a name it has prepared) and statements whose text varies get a name per variant.
import { createHash } from 'node:crypto';
import { EntityManager } from 'typeorm';

export interface NamedQuery {
  name: string;
  text: string;
  values: unknown[];
}

interface NamedQueryClient {
  query(config: NamedQuery): Promise<{ rows: unknown[] }>;
}

const names = new Map<string, string>();

/** The pg query config that runs `text` as a named prepared statement. */
export function namedQuery(text: string, values: unknown[]): NamedQuery {
  let name = names.get(text);
  if (!name) {
    name = `tactful_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}

/** Runs `text` as a named statement on the manager's connection (its transaction's, inside one). */
export async function runPrepared<T = Record<string, any>>(manager: EntityManager, text: string, values: unknown[]): Promise<T[]> {
  const runner = manager.queryRunner;
  // Outside a transaction there is no connection to keep the statement on: a plain query.
  if (!runner) return manager.query(text, values);
  const client = (await runner.connect()) as NamedQueryClient;
  return (await client.query(namedQuery(text, values))).rows as T[];
}
