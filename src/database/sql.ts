// SQL as named code: every statement Tactful runs is a `Statement` declared in its domain's
// `<domain>.queries.ts` (name, why, text, typed parameters and rows), registered here when that
// file loads and checked against the schema at start-up (database/statement-check.ts). `Sql` is
// the one way to run one: `Db` on the pool, `Tx` inside a transaction; `Db.transaction()` is the
// one way to open a transaction (docs/SQL.md).
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { currentWorkClass, runAs, WorkClass } from './connection-budgets';

/** A row as pg hands it over when a statement does not say more. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRow = Record<string, any>;

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
export function sql<P extends readonly unknown[] = unknown[], R = AnyRow>(why: string, text: string, options: { prepared?: boolean } = {}): StatementDefinition<P, R> {
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
    const statement: Statement<readonly unknown[], unknown> = Object.freeze({ name, why: definition.why, text: definition.text.trim(), prepared: definition.prepared ?? false });
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

/** pg's query config for a statement: named on the wire only when it is prepared. */
function config(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]) {
  return statement.prepared ? { name: `tactful.${statement.name}`, text: statement.text, values: params as unknown[] } : { text: statement.text, values: params as unknown[] };
}

/** Runs statements: on the pool (`Db`) or on a transaction's connection (`Tx`). */
export interface Sql {
  /** Every row the statement returns. */
  rows<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R[]>;
  /** The first row, or undefined. */
  row<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R | undefined>;
  /** How many rows the statement wrote (or returned). */
  run<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<number>;
}

abstract class Executor implements Sql {
  protected abstract execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult>;

  async rows<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R[]> {
    return (await this.execute(statement as Statement<readonly unknown[], unknown>, params)).rows as R[];
  }

  async row<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R | undefined> {
    return (await this.execute(statement as Statement<readonly unknown[], unknown>, params)).rows[0] as R | undefined;
  }

  async run<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<number> {
    return (await this.execute(statement as Statement<readonly unknown[], unknown>, params)).rowCount ?? 0;
  }
}

/** One open transaction: its statements run on its connection. Get one from `Db.transaction()`. */
export class Tx extends Executor {
  private client: Promise<PoolClient> | undefined;

  constructor(private readonly runner: QueryRunner) {
    super();
  }

  /**
   * The same transaction as a TypeORM EntityManager, for code not converted yet (docs/SQL.md);
   * it goes away with the last of it.
   */
  get manager(): EntityManager {
    return this.runner.manager;
  }

  protected async execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    this.client ??= this.runner.connect() as Promise<PoolClient>;
    return (await this.client).query(config(statement, params));
  }

  /**
   * The transaction an EntityManager of a TypeORM transaction stands for (bridge for code not
   * converted yet); outside a transaction, the pool.
   */
  static of(manager: EntityManager, db: Db): Sql {
    const runner = manager.queryRunner;
    if (!runner || !runner.isTransactionActive) return db;
    return new Tx(runner);
  }
}

export interface TransactionOptions {
  /** The caller's transaction: the work joins it (commits or rolls back with it) instead of opening one. */
  in?: Tx | undefined;
  /** The connection budget to draw from (default: the current work's, see connection-budgets.ts). */
  workClass?: WorkClass;
  isolation?: IsolationLevel;
}

/** The pool, and the one way to open a transaction. */
@Injectable()
export class Db extends Executor {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  protected execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    return this.pool().query(config(statement, params));
  }

  /** The driver's pg pool (a BudgetedPool in the app: the current work class's pool). */
  pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }

  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. With
   * `in`, it joins the caller's transaction instead, so a cross-domain call commits with its caller.
   */
  async transaction<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (options.in) return work(options.in);
    const workClass = options.workClass ?? currentWorkClass();
    return runAs(workClass, async () => {
      const runner = this.dataSource.createQueryRunner('master');
      await runner.connect();
      // A connection whose ROLLBACK failed is not handed to the next caller (pg drops it).
      let broken: Error | undefined;
      try {
        await runner.startTransaction(options.isolation);
        try {
          const result = await work(new Tx(runner));
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction().catch((rollback: Error) => (broken = rollback));
          throw error;
        }
      } finally {
        await (runner as unknown as { releasePostgresConnection(error?: Error): Promise<void> }).releasePostgresConnection(broken);
      }
    });
  }
}
