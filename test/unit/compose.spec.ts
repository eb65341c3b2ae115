// Keeps docker-compose.yml, the Dockerfile and .env.example honest against src/config/config.ts:
// the compose stack must boot a production config, point at its own services, and the docs must not drift.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/config';

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

type Service = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  ports?: (string | number | { target: number; published?: string | number })[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
};

/** Resolves compose interpolation as if the shell had none of the variables set: `${X:-d}`/`${X-d}` become d, `${X}`/`$X` become '', `$$` stays a literal `$`. */
function interpolateDefaults(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (match === '$$') return '$';
      if (op === ':-' || op === '-') return arg ?? '';
      if (op === ':?' || op === '?') throw new Error(`${match} requires a variable to be set`);
      return ''; // ${X}, ${X:+alt}, ${X+alt} and $X with X unset
    },
  );
}

function environmentOf(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolateDefaults(v)]));
}

/** [published, target] pairs of a service's ports, short or long syntax. */
function portsOf(service: Service): [number | undefined, number][] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return [port.published === undefined ? undefined : Number(port.published), Number(port.target)];
    }
    const parts = interpolateDefaults(String(port)).replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts[parts.length - 1]);
    const published = parts.length >= 2 ? Number(parts[parts.length - 2]) : undefined;
    return [published, target];
  });
}

/** Every variable name src/config/config.ts reads. */
function configVariables(): Set<string> {
  const source = read('src/config/config.ts');
  const names = new Set(['NODE_ENV']);
  for (const m of source.matchAll(/read\.\w+\('([A-Z_][A-Z0-9_]*)'/g)) names.add(m[1]);
  return names;
}

function envExampleVariables(): string[] {
  return [...read('.env.example').matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
}

const compose = parse(read('docker-compose.yml')) as { services?: Record<string, Service> };
const services = compose.services ?? {};
const app = services.app ?? {};
const postgres = services.postgres ?? {};
const mailpit = services.mailpit ?? {};
const appEnv = environmentOf(app);

describe('docker-compose.yml', () => {
  it('defines postgres, mailpit and app', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'mailpit', 'app']));
    expect(postgres.image).toMatch(/^postgres:16/);
    expect(mailpit.image).toMatch(/^axllent\/mailpit/);
  });

  it('builds app from the project root, where the Dockerfile is', () => {
    const build = app.build;
    const context = typeof build === 'string' ? build : build?.context;
    const dockerfile = (typeof build === 'object' && build.dockerfile) || 'Dockerfile';
    expect(context).toBe('.');
    expect(existsSync(join(root, context ?? '', dockerfile))).toBe(true);
  });

  it('gives the app an environment loadConfig accepts in production', () => {
    expect(appEnv.NODE_ENV).toBe('production');
    const config = loadConfig(appEnv);
    expect(config.env).toBe('production');
    expect(config.databaseUrl).toBeDefined();
    expect(config.smtpUrl).toBeDefined();
  });

  it('is marked local-only: production would refuse its http://localhost, .localhost sender and bounce domain and published secrets, and each is logged as a warning instead', () => {
    const config = loadConfig(appEnv);
    expect(config.localOnly).toBe(true);
    const refused = ['PUBLIC_URL', 'MAIL_FROM', 'BOUNCE_DOMAIN', 'TOKEN_SECRET', 'WEBHOOK_SECRET'];
    expect(config.startupWarnings.map((w) => w.variable)).toEqual(expect.arrayContaining(refused));
    let error: unknown;
    try {
      loadConfig({ ...appEnv, LOCAL_ONLY: undefined });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect([...new Set((error as ConfigError).problems.map((p) => p.variable))].sort()).toEqual([...refused].sort());
  });

  it('only sets variables the config reads (no typos silently ignored)', () => {
    const known = configVariables();
    expect(Object.keys(appEnv).filter((name) => !known.has(name))).toEqual([]);
  });

  it("publishes the app's PORT", () => {
    const { port } = loadConfig(appEnv);
    expect(portsOf(app)).toContainEqual([expect.any(Number), port]);
  });

  it('points DATABASE_URL at the postgres service with its credentials', () => {
    const pg = environmentOf(postgres);
    const url = new URL(appEnv.DATABASE_URL);
    expect(url.protocol).toMatch(/^postgres(ql)?:$/);
    expect(url.hostname).toBe('postgres');
    expect(services[url.hostname]).toBeDefined();
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname.replace(/^\//, '')).toBe(pg.POSTGRES_DB);
    expect(pg.POSTGRES_USER).toBeTruthy();
  });

  it('points SMTP_URL at the mailpit service on 1025', () => {
    const url = new URL(appEnv.SMTP_URL);
    expect(url.protocol).toBe('smtp:');
    expect(url.hostname).toBe('mailpit');
    expect(services[url.hostname]).toBeDefined();
    expect(url.port).toBe('1025');
    expect(portsOf(mailpit)).toEqual(expect.arrayContaining([[8025, 8025], [1025, 1025]]));
  });

  it('starts the app only once postgres is healthy', () => {
    const dependsOn = app.depends_on;
    expect(Array.isArray(dependsOn)).toBe(false);
    expect((dependsOn as Record<string, { condition?: string }>).postgres?.condition).toBe('service_healthy');
    expect(JSON.stringify(postgres.healthcheck?.test ?? '')).toContain('pg_isready');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('runs the built app as node in production and ships the templates', () => {
    expect(dockerfile).toMatch(/^FROM node:24-bookworm-slim|ARG NODE_IMAGE=node:24-bookworm-slim/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    // `npm run build` is scripts/build.js.
    expect(dockerfile).toMatch(/^COPY scripts \.\/scripts\s*$/m);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node\s*$/m);
    expect(dockerfile).toMatch(/NODE_ENV=production/);
    expect(dockerfile).toMatch(/^EXPOSE 3000\s*$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    expect(dockerfile).toMatch(/^COPY .*templates \.\/templates\s*$/m);
    expect(dockerfile).toMatch(/^CMD \["node", ?"dist\/main\.js"\]\s*$/m);
  });
});

describe('.env.example', () => {
  const documented = envExampleVariables();
  const known = configVariables();

  it('finds the variables in src/config/config.ts', () => {
    expect(known.size).toBeGreaterThanOrEqual(20);
    for (const name of ['PORT', 'DATABASE_URL', 'SMTP_URL', 'TOKEN_SECRET', 'WEBHOOK_SECRET']) expect(known.has(name)).toBe(true);
  });

  it('documents every variable once, each with a comment line above', () => {
    expect(documented.length).toBe(new Set(documented).size);
    const lines = read('.env.example').split('\n');
    for (const name of documented) {
      const at = lines.findIndex((line) => new RegExp(`^#?[ \\t]*${name}=`).test(line));
      const above = lines[at - 1] ?? '';
      const isComment = /^#\s*\S/.test(above) && !/^#?[ \t]*[A-Z][A-Z0-9_]*=/.test(above);
      expect({ name, isComment }).toEqual({ name, isComment: true });
    }
  });

  it('lists exactly the variables loadConfig reads', () => {
    expect([...documented].sort()).toEqual([...known].sort());
  });
});
