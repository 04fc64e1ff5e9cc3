import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The pinned tool versions and where their binaries are cached. scripts/bootstrap builds
 * them into the same places; keep the two in step (test/unit/toolchain.test.ts checks it).
 */
export const TEMPORAL_CLI_VERSION = '1.5.1';
export const FAKE_GCS_VERSION = '1.54.0';
/** The SMTP server with an HTTP API the notice tests send mail to (test/helpers/mailpit.ts). */
export const MAILPIT_VERSION = '1.33.1';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TTSYNC_CACHE_DIR) return env.TTSYNC_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ttsync');
}

export function cachedTemporalPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin', `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

export function cachedFakeGcsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin', `fake-gcs-server-${FAKE_GCS_VERSION}`, 'fake-gcs-server');
}

export function cachedMailpitPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin', `mailpit-${MAILPIT_VERSION}`, 'mailpit');
}

/** `temporal --version` prints e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
export function temporalVersionOf(path: string): string | undefined {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
    return /version\s+v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export class ToolchainError extends Error {
  override name = 'ToolchainError';
}

/** The `temporal server start-dev` flags devServer.ts passes: a newer CLI must still take them all. */
export const DEV_SERVER_FLAGS = ['--ip', '--port', '--namespace', '--log-level', '--log-format', '--headless', '--ui-port', '--ui-ip', '--db-filename', '--search-attribute'];

/** a >= b for dotted numeric versions. */
export function versionAtLeast(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x!.length, y!.length); i++) {
    const d = (x![i] ?? 0) - (y![i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The dev-server flags `path` does not know, by its own help (undefined: it cannot say). */
export function missingDevServerFlags(path: string): string[] | undefined {
  try {
    const help = execFileSync(path, ['server', 'start-dev', '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
    return DEV_SERVER_FLAGS.filter((f) => !new RegExp(`${f}\\b`).test(help));
  } catch {
    return undefined;
  }
}

/**
 * TEMPORAL_CLI, then the cache, then PATH. `pinned` (tests, replay, benchmarks): only the
 * pinned version, whose UI the browser test knows. `newer` (`ttsync dev`): any version from
 * the pin on whose dev server takes every flag ttsync passes, so a newer `temporal` already
 * installed spares the minutes of building one.
 */
export function resolveTemporalCli(env: NodeJS.ProcessEnv = process.env, accept: 'pinned' | 'newer' = 'pinned'): string {
  const tried: string[] = [];
  const candidates = [env.TEMPORAL_CLI, cachedTemporalPath(env), onPath('temporal')].filter(
    (p): p is string => Boolean(p),
  );
  for (const p of candidates) {
    const v = temporalVersionOf(p);
    if (v === TEMPORAL_CLI_VERSION) return p;
    if (v && accept === 'newer' && versionAtLeast(v, TEMPORAL_CLI_VERSION)) {
      const missing = missingDevServerFlags(p);
      if (missing?.length === 0) return p;
      tried.push(`${p} (version ${v}, ${missing ? `its dev server lacks ${missing.join(' ')}` : 'its dev server help did not answer'})`);
      continue;
    }
    tried.push(`${p} (${v ? `version ${v}` : 'not runnable'})`);
  }
  const wanted = accept === 'newer' ? `${TEMPORAL_CLI_VERSION} or newer` : TEMPORAL_CLI_VERSION;
  throw new ToolchainError(
    `no Temporal CLI ${wanted} found` +
      (tried.length ? `; tried ${tried.join(', ')}` : '') +
      `. Run scripts/bootstrap to build ${TEMPORAL_CLI_VERSION}, or set TEMPORAL_CLI to a temporal binary of ${accept === 'newer' ? 'that version or newer' : 'that version'}.`,
  );
}

export function resolveFakeGcs(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.FAKE_GCS_SERVER, cachedFakeGcsPath(env), onPath('fake-gcs-server')].filter(
    (p): p is string => Boolean(p),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new ToolchainError('fake-gcs-server not found. Run scripts/bootstrap to build it, or set FAKE_GCS_SERVER.');
  return found;
}

export function resolveMailpit(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.MAILPIT, cachedMailpitPath(env), onPath('mailpit')].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new ToolchainError(`mailpit not found. Run scripts/bootstrap to build Mailpit ${MAILPIT_VERSION}, or set MAILPIT to a mailpit binary.`);
  return found;
}

/**
 * The Temporal server of the production topology (scripts/topology), built from its own Go
 * module with its SQL schema tool. The same server version the pinned CLI embeds, and the
 * one docker-compose.yml runs (test/unit/architecture/compose.test.ts checks both).
 */
export const TEMPORAL_SERVER_VERSION = '1.29.1';

export function cachedTemporalServerPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin', `temporal-server-${TEMPORAL_SERVER_VERSION}`, 'temporal-server');
}

export function cachedTemporalSqlToolPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin', `temporal-server-${TEMPORAL_SERVER_VERSION}`, 'temporal-sql-tool');
}

/** `temporal-server --version` prints e.g. "temporal-server version 1.29.1". */
export function temporalServerVersionOf(path: string): string | undefined {
  return temporalVersionOf(path);
}

/** TEMPORAL_SERVER / TEMPORAL_SQL_TOOL, else the cache; the server must be the pinned version. */
export function resolveTemporalServer(env: NodeJS.ProcessEnv = process.env): { server: string; sqlTool: string } {
  const server = env.TEMPORAL_SERVER || cachedTemporalServerPath(env);
  const sqlTool = env.TEMPORAL_SQL_TOOL || cachedTemporalSqlToolPath(env);
  const v = existsSync(server) ? temporalServerVersionOf(server) : undefined;
  if (v !== TEMPORAL_SERVER_VERSION) {
    throw new ToolchainError(
      `no Temporal server ${TEMPORAL_SERVER_VERSION} at ${server} (${existsSync(server) ? (v ? `version ${v}` : 'not runnable') : 'missing'}). ` +
        `Run scripts/bootstrap --topology to build it, or set TEMPORAL_SERVER (and TEMPORAL_SQL_TOOL) to prebuilt binaries of that version.`,
    );
  }
  if (!existsSync(sqlTool)) throw new ToolchainError(`temporal-sql-tool not found at ${sqlTool}. Run scripts/bootstrap --topology, or set TEMPORAL_SQL_TOOL.`);
  return { server, sqlTool };
}

/**
 * The folder of PostgreSQL's server programs (initdb, pg_ctl): TTSYNC_PG_BIN, else the newest
 * of Debian's /usr/lib/postgresql/<major>/bin (they are not on PATH there).
 */
export function resolvePostgresBin(env: NodeJS.ProcessEnv = process.env, debianRoot = '/usr/lib/postgresql'): string {
  if (env.TTSYNC_PG_BIN) {
    if (!existsSync(join(env.TTSYNC_PG_BIN, 'initdb'))) throw new ToolchainError(`TTSYNC_PG_BIN=${env.TTSYNC_PG_BIN} has no initdb`);
    return env.TTSYNC_PG_BIN;
  }
  const majors = existsSync(debianRoot)
    ? readdirSync(debianRoot)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(debianRoot, d, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors.length) {
    throw new ToolchainError(
      `PostgreSQL's server programs (initdb, pg_ctl) are not installed under ${debianRoot}. Run scripts/bootstrap --topology (it installs Debian's postgresql package), or set TTSYNC_PG_BIN to the folder holding initdb and pg_ctl.`,
    );
  }
  return join(debianRoot, majors[0]!, 'bin');
}
