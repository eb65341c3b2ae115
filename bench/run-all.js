#!/usr/bin/env node
// bench/run-all: runs every bench script in bench/ (each *.js directly in the folder except this
// one), one after the other in a fresh Node process each, with the same environment (so
// DATABASE_URL applies to all). Each writes its own bench/results/<name>.json; this prints how
// each ended and how long it took, and exits non-zero when one failed.
//
//   npm run build && npm run bench
//   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres npm run bench
//   node bench/run-all.js --only claim,render     # or --skip preferences
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const args = process.argv.slice(2);
const list = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1].split(',').map((s) => s.trim().replace(/\.js$/, '')) : null;
};
const only = list('only');
const skip = list('skip') ?? [];

if (!existsSync(join(ROOT, 'dist', 'main.js'))) {
  process.stderr.write('the benches need the build: run `npm run build` first\n');
  process.exit(1);
}

const benches = readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== 'run-all.js' && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''))
  .filter((name) => (only ? only.includes(name) : true) && !skip.includes(name))
  .sort();

const outcomes = [];
for (const name of benches) {
  process.stdout.write(`\n=== bench/${name}.js (${new Date().toISOString()}) ===\n`);
  const started = Date.now();
  const run = spawnSync(process.execPath, [join(__dirname, `${name}.js`)], { cwd: ROOT, stdio: 'inherit', env: process.env });
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  outcomes.push({ name, status: run.status ?? run.signal, seconds });
}

process.stdout.write('\n| bench | exit | wall | result |\n| --- | ---: | ---: | --- |\n');
for (const o of outcomes) {
  process.stdout.write(`| ${o.name} | ${o.status} | ${o.seconds} s | bench/results/${o.name}.json |\n`);
}
process.exit(outcomes.every((o) => o.status === 0) ? 0 : 1);
