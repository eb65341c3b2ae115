// The one way to PostgreSQL: `Sql` runs a named statement (database/statements.ts), `Db` on the
// pool, `Tx` inside a transaction, `Session` on one held connection; `Db.transaction()` is the
// one way to open a transaction (docs/SQL.md).
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Query } from 'pg';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { BudgetedPool, budgetedPoolOf, currentWorkClass, runAs, WorkClass } from './connection-budgets';
import { BEGIN_TEXT, COMMIT_TEXT, DatabaseQueries } from './database.queries';
import type { Statement } from './statements';

/** pg's query config for a statement: named on the wire only when it is prepared. */
function config(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]) {
  return statement.prepared
    ? { name: `tactful.${statement.name}`, text: statement.text, values: params as unknown[] }
    : { text: statement.text, values: params as unknown[] };
}

/** BEGIN as a prepared statement of each connection, so it can be bound ahead of another statement. */
const BEGIN = { name: 'tactful.begin', text: BEGIN_TEXT } as const;
/** COMMIT likewise, bound behind a transaction's last statement (`Tx.rowThenCommit`). */
const COMMIT = { name: 'tactful.commit', text: COMMIT_TEXT } as const;

/** What `BeginThen` reaches of pg's Connection (pg/lib/connection.js), as pg's own Query does. */
interface WireConnection {
  parsedStatements: Record<string, string | undefined>;
  bind(config: { statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
}
type QueryCallback = (error: Error | null, results: QueryResult | QueryResult[]) => void;
const PgQuery = Query as unknown as new (
  config: object,
  values: undefined,
  callback: QueryCallback,
) => { prepare(connection: WireConnection): void; _getRows(connection: WireConnection, rows: number | undefined): void };

/**
 * A statement sent in the same write, and answered in the same round trip, as its transaction's
 * BEGIN: Bind and Execute of the prepared BEGIN go ahead of the statement's own messages, under its
 * one Sync. PostgreSQL runs them in order and skips the rest after an error, exactly as two round
 * trips would; pg hands back both results (the last is the statement's).
 */
class BeginThen extends PgQuery {
  override prepare(connection: WireConnection): void {
    connection.bind({ statement: BEGIN.name, values: [] });
    connection.execute({ portal: '', rows: 0 });
    super.prepare(connection);
  }
}

/**
 * A statement and then its transaction's COMMIT, in one write and one round trip: Bind and Execute
 * of the prepared COMMIT follow the statement's Execute, under its one Sync (pg's `_getRows`, which
 * sends Execute and Sync, is the one place between them). The callback, and so the caller, hears
 * back only at ReadyForQuery, after COMMIT: a resolved call is a committed transaction. When the
 * statement fails, PostgreSQL skips COMMIT up to the Sync and the transaction stays open and
 * failed (its ROLLBACK follows); when COMMIT fails, the transaction is over. pg hands back both
 * results (the first is the statement's).
 */
class ThenCommit extends PgQuery {
  override _getRows(connection: WireConnection): void {
    connection.execute({ portal: '', rows: 0 });
    connection.bind({ statement: COMMIT.name, values: [] });
    connection.execute({ portal: '', rows: 0 });
    connection.sync();
  }
}

/** The statement, then COMMIT, in one round trip once the connection has COMMIT prepared (in two the first time). */
async function thenCommit(client: PoolClient, statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
  const connection = (client as unknown as { connection: WireConnection }).connection;
  if (connection.parsedStatements[COMMIT.name] === undefined) {
    const result = await client.query(config(statement, params));
    await client.query({ name: COMMIT.name, text: COMMIT.text });
    return result;
  }
  return new Promise<QueryResult>((resolve, reject) => {
    const query = new ThenCommit({ ...config(statement, params), queryMode: 'extended' }, undefined, (error, results) =>
      error ? reject(error) : resolve(Array.isArray(results) ? results[0] : results),
    );
    void client.query(query as unknown as Parameters<PoolClient['query']>[0]);
  });
}

/** BEGIN, then the statement, in one round trip once the connection has BEGIN prepared (in two the first time). */
async function beginThen(client: PoolClient, statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
  const connection = (client as unknown as { connection: WireConnection }).connection;
  if (connection.parsedStatements[BEGIN.name] === undefined) {
    await client.query({ name: BEGIN.name, text: BEGIN.text });
    return client.query(config(statement, params));
  }
  return new Promise<QueryResult>((resolve, reject) => {
    // Extended protocol even for a statement without parameters: the BEGIN rides on its Sync.
    const query = new BeginThen({ ...config(statement, params), queryMode: 'extended' }, undefined, (error, results) =>
      error ? reject(error) : resolve(Array.isArray(results) ? results[results.length - 1] : results),
    );
    void client.query(query as unknown as Parameters<PoolClient['query']>[0]);
  });
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

  protected connection(): Promise<PoolClient> {
    return (this.client ??= this.runner.connect() as Promise<PoolClient>);
  }

  protected async execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    return (await this.connection()).query(config(statement, params));
  }
}

/** One connection without a transaction: for session state such as an advisory lock. Get one from `Db.session()`. */
export class Session extends OnConnection {}

/** One open transaction: its statements run on its connection. Get one from `Db.transaction()`. */
export class Tx extends OnConnection {
  /** BEGIN not sent yet: it goes with the first statement (`beginWithFirstStatement`). */
  private beginPending: boolean;

  constructor(runner: QueryRunner, options: { beginPending?: boolean } = {}) {
    super(runner);
    this.beginPending = options.beginPending ?? false;
  }

  /** Set once a statement went with COMMIT (`rowThenCommit`, `runThenCommit`): nothing may follow it. */
  private commitSent = false;
  private commitDone = false;

  protected override async execute(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    if (this.commitSent) throw new Error(`statement ${statement.name} after the transaction's COMMIT went with its last statement`);
    if (!this.beginPending) return super.execute(statement, params);
    this.beginPending = false;
    return beginThen(await this.connection(), statement, params);
  }

  /**
   * The transaction's last statement, with COMMIT in its round trip: resolved, the transaction is
   * committed (Db.transaction then sends no COMMIT of its own). Nothing may run on this Tx after it,
   * and the work should return soon: its locks are gone. Rejected, the transaction is rolled back
   * (the work's error, as for any statement). Not with a BEGIN still pending.
   */
  async rowThenCommit<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<R | undefined> {
    return (await this.executeThenCommit(statement as Statement<readonly unknown[], unknown>, params)).rows[0] as R | undefined;
  }

  /** `rowThenCommit`, answering how many rows the statement wrote. */
  async runThenCommit<P extends readonly unknown[], R>(statement: Statement<P, R>, params: P): Promise<number> {
    return (await this.executeThenCommit(statement as Statement<readonly unknown[], unknown>, params)).rowCount ?? 0;
  }

  /** Whether COMMIT went, and succeeded, with the last statement. */
  get committedWithLastStatement(): boolean {
    return this.commitDone;
  }

  private async executeThenCommit(statement: Statement<readonly unknown[], unknown>, params: readonly unknown[]): Promise<QueryResult> {
    if (this.commitSent) throw new Error(`statement ${statement.name} after the transaction's COMMIT went with its last statement`);
    if (this.beginPending) throw new Error('a statement with COMMIT cannot also carry the BEGIN');
    this.commitSent = true;
    const result = await thenCommit(await this.connection(), statement, params);
    this.commitDone = true;
    // TypeORM's commitTransaction, after its COMMIT (no transaction events: see Db.transaction).
    Object.assign(this.runner, { isTransactionActive: false, transactionDepth: 0 });
    return result;
  }
}

export interface TransactionOptions {
  /** The caller's transaction: the work joins it (commits or rolls back with it) instead of opening one. */
  in?: Tx | undefined;
  /** The connection budget to draw from (default: the current work's, see connection-budgets.ts). */
  workClass?: WorkClass;
  isolation?: IsolationLevel;
  /** A transaction that can write nothing (a view of what is there); not with `in`, which joins the caller's. */
  readOnly?: boolean;
  /**
   * BEGIN goes to PostgreSQL with the work's first statement, in its round trip, instead of in one
   * of its own (the send loop's hand-over, once per mail). The work's first database call must be a
   * statement on the Tx; not with isolation or readOnly.
   */
  beginWithFirstStatement?: boolean;
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
        if (options.beginWithFirstStatement) {
          if (options.isolation || options.readOnly) throw new Error('beginWithFirstStatement takes neither isolation nor readOnly');
          // TypeORM's startTransaction without its START TRANSACTION (the first statement carries
          // it), so its commit and rollback see the transaction open. No entity
          // subscribers are registered, so no transaction events are missed.
          Object.assign(runner, { isTransactionActive: true, transactionDepth: 1 });
        } else {
          await runner.startTransaction(options.isolation);
        }
        try {
          const tx = new Tx(runner, { beginPending: options.beginWithFirstStatement });
          if (options.readOnly) await tx.run(DatabaseQueries.readOnly, []);
          const result = await work(tx);
          if (!tx.committedWithLastStatement) await runner.commitTransaction();
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
