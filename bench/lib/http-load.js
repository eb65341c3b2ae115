// HTTP load against the built app in a child process: start it, paced (open-loop) and closed-loop
// request phases with latency percentiles. Shared by bench/preferences.js and
// bench/worker-starvation.js (not a bench itself).
'use strict';
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const c = require('./common');

/** The secrets every bench app runs with (40+ characters, as production wants). */
const TOKEN_SECRET = 'bench-token-secret-0123456789abcdef012345';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789abcdef0123';
const REQUEST_TIMEOUT_MS = 10_000; // counted as an error (status 0)

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The built app as a child process (`node dist/main.js`, NODE_ENV=production, worker and scheduler
 * off unless `env` says otherwise, rate limits out of the way), once /health answers.
 */
async function startApp(url, port, { profileDir = null, env: extra = {} } = {}) {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'tactful-bench-app-'));
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOCAL_ONLY: 'true', // a bench on this machine: local addresses, no SMTP
    DATABASE_URL: url,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    TOKEN_SECRET,
    WEBHOOK_SECRET,
    CUSTOMER_RATE_LIMIT_PER_IP: '1000000',
    CUSTOMER_RATE_LIMIT_PER_TOKEN: '1000000',
    LOG_LEVEL: 'warn',
    WORKER_ENABLED: 'false',
    SCHEDULER_ENABLED: 'false',
    DATA_DIR: dataDir,
    OUTBOX_DIR: join(dataDir, 'outbox'),
    ...extra,
  };
  const flags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, [...flags, join(c.DIST, 'main.js')], { env, cwd: c.ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Error messages the app logged (LOG_LEVEL=warn), counted: a 500 in the table gets its cause.
  const errors = new Map();
  const take = (d) => {
    output = (output + d).slice(-4000);
    for (const m of String(d).matchAll(/"message":"([^"]{1,120})"/g)) errors.set(m[1], (errors.get(m[1]) ?? 0) + 1);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited while starting:\n${output}`);
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/health' }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the app did not answer /health within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid,
    output: () => output,
    /** Logged error messages since the last call, with counts. */
    takeErrors: () => {
      const list = Object.fromEntries(errors);
      errors.clear();
      return list;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const result = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15_000))]);
      if (result === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

/** One request over a keep-alive agent; resolves with its status (0 = transport error) and the body size. */
function request(agent, port, method, path, body, extraHeaders = {}) {
  return new Promise((resolve) => {
    const headers = { ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}), ...extraHeaders };
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', () => resolve({ status: 0, bytes }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, bytes: 0 }));
    if (body) req.write(body);
    req.end();
  });
}

function summarize(latencies, statuses, ms, extra) {
  latencies.sort((a, b) => a - b);
  const ok = statuses.get(200) ?? 0;
  return {
    requests: latencies.length,
    ok,
    errors: latencies.length - ok,
    statuses: Object.fromEntries(statuses),
    seconds: c.round(ms / 1000, 2),
    perS: Math.round(latencies.length / (ms / 1000)),
    latencyMs: {
      p50: c.round(c.percentile(latencies, 50), 1),
      p90: c.round(c.percentile(latencies, 90), 1),
      p99: c.round(c.percentile(latencies, 99), 1),
      max: c.round(latencies.at(-1), 1),
    },
    ...extra,
  };
}

/**
 * Open loop: request i leaves at start + i / rate; its latency counts from then. `next(i)` gives
 * { method, path, body?, headers?, label? }.
 */
async function paced(port, rate, seconds, next) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const total = Math.round(rate * seconds);
  const latencies = [];
  const statuses = new Map();
  let maxInFlight = 0;
  let inFlight = 0;
  let lateSends = 0;
  const pending = [];
  const start = performance.now() + 20;
  let notSent = 0;
  // Requests that name a label are summarised apart as well (several routes in one paced mix).
  const byLabel = new Map();
  for (let i = 0; i < total; i++) {
    // Bounded: with more than a second's worth of requests unanswered the service is past its
    // capacity; the rest of the phase is not sent (and counted as errors) instead of piling up.
    if (inFlight > rate) {
      notSent = total - i;
      break;
    }
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -5) lateSends++;
    const { method, path, body, headers, label } = next(i);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    pending.push(
      request(agent, port, method, path, body, headers).then((r) => {
        inFlight--;
        const latency = performance.now() - due;
        latencies.push(latency);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (label) {
          const own = byLabel.get(label) ?? byLabel.set(label, { latencies: [], statuses: new Map() }).get(label);
          own.latencies.push(latency);
          own.statuses.set(r.status, (own.statuses.get(r.status) ?? 0) + 1);
        }
      }),
    );
  }
  await Promise.all(pending);
  const ms = performance.now() - start;
  agent.destroy();
  if (notSent) statuses.set('not sent (backlog)', notSent);
  const labels = Object.fromEntries([...byLabel].map(([label, own]) => [label, summarize(own.latencies, own.statuses, ms)]));
  const result = summarize(latencies, statuses, ms, { targetRate: rate, maxInFlight, lateSends, notSent, ...(byLabel.size ? { byLabel: labels } : {}) });
  result.errors += notSent;
  return result;
}

/** Closed loop: `connections` clients, each sending its next request when the previous one answered. */
async function closed(port, connections, seconds, next) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  const statuses = new Map();
  let i = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const { method, path, body } = next(i++);
        const t0 = performance.now();
        const r = await request(agent, port, method, path, body);
        latencies.push(performance.now() - t0);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }),
  );
  const ms = performance.now() - start;
  agent.destroy();
  return summarize(latencies, statuses, ms, { connections });
}

module.exports = { TOKEN_SECRET, WEBHOOK_SECRET, freePort, startApp, request, summarize, paced, closed };
