// The module graph's rules (docs/MODULES.md): no import cycles between files, none between
// folders (a file in delivery/ importing subscribers/ while one in subscribers/ imports
// delivery/ is a cycle too), and the layers: a folder imports only its own layer and those below.
// `npm run lint` runs this with `depcruise src`.

const { LAYERS } = require('./scripts/module-layers.cjs');

const folderPath = (folders) => `^src/(${folders.join('|')})/`;

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.folders.join(', ')} (${layer.name}) must not import a higher layer`,
  severity: 'error',
  from: { path: folderPath(layer.folders) },
  to: { path: folderPath(LAYERS.slice(i + 1).flatMap((l) => l.folders)) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No file may reach itself through its imports (type-only imports count).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'No folder (module) may reach itself through the imports of its files.',
      scope: 'folder',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-composition-root',
      comment: 'src/*.ts (main, bootstrap, app.module, entity-list) wire the modules; no module imports them.',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    reporterOptions: {
      archi: { collapsePattern: '^src/[^/]+' },
    },
  },
};
