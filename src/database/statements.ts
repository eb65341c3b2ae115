// SQL as named code: every statement Tactful runs is a `Statement` declared in its domain's
// `<domain>.queries.ts` (name, why, text, typed parameters and rows), registered here when that
// file loads and checked against the schema at start-up (database/statement-check.ts); run by
// database/sql.ts (docs/SQL.md).

/** A row as pg hands it over when a statement does not say more. */
export type AnyRow = Record<string, unknown>;

export interface Statement<P extends readonly unknown[] = unknown[], R = AnyRow> {
  /** `<domain>.<key>`: unique, stable, what an error or a log line names. */
  readonly name: string;
  /** Why the statement exists and why it is written this way (locks, index, evaluation order). */
  readonly why: string;
  readonly text: string;
  /**
   * Run as a named prepared statement: PostgreSQL parses and plans it once per connection (for
   * the few statements run on every mail or page view). Others go unnamed, planned per call with
   * their actual values, which a statement over a skewed audience needs.
   */
  readonly prepared: boolean;
  /** Phantom: carries the parameter and row types; never set. */
  readonly types?: { params: P; row: R };
}

interface StatementDefinition<P extends readonly unknown[], R> {
  why: string;
  text: string;
  prepared?: boolean;
  /** Only for the type: `undefined as unknown as P`. */
  readonly params?: P;
  readonly row?: R;
}

/** Declares one statement of a queries file; `queries()` gives it its name. */
export function sql<P extends readonly unknown[] = unknown[], R = AnyRow>(
  why: string,
  text: string,
  options: { prepared?: boolean } = {},
): StatementDefinition<P, R> {
  return { why, text, prepared: options.prepared ?? false };
}

type Statements<D> = { readonly [K in keyof D]: D[K] extends StatementDefinition<infer P, infer R> ? Statement<P, R> : never };

const registry = new Map<string, Statement<readonly unknown[], unknown>>();
/** PostgreSQL truncates identifiers at 63 bytes; a prepared name must stay unique within them. */
const MAX_NAME = 63 - 'tactful.'.length;

/**
 * A domain's statements, named `<domain>.<key>`, frozen and registered for the start-up check.
 * Loading the same file again (jest module registries) registers the same texts again: fine; a
 * second text under one name is a mistake and throws.
 */
export function queries<D extends Record<string, StatementDefinition<readonly unknown[], unknown>>>(domain: string, definitions: D): Statements<D> {
  const out: Record<string, Statement<readonly unknown[], unknown>> = {};
  for (const [key, definition] of Object.entries(definitions)) {
    const name = `${domain}.${key}`;
    if (name.length > MAX_NAME) throw new Error(`statement name ${name} is longer than ${MAX_NAME} characters`);
    const statement: Statement<readonly unknown[], unknown> = Object.freeze({
      name,
      why: definition.why,
      text: definition.text.trim(),
      prepared: definition.prepared ?? false,
    });
    const known = registry.get(name);
    if (known && known.text !== statement.text) throw new Error(`statement ${name} is declared twice with different texts`);
    registry.set(name, statement);
    out[key] = statement;
  }
  return Object.freeze(out) as Statements<D>;
}

/** Every statement declared so far (every queries file the app imports), in declaration order. */
export function registeredStatements(): Statement<readonly unknown[], unknown>[] {
  return [...registry.values()];
}
