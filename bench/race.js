#!/usr/bin/env node
// bench/race: the cadence race at full size — 8 campaigns from 4 senders over one audience of
// 20,000 subscribers (three overlapping topics, history, budgets), dispatched and sent by 3 OS
// processes of the built app at once. It runs the proof in test/integration/cadence-race.spec.ts
// (which `npm test` runs at 10,000) with RACE_SUBSCRIBERS, so the figures come with the same SQL
// checks: every candidate decided once, at most one marketing mail per window, the highest
// priority wins each free window. Target (DESIGN.md): 0 violations; report the wall time.
//
//   npm run build
//   node bench/race.js                      # --subscribers 20000
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node bench/race.js
//
// Writes bench/results/race.json.
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const c = require('./lib/common');

const SUBSCRIBERS = Number(c.option('subscribers', '20000'));
const started = Date.now();
const run = spawnSync(
  process.execPath,
  [
    join(c.ROOT, 'node_modules/jest/bin/jest.js'),
    '--selectProjects',
    'integration',
    '--runTestsByPath',
    'test/integration/cadence-race.spec.ts',
    '--testNamePattern',
    'sends at most one marketing mail per window',
  ],
  { cwd: c.ROOT, env: { ...process.env, RACE_SUBSCRIBERS: String(SUBSCRIBERS) }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
);
const seconds = (Date.now() - started) / 1000;
const output = `${run.stdout}\n${run.stderr}`;
const passed = run.status === 0;
// The test prints its figures as one block: "cadence race: …" and indented lines, up to a blank line.
const lines = output.slice(Math.max(0, output.indexOf('cadence race:'))).split('\n');
const end = lines.findIndex((line, i) => i > 0 && !line.startsWith('  '));
const figures = lines
  .slice(0, end < 0 ? lines.length : end)
  .map((line) => line.trim())
  .filter(Boolean);

c.log(`cadence race, ${c.fmt(SUBSCRIBERS)} subscribers, 8 campaigns, 4 senders, 3 processes: ${passed ? '0 violations (every SQL check passed)' : 'FAILED'}`);
c.log(`wall time of the whole run (database clone, seed, three process starts, dispatch, send, checks): ${c.round(seconds, 1)} s`);
for (const line of figures) c.log(`  ${line}`);
if (!passed) c.log(output.slice(-4000));
const file = c.writeResult('race', { bench: 'race', subscribers: SUBSCRIBERS, passed, wallSeconds: c.round(seconds, 1), figures, machine: c.machine() });
c.log(`result: ${file}`);
process.exit(passed ? 0 : 1);
