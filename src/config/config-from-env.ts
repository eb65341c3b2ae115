// The config of this process: the environment, plus (outside production) the generated secrets
// kept in the data folder. Shared by the server (src/bootstrap.ts) and the migration runner.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppConfig, DevSecrets, loadConfig } from './config';

/** Outside production a missing secret is generated once and kept in the data folder. */
function devSecrets(dataDir: string): DevSecrets {
  const file = join(resolve(dataDir), 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  mkdirSync(resolve(dataDir), { recursive: true });
  const secrets: DevSecrets = {
    tokenSecret: randomBytes(32).toString('base64url'),
    webhookSecret: randomBytes(32).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const production = env.NODE_ENV === 'production';
  return loadConfig(env, production ? undefined : devSecrets(env.DATA_DIR?.trim() || '.data'));
}
