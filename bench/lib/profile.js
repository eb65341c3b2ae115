// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package or file.
'use strict';
const { readFileSync } = require('node:fs');

function summarizeProfile(file, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
  const selfByNode = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + dt);
    total += dt;
  });
  const where = (cf) => {
    const url = cf.url || '';
    const nm = url.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const rest = url.slice(nm + 'node_modules/'.length).split('/');
      return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    }
    if (url.includes('/dist/')) return 'dist/' + url.split('/dist/')[1];
    if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
    return cf.functionName.startsWith('(') ? cf.functionName : url || '(native)';
  };
  const byFunction = new Map();
  const byPackage = new Map();
  // Inclusive time per package: a sample counts once for every package on its stack.
  const inclusiveByPackage = new Map();
  for (const [id, t] of selfByNode) {
    const cf = nodes.get(id).callFrame;
    const fn = `${cf.functionName || '(anonymous)'} ${where(cf)}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
    byPackage.set(where(cf), (byPackage.get(where(cf)) ?? 0) + t);
    const seen = new Set();
    for (let n = id; n !== undefined; n = parents.get(n)) {
      const w = where(nodes.get(n).callFrame);
      if (!seen.has(w)) {
        seen.add(w);
        inclusiveByPackage.set(w, (inclusiveByPackage.get(w) ?? 0) + t);
      }
    }
  }
  const list = (map, k) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, t]) => ({ percent: Math.round((1000 * t) / total) / 10, ms: Math.round(t / 1000), name }));
  return {
    totalMs: Math.round(total / 1000),
    selfByFunction: list(byFunction, top),
    selfByPackage: list(byPackage, 15),
    inclusiveByPackage: list(inclusiveByPackage, 20),
  };
}

module.exports = { summarizeProfile };
