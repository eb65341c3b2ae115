// The layers of src/ (docs/MODULES.md), read by .dependency-cruiser.cjs and scripts/module-graph.mjs.

/** Bottom first. A folder not listed (a new one) is held only by the cycle rules until it is placed here. */
const LAYERS = [
  { name: 'kernel', folders: ['reasons', 'config'] },
  { name: 'infrastructure', folders: ['database', 'common', 'links', 'addresses', 'rendering', 'auth', 'metrics', 'pages'] },
  { name: 'core', folders: ['cadence', 'delivery', 'mail-events', 'topics'] },
  { name: 'domains', folders: ['subscribers', 'feedback', 'preferences', 'shipments', 'campaigns', 'digests', 'webinars'] },
  { name: 'orchestration', folders: ['scheduler', 'operations'] },
  // The company's console: pages over every domain's services (the scheduler's run log included).
  { name: 'interface', folders: ['console'] },
];

module.exports = { LAYERS };
