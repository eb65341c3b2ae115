// Prints the module graph of src/ (one node per folder, the root files as one) as a Mermaid
// flowchart, from dependency-cruiser's JSON: `npm run lint:graph`. The edges are the transitive
// reduction (an edge a -> c is left out when a -> b -> c exists), so the picture stays readable;
// `--all` prints every edge. Layers come from scripts/module-layers.cjs. docs/MODULES.md holds its output.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { LAYERS } = require('./module-layers.cjs');
const all = process.argv.includes('--all');

const json = execFileSync(
  process.execPath,
  [
    join(import.meta.dirname, '../node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
    'src',
    '--config',
    '.dependency-cruiser.cjs',
    '--output-type',
    'json',
  ],
  {
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  },
);
const folderOf = (path) => /^src\/([^/]+)\//.exec(path)?.[1] ?? 'root';
const edges = new Map();
for (const module of JSON.parse(json).modules) {
  if (!module.source.startsWith('src/')) continue;
  const from = folderOf(module.source);
  if (!edges.has(from)) edges.set(from, new Set());
  for (const dependency of module.dependencies) {
    if (!dependency.resolved.startsWith('src/')) continue;
    const to = folderOf(dependency.resolved);
    if (to !== from) edges.get(from).add(to);
  }
}

const reachable = (start, skip) => {
  const seen = new Set();
  const stack = [...edges.get(start)].filter((n) => !(n === skip.to && start === skip.from));
  while (stack.length) {
    const node = stack.pop();
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...(edges.get(node) ?? []));
  }
  return seen;
};
const shown = [];
for (const [from, targets] of [...edges].sort()) {
  for (const to of [...targets].sort()) {
    if (all || !reachable(from, { from, to }).has(to)) shown.push([from, to]);
  }
}

const lines = ['flowchart BT'];
const placed = new Set();
for (const layer of [...LAYERS, { name: 'composition root', folders: ['root'] }]) {
  lines.push(`  subgraph ${layer.name.replace(/ /g, '_')}["${layer.name}"]`);
  for (const folder of layer.folders) {
    if (!edges.has(folder)) continue;
    lines.push(`    ${folder}${folder === 'root' ? '["src/*.ts"]' : ''}`);
    placed.add(folder);
  }
  lines.push('  end');
}
for (const folder of [...edges.keys()].sort()) if (!placed.has(folder)) lines.push(`  ${folder}`);
for (const [from, to] of shown) lines.push(`  ${from} --> ${to}`);
console.log(lines.join('\n'));
