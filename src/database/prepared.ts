// Named (prepared) statements for the few fixed statements every mail runs at hand-over. pg sends
// a named statement's text once per connection; PostgreSQL parses it once and, after five runs,
// keeps a generic plan. For one-row statements by key, parsing and planning are most of what
// PostgreSQL spends on them (measured in bench/send.js, BENCHMARKS.md).
import { EntityManager } from 'typeorm';

interface NamedQueryClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

const names = new Map<string, string>();

/**
 * Declares a statement once, at module load. A name is bound to one text for the process: pg
 * refuses a second text under a name it has prepared on a connection, so two are refused here.
 */
export function prepared(name: string, text: string): PreparedStatement {
  const known = names.get(name);
  if (known !== undefined && known !== text) throw new Error(`prepared statement ${name} declared twice with different texts`);
  names.set(name, text);
  return { name: `tactful_${name}`, text };
}

/** Runs `statement` on the manager's connection (its transaction's, inside one). */
export async function runPrepared<T = Record<string, any>>(manager: EntityManager, statement: PreparedStatement, values: unknown[]): Promise<T[]> {
  const runner = manager.queryRunner;
  // Outside a transaction there is no connection to keep the statement on: a plain query.
  if (!runner) return manager.query(statement.text, values);
  const client = (await runner.connect()) as NamedQueryClient;
  const result = await client.query({ name: statement.name, text: statement.text, values });
  return result.rows as T[];
}
