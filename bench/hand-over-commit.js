#!/usr/bin/env node
// bench/hand-over-commit: what COMMIT in the last statement's round trip (Tx.runThenCommit,
// src/database/sql.ts) saves per transaction, alone, with the send loop's hand-over shape: BEGIN
// with a row lock (beginWithFirstStatement), then one write; 8 lanes at once on 8 connections,
// as the worker's. "separate" ends with Db.transaction's own COMMIT (3 round trips), "with
// commit" sends it with the write (2). The two alternate in blocks in one process, so a change in
// the machine's load hits both alike; the figures are this process's CPU and the database
// backends' CPU per transaction, and transactions per second.
//
//   npm run build
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/hand-over-commit.js
//
// Options: --rounds N (blocks per variant, default 10), --block N (transactions per block,
// default 1000), --keep. Writes bench/results/hand-over-commit.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('hand-over-commit');
const { DataSource } = require('typeorm');
const { Client } = require('pg');
const { dataSourceOptions } = c.dist('database/data-source');
const { Db } = c.dist('database/sql');
const { queries, sql } = c.dist('database/statements');

const ROUNDS = Number(c.option('rounds', '10'));
const BLOCK = Number(c.option('block', '1000'));
const LANES = 8;

const Q = queries('benchcommit', {
  lock: sql('bench: the hand-over lock', 'SELECT v FROM bench_hand_over WHERE id = $1 FOR UPDATE', { prepared: true }),
  record: sql('bench: the record', 'UPDATE bench_hand_over SET v = v + 1 WHERE id = $1', { prepared: true }),
});

async function main() {
  const database = await c.openDatabase('hand_over_commit');
  const probe = new Client({ connectionString: database.url });
  await probe.connect();
  let dataSource;
  try {
    await probe.query('CREATE TABLE bench_hand_over (id int PRIMARY KEY, v int NOT NULL)');
    await probe.query(`INSERT INTO bench_hand_over SELECT i, 0 FROM generate_series(1, ${LANES}) i`);
    dataSource = await new DataSource(dataSourceOptions(database.url, LANES)).initialize();
    const db = new Db(dataSource);
    const variants = {
      separate: (id) =>
        db.transaction(
          async (tx) => {
            await tx.row(Q.lock, [id]);
            await tx.run(Q.record, [id]);
          },
          { beginWithFirstStatement: true },
        ),
      'with commit': (id) =>
        db.transaction(
          async (tx) => {
            await tx.row(Q.lock, [id]);
            await tx.runThenCommit(Q.record, [id]);
          },
          { beginWithFirstStatement: true },
        ),
    };
    // Each lane its own row, as each hand-over its own delivery.
    const block = async (run, count) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: LANES }, async (_, lane) => {
          while (next++ < count) await run(lane + 1);
        }),
      );
    };
    for (const run of Object.values(variants)) await block(run, 2 * BLOCK); // warm-up: JIT, prepared statements
    const totals = Object.fromEntries(Object.keys(variants).map((name) => [name, { ms: 0, nodeCpuS: 0, backendCpuS: 0 }]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? Object.entries(variants) : Object.entries(variants).reverse();
      for (const [name, run] of order) {
        const m = await c.measure(probe, () => block(run, BLOCK));
        totals[name].ms += m.ms;
        totals[name].nodeCpuS += m.nodeCpuS;
        totals[name].backendCpuS = m.backendCpuS === null || totals[name].backendCpuS === null ? null : totals[name].backendCpuS + m.backendCpuS;
      }
    }
    const count = ROUNDS * BLOCK;
    const results = Object.entries(totals).map(([name, t]) => ({
      variant: name,
      transactions: count,
      perSecond: Math.round(count / (t.ms / 1000)),
      nodeCpuMsPerTransaction: c.round((t.nodeCpuS * 1000) / count, 4),
      backendCpuMsPerTransaction: t.backendCpuS === null ? null : c.round((t.backendCpuS * 1000) / count, 4),
    }));
    c.log(`\nbench/hand-over-commit: ${LANES} lanes, ${ROUNDS} alternating blocks of ${BLOCK} per variant, ${database.kind}`);
    c.log(
      c.table(
        ['variant', 'transactions/s', 'Node CPU ms/tx', 'PostgreSQL CPU ms/tx'],
        results.map((r) => [r.variant, c.fmt(r.perSecond), r.nodeCpuMsPerTransaction.toFixed(4), r.backendCpuMsPerTransaction?.toFixed(4) ?? '-']),
        ['l', 'r', 'r', 'r'],
      ),
    );
    const report = { date: new Date().toISOString(), command: `node bench/hand-over-commit.js ${c.args.join(' ')}`.trim(), machine: c.machine(), results };
    c.log(`load average at the end: ${report.machine.loadAverage?.join(' ')}`);
    c.writeResult('hand-over-commit', report);
  } finally {
    await dataSource?.destroy();
    await probe.end();
    await database.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/hand-over-commit failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
