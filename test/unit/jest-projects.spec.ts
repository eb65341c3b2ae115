// `npm run test:unit` starts no PostgreSQL and builds nothing: only the projects that need them
// carry the global set-up (jest runs a project's set-up only when one of its tests runs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Project = { displayName: string; globalSetup?: string; globalTeardown?: string };
const config = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).jest as Project & { projects: Project[] };
const project = (name: string) => config.projects.find((p) => p.displayName === name);

describe('jest projects', () => {
  it('give the unit tests no global set-up, and none to the run as a whole', () => {
    expect(project('unit')).toBeDefined();
    expect(project('unit')).not.toHaveProperty('globalSetup');
    expect(project('unit')).not.toHaveProperty('globalTeardown');
    expect(config).not.toHaveProperty('globalSetup');
    expect(config).not.toHaveProperty('globalTeardown');
  });

  it('give integration, e2e and simulation the one set-up that builds dist/ and starts PostgreSQL (run once when several are selected)', () => {
    for (const name of ['integration', 'e2e', 'simulation']) {
      expect({ name, setup: project(name)?.globalSetup, teardown: project(name)?.globalTeardown }).toEqual({
        name,
        setup: '<rootDir>/test/support/global-setup.ts',
        teardown: '<rootDir>/test/support/global-teardown.ts',
      });
    }
  });
});
