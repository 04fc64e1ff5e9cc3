import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
