// The one way to PostgreSQL: `Sql` runs a named statement (database/statements.ts), `Db` on the
// pool, `Tx` inside a transaction, `Session` on one held connection; `Db.transaction()` is the
// one way to open a transaction (docs/SQL.md).
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { BudgetedPool, budgetedPoolOf, currentWorkClass, runAs, WorkClass } from './connection-budgets';
import { DatabaseQueries } from './database.queries';
import type { Statement } from './statements';

/** pg's query config for a statement: named on the wire only when it is prepared. */
function config(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]) {
  return statement.prepared
    ? { name: `tactful.${statement.name}`, text: statement.text, values: params as unknown[] }
    : { text: statement.text, values: params as unknown[] };
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

/** Statements on one held connection (pooled; released by whoever took it). */
abstract class OnConnection extends Executor {
  private client: Promise<PoolClient> | undefined;

  constructor(protected readonly runner: QueryRunner) {
    super();
  }

  protected async execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    this.client ??= this.runner.connect() as Promise<PoolClient>;
    return (await this.client).query(config(statement, params));
  }
}

/** One connection without a transaction: for session state such as an advisory lock. Get one from `Db.session()`. */
export class Session extends OnConnection {}

/** One open transaction: its statements run on its connection. Get one from `Db.transaction()`. */
export class Tx extends OnConnection {}

export interface TransactionOptions {
  /** The caller's transaction: the work joins it (commits or rolls back with it) instead of opening one. */
  in?: Tx | undefined;
  /** The connection budget to draw from (default: the current work's, see connection-budgets.ts). */
  workClass?: WorkClass;
  isolation?: IsolationLevel;
  /** A transaction that can write nothing (a view of what is there); not with `in`, which joins the caller's. */
  readOnly?: boolean;
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

  /** The pools per work class behind the DataSource (undefined when it was built without budgets). */
  budgetedPool(): BudgetedPool | undefined {
    return budgetedPoolOf(this.dataSource);
  }

  /** Runs `work` on one connection of the pool (no transaction), released afterwards. */
  async session<T>(work: (session: Session) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner('master');
    await runner.connect();
    try {
      return await work(new Session(runner));
    } finally {
      await runner.release();
    }
  }

  /** Throws when PostgreSQL does not answer (/health). */
  async reachable(): Promise<void> {
    await this.run(DatabaseQueries.ping, []);
  }

  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. With
   * `in`, it joins the caller's transaction instead, so a cross-domain call commits with its caller.
   */
  async transaction<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (options.in) {
      if (options.readOnly) throw new Error('a read-only transaction cannot join another transaction');
      return work(options.in);
    }
    const workClass = options.workClass ?? currentWorkClass();
    return runAs(workClass, async () => {
      const runner = this.dataSource.createQueryRunner('master');
      await runner.connect();
      // A connection whose ROLLBACK failed is not handed to the next caller (pg drops it).
      let broken: Error | undefined;
      try {
        await runner.startTransaction(options.isolation);
        try {
          const tx = new Tx(runner);
          if (options.readOnly) await tx.run(DatabaseQueries.readOnly, []);
          const result = await work(tx);
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
