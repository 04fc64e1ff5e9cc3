import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/devServer';
import { resolveTemporalCli } from '../../src/temporal/toolchain';
import { CHROMIUM, CHROMIUM_ARGS, UI_WAIT_MS, stepPage, temporalUi } from './temporalUi';

/*
 * What every Web UI test file sets up before its first step: a dev server of its own that
 * serves the UI (its log kept for failed steps), a scratch folder, and headless Chromium
 * (Debian's, through playwright-core) in a throwaway profile. The hooks are registered where
 * this is called; vitest runs after-hooks in reverse, so workers a file starts in a later
 * beforeAll stop before this server does.
 */

export interface UiSessionOptions {
  /** Names the artifacts folder (.data/test-artifacts/<name>) and the temp folders. */
  name: string;
  namespace?: string;
  /** Longest time a hook of this session may take. */
  hookMs?: number;
}

export interface UiSession {
  namespace: string;
  server: () => DevServer;
  /** A scratch folder of the file's own, removed at the end. */
  dir: () => string;
  context: () => BrowserContext;
  /** A new page for one step; a failed step leaves its screenshot and the server log beside it. */
  stepPage: (step: string) => Promise<Page>;
  ui: ReturnType<typeof temporalUi>;
}

/** A value set up by a beforeAll hook, read by a step. */
export function ready<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('used before beforeAll set it up');
  return v;
}

/** Launches Debian's Chromium headless in a new profile folder, with the UI steps' waits. */
export async function launchUiBrowser(profileDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap, which installs Debian's chromium (apt-get install -y chromium)`);
  const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(UI_WAIT_MS);
  context.setDefaultNavigationTimeout(UI_WAIT_MS);
  return context;
}

export function useUiSession(opts: UiSessionOptions): UiSession {
  const namespace = opts.namespace ?? 'default';
  const artifacts = join(PROJECT_ROOT, '.data', 'test-artifacts', opts.name);
  let server: DevServer | undefined;
  let context: BrowserContext | undefined;
  let logDir: string | undefined;
  let dir: string | undefined;
  let profileDir: string | undefined;

  beforeAll(async () => {
    rmSync(artifacts, { recursive: true, force: true });
    logDir = mkdtempSync(join(tmpdir(), `ttsync-${opts.name}-temporal-`));
    dir = mkdtempSync(join(tmpdir(), `ttsync-${opts.name}-`));
    profileDir = mkdtempSync(join(tmpdir(), `ttsync-${opts.name}-chromium-`));
    [server, context] = await Promise.all([
      freePort().then((uiPort) => startDevServer({ cliPath: resolveTemporalCli(), namespace, uiPort, logFile: join(logDir!, 'temporal.log'), readyTimeoutMs: UI_WAIT_MS })),
      launchUiBrowser(profileDir),
    ]);
  }, opts.hookMs ?? 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    for (const d of [profileDir, logDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  return {
    namespace,
    server: () => ready(server),
    dir: () => ready(dir),
    context: () => ready(context),
    stepPage: (step) => stepPage(ready(context), step, { dir: artifacts, serverLog: () => logDir && join(logDir, 'temporal.log') }),
    ui: temporalUi({ baseUrl: () => ready(ready(server).uiUrl), namespace }),
  };
}
