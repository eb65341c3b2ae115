// Shared by bench/claim.js, render.js, digest.js and preferences.js (not a bench itself:
// bench/run-all.js runs only the *.js files directly in bench/).
//
// A bench database is either a fresh database `tactful_bench_<name>` on DATABASE_URL's server
// (dropped afterwards unless --keep), or, without DATABASE_URL, an embedded PostgreSQL in a temp
// folder (fsync off), like bench/enqueue.js.
'use strict';
require('reflect-metadata');
const { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');
const { Client } = require('pg');

const ROOT = resolve(__dirname, '..', '..');
// BENCH_DIST: a build elsewhere (`npx tsc -p tsconfig.build.json --outDir <dir>/dist` with <dir>/templates
// and <dir>/node_modules linked to the repository's), so a bench is not broken by a rebuild of dist/.
const DIST = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : join(ROOT, 'dist');

function requireBuild(bench) {
  if (!existsSync(join(DIST, 'main.js'))) {
    process.stderr.write(`bench/${bench}.js needs the build: run \`npm run build\` first\n`);
    process.exit(1);
  }
}

const dist = (path) => require(join(DIST, path));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const flag = (name) => args.includes(`--${name}`);

const log = (line = '') => process.stdout.write(line + '\n');
const round = (value, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en') : String(n));

async function withClient(url, fn) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The named statements (database/statements.ts) on one pg client, as the app's Sql runs them. */
const statementsOn = (client) => ({
  rows: (statement, params) => client.query({ text: statement.text, values: params }).then((r) => r.rows),
  row: (statement, params) => client.query({ text: statement.text, values: params }).then((r) => r.rows[0]),
  run: (statement, params) => client.query({ text: statement.text, values: params }).then((r) => r.rowCount ?? 0),
});

/** The worker's session settings (database/connection-budgets.ts) on a bench's own connection, so its claims plan as the worker's do. */
async function asWorkerSession(client) {
  const { WORKER_SESSION_SETTINGS } = dist('database/connection-budgets');
  for (const setting of WORKER_SESSION_SETTINGS) await client.query(`SET ${setting}`);
  return client;
}

/** A fresh, migrated bench database. */
async function openDatabase(bench) {
  const name = `tactful_bench_${bench}`;
  const keep = flag('keep');
  let db;
  if (process.env.DATABASE_URL) {
    const server = process.env.DATABASE_URL;
    await withClient(server, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${name}`);
    });
    db = {
      url: withDatabase(server, name),
      kind: 'DATABASE_URL',
      close: async () => {
        if (!keep) await withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      },
    };
  } else {
    const { startEmbeddedPostgres } = dist('database/embedded-postgres');
    const parent = mkdtempSync(join(os.tmpdir(), 'tactful-bench-pg-'));
    chmodSync(parent, 0o755); // PostgreSQL runs as `postgres` when the bench runs as root
    const embedded = await startEmbeddedPostgres({
      dataDir: join(parent, 'data'),
      port: 20000 + Math.floor(Math.random() * 20000),
      database: name,
      persistent: false,
    });
    db = { url: embedded.url, kind: 'embedded (fsync off)', close: () => embedded.stop() };
  }
  await dist('database/data-source').runMigrations(db.url);
  return db;
}

async function postgresInfo(sql) {
  const [{ version }] = (await sql.query(`SELECT current_setting('server_version') AS version`)).rows;
  const settings = Object.fromEntries(
    (
      await sql.query(
        `SELECT name, setting || coalesce(unit, '') AS value FROM pg_settings
         WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'max_wal_size', 'work_mem', 'jit', 'max_connections')`,
      )
    ).rows.map((r) => [r.name, r.value]),
  );
  return { version, settings };
}

/** Busy and total jiffies of all CPUs (/proc/stat), or null. */
function cpuJiffies() {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const v = cpu.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}
const AT_START = { load: os.loadavg().map((l) => round(l, 2)), jiffies: cpuJiffies() };

/**
 * The machine, and how busy it was while the bench ran: the load average at start and end and
 * the share of all CPU time that was busy (this bench, its database and everything else on the box).
 */
function machine() {
  let load = null;
  try {
    load = os.loadavg().map((l) => round(l, 2));
  } catch {
    /* not on every platform */
  }
  const now = cpuJiffies();
  const busyShare = now && AT_START.jiffies ? round((now.busy - AT_START.jiffies.busy) / (now.total - AT_START.jiffies.total), 2) : null;
  return {
    loadAverageAtStart: AT_START.load,
    cpuBusyShareDuringRun: busyShare,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: load,
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU ticks (user + system, or both apart with `split`) of a process, from /proc; null when unavailable. */
function processTicks(pid, split = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    return split ? { user, system } : user + system;
  } catch {
    return null;
  }
}

/**
 * CPU seconds used by this database's backends (a server on this machine): on a shared 2-core box
 * wall time swings with the neighbours' load, backend CPU much less. Null when the server is elsewhere.
 */
async function backendTicks(sql) {
  const { rows } = await sql.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
  const ticks = new Map();
  for (const { pid } of rows) {
    const t = processTicks(pid);
    if (t === null) return null;
    ticks.set(pid, t);
  }
  return ticks;
}

/** Runs `work`, returning its wall time, this process's CPU time and the database backends' CPU time. */
async function measure(sql, work) {
  const before = sql ? await backendTicks(sql) : null;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  // Backends that exited during the run are lost; the ones that started count from zero.
  const after = sql ? await backendTicks(sql) : null;
  let backendCpuS = null;
  if (before && after) {
    let ticks = 0;
    for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
    backendCpuS = ticks / CLOCK_TICKS;
  }
  return { ms, nodeCpuS: (cpu.user + cpu.system) / 1e6, backendCpuS, result };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function writeResult(bench, report) {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${bench}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file.replace(ROOT + '/', '');
}

/** A Markdown table: header names and rows of cells. */
function table(headers, rows, align) {
  const lines = [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, i) => (align?.[i] === 'l' ? '---' : align?.[i] === 'c' ? ':---:' : '---:')).join(' | ')} |`,
  ];
  for (const row of rows) lines.push(`| ${row.map(fmt).join(' | ')} |`);
  return lines.join('\n');
}

/**
 * Times every statement TypeORM sends (the app's DataSource), grouped by its first words:
 * `--trace` on a bench prints where the database time goes. Returns a function that reports.
 */
function traceQueries() {
  const { PostgresQueryRunner } = require(join(ROOT, 'node_modules/typeorm/driver/postgres/PostgresQueryRunner'));
  const original = PostgresQueryRunner.prototype.query;
  const stats = new Map();
  PostgresQueryRunner.prototype.query = async function (query, parameters, structured) {
    const key = String(query).replace(/\s+/g, ' ').trim().slice(0, 110);
    const t0 = performance.now();
    try {
      return await original.call(this, query, parameters, structured);
    } finally {
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls += 1;
      s.ms += performance.now() - t0;
      stats.set(key, s);
    }
  };
  return () => {
    const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
    const total = [...stats.values()].reduce((a, s) => a + s.ms, 0);
    return rows.map(([sql, s]) => ({ share: round((100 * s.ms) / total, 1), ms: Math.round(s.ms), calls: s.calls, sql }));
  };
}

module.exports = {
  traceQueries,
  ROOT,
  DIST,
  args,
  option,
  flag,
  log,
  round,
  fmt,
  dist,
  requireBuild,
  withClient,
  withDatabase,
  statementsOn,
  asWorkerSession,
  openDatabase,
  postgresInfo,
  machine,
  measure,
  processTicks,
  CLOCK_TICKS,
  percentile,
  writeResult,
  table,
};
