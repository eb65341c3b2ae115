// SQL as named code (docs/SQL.md): every registered statement fits the migrated schema, a broken
// one stops the start naming it, and Db.transaction() is the one transaction: commit, rollback,
// and a callee joining its caller's.
import { DataSource } from 'typeorm';
import '../../src/app.module';
import { dataSourceOptions } from '../../src/database/data-source';
import { Db } from '../../src/database/sql';
import { queries, registeredStatements, sql } from '../../src/database/statements';
import { checkStatements } from '../../src/database/statement-check';
import { startTestApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';

const Probe = queries('probe', {
  insert: sql<[key: string]>('test: a row to commit or roll back', `INSERT INTO topics (key, name_de, name_en) VALUES ($1, $1, $1)`),
  count: sql<[key: string], { count: number }>('test: whether the row is there', `SELECT count(*)::int AS count FROM topics WHERE key = $1`),
});

describe('named statements', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let sqlDb: Db;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, 4)).initialize();
    sqlDb = new Db(dataSource);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('checks every statement the app declares against the schema without running it, on one connection in one round trip', async () => {
    const all = registeredStatements();
    // Every domain's file is loaded with the app module; far more than the eight of old.
    expect(all.length).toBeGreaterThan(100);
    expect(new Set(all.map((s) => s.name)).size).toBe(all.length);
    const before = await sqlDb.row(Probe.count, ['never-inserted']);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await checkStatements(sqlDb.pool(), all));
    expect(runs.map((r) => r.count)).toEqual([all.length, all.length, all.length]);
    // Nothing ran: no statement's effect is visible (the INSERT above was only prepared).
    expect(await sqlDb.row(Probe.count, ['never-inserted'])).toEqual(before);
    const ms = runs.map((r) => r.ms.toFixed(1)).join(', ');
    process.stdout.write(`start-up check: ${all.length} statements, ${ms} ms (three runs, one connection and one round trip each)\n`);
  });

  it('names the broken statement, whether PostgreSQL gives a position (unknown column) or not (a parameter of no type)', async () => {
    const good = registeredStatements().slice(0, 5);
    await expect(checkStatements(sqlDb.pool(), [...good, { name: 'probe.unknownColumn', text: 'SELECT no_such_column FROM topics' }, ...good])).rejects.toThrow(
      'statement probe.unknownColumn does not fit the database schema: column "no_such_column" does not exist',
    );
    await expect(checkStatements(sqlDb.pool(), [...good, { name: 'probe.untypedParameter', text: 'SELECT $1 IS NULL' }])).rejects.toThrow(
      'statement probe.untypedParameter does not fit the database schema: could not determine data type of parameter $1',
    );
    // The connection the failed check used was dropped, not handed on with check statements prepared on it.
    await expect(checkStatements(sqlDb.pool(), good)).resolves.toMatchObject({ count: 5 });
  });

  it('commits the work of a transaction, rolls all of it back when it throws, and lets a callee join the caller instead of opening its own', async () => {
    await sqlDb.transaction(async (tx) => {
      await tx.run(Probe.insert, ['committed']);
    });
    expect(await sqlDb.row(Probe.count, ['committed'])).toEqual({ count: 1 });

    await expect(
      sqlDb.transaction(async (tx) => {
        await tx.run(Probe.insert, ['rolled-back']);
        // A callee given the caller's transaction writes in it: the caller's failure undoes both.
        await sqlDb.transaction((joined) => joined.run(Probe.insert, ['rolled-back-too']), { in: tx });
        expect(await tx.row(Probe.count, ['rolled-back-too'])).toEqual({ count: 1 });
        throw new Error('after both inserts');
      }),
    ).rejects.toThrow('after both inserts');
    expect(await sqlDb.row(Probe.count, ['rolled-back'])).toEqual({ count: 0 });
    expect(await sqlDb.row(Probe.count, ['rolled-back-too'])).toEqual({ count: 0 });
  });

  describe('a transaction whose BEGIN goes with its first statement (beginWithFirstStatement)', () => {
    // One connection, so every transaction here and the round-trip count share it.
    let single: DataSource;
    let oneDb: Db;
    let roundTrips = 0;
    beforeAll(async () => {
      single = await new DataSource(dataSourceOptions(db.url, 1)).initialize();
      oneDb = new Db(single);
      const client = await oneDb.pool().connect();
      // Every round trip ends with PostgreSQL's ReadyForQuery.
      (client as unknown as { connection: { on(event: string, fn: () => void): void } }).connection.on('readyForQuery', () => roundTrips++);
      client.release();
    });
    afterAll(() => single.destroy());

    const inOneTransaction = (key: string) =>
      oneDb.transaction(
        async (tx) => {
          await tx.run(Probe.insert, [key]);
          // Inside a transaction: another connection does not see the row before the commit.
          expect(await sqlDb.row(Probe.count, [key])).toEqual({ count: 0 });
          expect(await tx.row(Probe.count, [key])).toEqual({ count: 1 });
          return key;
        },
        { beginWithFirstStatement: true },
      );

    it('is one transaction, and from the second on a connection BEGIN costs no round trip of its own', async () => {
      await inOneTransaction('first-on-connection'); // prepares BEGIN on the connection: a round trip of its own
      roundTrips = 0;
      await inOneTransaction('second-on-connection');
      // BEGIN with the insert, the count, COMMIT (without the option: four).
      expect(roundTrips).toBe(3);
      expect(await sqlDb.row(Probe.count, ['first-on-connection'])).toEqual({ count: 1 });
      expect(await sqlDb.row(Probe.count, ['second-on-connection'])).toEqual({ count: 1 });
    });

    it('rolls back when the work throws, and when its first statement fails, leaving the connection clean', async () => {
      await inOneTransaction('before-failures');
      await expect(
        oneDb.transaction(
          async (tx) => {
            await tx.run(Probe.insert, ['thrown-after']);
            throw new Error('after the insert');
          },
          { beginWithFirstStatement: true },
        ),
      ).rejects.toThrow('after the insert');
      expect(await sqlDb.row(Probe.count, ['thrown-after'])).toEqual({ count: 0 });
      // topics.key is unique: the first statement fails after BEGIN ran, in the same round trip.
      await expect(oneDb.transaction((tx) => tx.run(Probe.insert, ['before-failures']), { beginWithFirstStatement: true })).rejects.toThrow(/duplicate key/);
      // The one connection is out of the failed transaction: the next one works, and commits.
      await inOneTransaction('after-failures');
      expect(await oneDb.row(Probe.count, ['after-failures'])).toEqual({ count: 1 });
    });

    describe('and whose COMMIT goes with its last statement (rowThenCommit, runThenCommit)', () => {
      const endingWithCommit = (key: string, last: string) =>
        oneDb.transaction(
          async (tx) => {
            await tx.run(Probe.insert, [key]);
            const inserted = await tx.runThenCommit(Probe.insert, [last]);
            // Resolved: committed, so another connection sees both rows at once.
            expect(await sqlDb.row(Probe.count, [key])).toEqual({ count: 1 });
            expect(await sqlDb.row(Probe.count, [last])).toEqual({ count: 1 });
            return inserted;
          },
          { beginWithFirstStatement: true },
        );

      it('is one transaction, committed when the statement resolves, and from the second on a connection COMMIT costs no round trip of its own', async () => {
        await endingWithCommit('commit-first', 'commit-first-last'); // prepares COMMIT on the connection
        roundTrips = 0;
        expect(await endingWithCommit('commit-second', 'commit-second-last')).toBe(1);
        // BEGIN with the first insert, the last insert with COMMIT (without either option: four).
        expect(roundTrips).toBe(2);
        const row = await oneDb.transaction((tx) => tx.rowThenCommit(Probe.count, ['commit-second-last']), { beginWithFirstStatement: false });
        expect(row).toEqual({ count: 1 });
      });

      it('rolls back when the last statement fails, refuses a statement after it, and leaves the connection clean', async () => {
        await endingWithCommit('commit-before-failures', 'commit-before-failures-last');
        // topics.key is unique: the last statement fails, PostgreSQL skips the COMMIT behind it.
        await expect(endingWithCommit('commit-rolled-back', 'commit-before-failures-last')).rejects.toThrow(/duplicate key/);
        expect(await sqlDb.row(Probe.count, ['commit-rolled-back'])).toEqual({ count: 0 });
        await expect(
          oneDb.transaction(async (tx) => {
            await tx.runThenCommit(Probe.insert, ['commit-then-more']);
            await tx.run(Probe.insert, ['after-the-commit']);
          }),
        ).rejects.toThrow(/after the transaction's COMMIT/);
        // What went with COMMIT stays committed; nothing ran after it.
        expect(await sqlDb.row(Probe.count, ['commit-then-more'])).toEqual({ count: 1 });
        expect(await sqlDb.row(Probe.count, ['after-the-commit'])).toEqual({ count: 0 });
        await endingWithCommit('commit-after-failures', 'commit-after-failures-last');
        expect(await oneDb.row(Probe.count, ['commit-after-failures'])).toEqual({ count: 1 });
      });
    });
  });
});

describe('the start with a broken statement', () => {
  it('stops with a one-line error naming the statement', async () => {
    queries('probe', { broken: sql('test: a statement the schema does not fit', 'SELECT id FROM topics WHERE no_such_column = $1') });
    const started = startTestApp();
    await expect(started).rejects.toThrow(/^statement probe\.broken does not fit the database schema: column "no_such_column" does not exist$/);
  });
});
