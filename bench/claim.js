#!/usr/bin/env node
// bench/claim: claiming outbox work with FOR UPDATE SKIP LOCKED. Runs the real claim query —
// DeliveryWorker.prototype.claim from dist/delivery/delivery-worker.js, called on a stand-in
// worker (its own pg connection, batch size and lease) — until 200,000 queued rows are all
// claimed, in batches of 100 and 500 with 1 and 2 concurrent workers, plus the worker's real
// loop shape (reclaim expired leases, then claim) at the default batch. Every configuration gets
// a freshly inserted, vacuumed outbox. Target (DESIGN.md): ≥ 15,000 rows/s.
//
//   npm run build
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node bench/claim.js
//   node bench/claim.js                          # no DATABASE_URL: embedded PostgreSQL (fsync off)
//
// Options: --rows N (default 200,000), --keep (leave the bench database behind).
// Writes bench/results/claim.json.
'use strict';
const c = require('./lib/common');

c.requireBuild('claim');
const { DeliveryWorker } = c.dist('delivery/delivery-worker');
const { SystemClock } = c.dist('common/clock');
const { Client } = require('pg');

const ROWS = Number(c.option('rows', '200000'));
const TARGET = 15_000;
const LEASE_SECONDS = 120;

/** A DeliveryWorker that has only what claim() and reclaimExpiredLeases() read: its own connection. */
function standInWorker(client, batchSize, n) {
  const worker = Object.create(DeliveryWorker.prototype);
  Object.assign(worker, {
    // The named statements (database/sql.ts's Sql), run on this worker's own connection.
    db: c.statementsOn(client),
    config: { workerBatchSize: batchSize, workerLeaseSeconds: LEASE_SECONDS, workerClaimLeaseSeconds: LEASE_SECONDS },
    clock: new SystemClock(),
    workerId: `bench:${process.pid}:${n}`,
    inHand: new Set(),
    logger: { warn: () => undefined },
  });
  // The marketing stream's claim (a campaign's rows), a batch at a time.
  return { claim: () => worker.claim('marketing', batchSize), reclaimExpiredLeases: () => worker.reclaimExpiredLeases() };
}

async function seed(sql) {
  await sql.query(`TRUNCATE deliveries CASCADE`);
  // Due over the last hour, in claim order; campaign-shaped rows (payload, key, reason).
  await sql.query(
    `INSERT INTO deliveries (to_address, class, kind, ref_id, locale, status, reason, idempotency_key, payload, priority,
                             next_attempt_at, created_at, updated_at)
     SELECT 'bench' || i || '@example.com', 'marketing', 'campaign', 'bench-campaign', CASE WHEN i % 4 = 0 THEN 'en' ELSE 'de' END,
            'queued', 'queued', 'campaign:bench:' || i, '{}'::jsonb, 0,
            now() - interval '1 hour' + (i * interval '1 hour' / $1), now() - interval '1 hour', now() - interval '1 hour'
     FROM generate_series(1, $1::int) i`,
    [ROWS],
  );
  await sql.query(`VACUUM ANALYZE deliveries`);
  await sql.query(`CHECKPOINT`);
}

async function run(url, sql, { batch, workers, reclaim }) {
  await seed(sql);
  const clients = [];
  for (let i = 0; i < workers; i++) {
    const client = new Client({ connectionString: url, application_name: 'tactful-bench-claim' });
    await client.connect();
    clients.push(await c.asWorkerSession(client));
  }
  const latencies = [];
  const timeline = []; // [ms since start, rows] per claim
  let started = 0;
  try {
    const measured = await c.measure(sql, async () => {
      started = performance.now();
      await Promise.all(
        clients.map(async (client, n) => {
          const worker = standInWorker(client, batch, n);
          for (;;) {
            const t0 = performance.now();
            if (reclaim) await worker.reclaimExpiredLeases();
            const ids = await worker.claim();
            const t1 = performance.now();
            if (ids.length === 0) return;
            latencies.push(t1 - t0);
            timeline.push([t1 - started, ids.length]);
          }
        }),
      );
    });
    const {
      rows: [check],
    } = await sql.query(
      `SELECT count(*) FILTER (WHERE status = 'sending')::int AS sending, count(*) FILTER (WHERE status = 'queued')::int AS queued,
              count(*) FILTER (WHERE attempts <> 1)::int AS not_once, count(DISTINCT lease_owner)::int AS owners
       FROM deliveries`,
    );
    if (check.sending !== ROWS || check.queued !== 0 || check.not_once !== 0) {
      throw new Error(`claims were not disjoint and complete: ${JSON.stringify(check)}`);
    }
    latencies.sort((a, b) => a - b);
    timeline.sort((a, b) => a[0] - b[0]);
    // Rows/s over the first and the last quarter of the rows: dead index entries pile up as rows leave the queue.
    const quarter = (from, to) => {
      let rows = 0;
      let t0 = null;
      let t1 = 0;
      let seen = 0;
      let prev = 0;
      for (const [t, n] of timeline) {
        if (seen >= from * ROWS && seen < to * ROWS) {
          if (t0 === null) t0 = prev;
          rows += n;
          t1 = t;
        }
        seen += n;
        prev = t;
      }
      return t1 > t0 ? Math.round(rows / ((t1 - t0) / 1000)) : null;
    };
    return {
      batch,
      workers,
      reclaim,
      rows: ROWS,
      claims: latencies.length,
      wallS: c.round(measured.ms / 1000, 3),
      rowsPerS: Math.round(ROWS / (measured.ms / 1000)),
      firstQuarterRowsPerS: quarter(0, 0.25),
      lastQuarterRowsPerS: quarter(0.75, 1),
      claimMs: { p50: c.round(c.percentile(latencies, 50), 2), p99: c.round(c.percentile(latencies, 99), 2), max: c.round(latencies.at(-1), 2) },
      backendCpuS: measured.backendCpuS,
      nodeCpuS: c.round(measured.nodeCpuS, 2),
      rowsPerBackendCpuS: measured.backendCpuS ? Math.round(ROWS / measured.backendCpuS) : null,
      leaseOwners: check.owners,
    };
  } finally {
    for (const client of clients) await client.end();
  }
}

async function main() {
  const started = Date.now();
  const db = await c.openDatabase('claim');
  const sql = new Client({ connectionString: db.url });
  await sql.connect();
  try {
    const pg = await c.postgresInfo(sql);
    c.log(`PostgreSQL ${pg.version} (${db.kind}); ${c.fmt(ROWS)} queued rows per run`);
    const configs = [
      { batch: 100, workers: 1, reclaim: false },
      { batch: 100, workers: 2, reclaim: false },
      { batch: 500, workers: 1, reclaim: false },
      { batch: 500, workers: 2, reclaim: false },
      // What DeliveryWorker.runOnce does per tick at the default WORKER_BATCH_SIZE, on 2 instances.
      { batch: 100, workers: 2, reclaim: true },
    ];
    const results = [];
    for (const config of configs) {
      const r = await run(db.url, sql, config);
      results.push(r);
      c.log(
        `batch ${r.batch}, ${r.workers} worker(s)${r.reclaim ? ' + reclaim query' : ''}: ${c.fmt(r.rowsPerS)} rows/s ` +
          `(${r.wallS} s, ${r.claims} claims, p50 ${r.claimMs.p50} ms, p99 ${r.claimMs.p99} ms; backend CPU ${r.backendCpuS ?? '?'} s)`,
      );
    }
    const met = results.filter((r) => !r.reclaim).every((r) => r.rowsPerS >= TARGET);
    const report = {
      bench: 'claim',
      date: new Date().toISOString(),
      machine: c.machine(),
      postgres: { ...pg, server: db.kind },
      query:
        'DeliveryWorker.claim() (dist/delivery/delivery-worker.js): CTE SELECT … ORDER BY next_attempt_at LIMIT $batch FOR UPDATE SKIP LOCKED + UPDATE … RETURNING, one autocommit statement per claim',
      results,
      target: { rowsPerS: TARGET },
      met,
      wallS: c.round((Date.now() - started) / 1000, 1),
    };
    const file = c.writeResult('claim', report);
    c.log('');
    c.log(
      c.table(
        ['batch', 'workers', 'loop', 'rows/s', 'first ¼ / last ¼ rows/s', 'claim p50 / p99', 'backend CPU', 'rows per backend CPU-s', '≥ 15,000 rows/s'],
        results.map((r) => [
          r.batch,
          r.workers,
          r.reclaim ? 'reclaim + claim' : 'claim',
          r.rowsPerS,
          `${c.fmt(r.firstQuarterRowsPerS)} / ${c.fmt(r.lastQuarterRowsPerS)}`,
          `${r.claimMs.p50} / ${r.claimMs.p99} ms`,
          r.backendCpuS === null ? 'n/a' : `${r.backendCpuS} s`,
          r.rowsPerBackendCpuS ?? 'n/a',
          r.rowsPerS >= TARGET ? 'yes' : 'no',
        ]),
      ),
    );
    c.log(`${c.fmt(ROWS)} rows per run; results: ${file}; wall ${report.wallS} s`);
  } finally {
    await sql.end();
    await db.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench/claim failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
