import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..', '..');

// The project's real config, minus type information (the probe is not a file on disk),
// which only the type-aware promise rules need.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false, project: null } },
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
  },
});

async function violations(code: string, file = 'workflows/probe.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('workflow determinism lint rules', () => {
  it.each([
    ["import { readFileSync } from 'node:fs'; export const x = readFileSync;", /no Node built-ins/],
    ["import { createHash } from 'crypto'; export const x = createHash;", /no Node built-ins/],
    ["import { createHealthActivities } from '../activities/health'; export const x = createHealthActivities;", /activities as types only/],
    ["import { runCli } from '../src/cli/program'; export const x = runCli;", /workflow-safe modules of src/],
    ['export const x = () => process.env.HOME;', /no process/],
    ['export const x = () => setTimeout(() => undefined, 1);', /Use sleep\(\)/],
    ["export const x = () => fetch('http://x');", /call an activity/],
  ])('rejects %s', async (code, message) => {
    expect((await violations(code)).join('\n')).toMatch(message);
  });

  it('accepts what workflows may use', async () => {
    const ok = [
      "import { sleep } from '@temporalio/workflow';",
      "import type { HealthActivities } from '../activities/health';",
      "import { SearchAttributeKeys } from '../src/temporal/searchAttributes';",
      "import { TaskQueues } from '../src/temporal/taskQueues';",
      "import { TikTokErrorType } from '../src/tiktok/errorTypes';",
      "import { calculateTypeOf } from '../src/tiktok/types';",
      'export type A = HealthActivities;',
      'export const x = [sleep, SearchAttributeKeys, TaskQueues, TikTokErrorType, calculateTypeOf];',
    ].join('\n');
    expect(await violations(ok)).toEqual([]);
  });

  it('does not apply the workflow rules outside workflows/', async () => {
    expect(await violations("import { readFileSync } from 'node:fs'; export const x = readFileSync;", 'src/probe.ts')).toEqual([]);
  });
});

/** The lists the boundaries are generated from (eslint.config.mjs is ESM: loaded by URL). */
const house = async (): Promise<{ LIFECYCLES: string[]; WORKFLOW_SAFE_MODULES: string[] }> =>
  (await import(pathToFileURL(join(ROOT, 'eslint.config.mjs')).href)) as { LIFECYCLES: string[]; WORKFLOW_SAFE_MODULES: string[] };

// The import boundaries: a planted forbidden import fails with its rule's message, an
// allowed one passes. The rules are generated from the lists in eslint.config.mjs.
const RULE = {
  lifecycle: /Lifecycles are independent/,
  kernel: /The kernel imports no lifecycle/,
  logic: /src\/<lifecycle>\/messages\.ts/,
  workflowSafe: /only the workflow-safe modules of src\//,
  activities: /activities as types only/,
  emulator: /Only src\/cli, test\/ and scripts\/ import src\/emulator/,
  app: /The app layer .* is on top/,
};

describe('import boundaries', () => {
  it.each([
    // 1. a lifecycle never imports another lifecycle (types included)
    ['src/audience-sync/probe.ts', "import { x } from '../events-export/x';", RULE.lifecycle],
    ['src/audience-sync/demo/probe.ts', "import type { X } from '../../../workflows/retention/x';", RULE.lifecycle],
    ['activities/audience-sync/probe.ts', "import { x } from '../../src/events-export/x';", RULE.lifecycle],
    ['activities/audience-sync/probe.ts', "import type { X } from '../usage-report/x';", RULE.lifecycle],
    ['workflows/audience-sync/probe.ts', "import type { X } from '../san-migration/x';", RULE.lifecycle],
    ['workflows/audience-sync/probe.ts', "import type { X } from '../../activities/events-export';", RULE.lifecycle],
    // 2. the kernel imports no lifecycle, workflows, activities, app layer or emulator (types included)
    ['src/storage/probe.ts', "import { x } from '../audience-sync/x';", RULE.kernel],
    ['src/storage/probe.ts', "import type { X } from '../audience-sync/x';", RULE.kernel],
    ['src/temporal/probe.ts', "import type { X } from '../../workflows';", RULE.kernel],
    ['src/temporal/probe.ts', "import { x } from '../../activities/health';", RULE.kernel],
    ['src/config/probe.ts', "export { x } from '../audience-sync/config';", RULE.kernel],
    ['src/config/probe.ts', "export { x } from '../../src/audience-sync/config';", RULE.kernel],
    ['workflows/audience-sync/probe.ts', "import { x } from '../../workflows/../src/cli';", /without '\/\.\/' or '\/\.\.\/'/],
    ['src/storage/probe.ts', "import { x } from './keys/../../audience-sync';", /without '\/\.\/' or '\/\.\.\/'/],
    ['src/identifiers/sha256batch/probe.ts', "import { x } from '../../cli/program';", RULE.kernel],
    ['src/tiktok/probe.ts', "import { x } from '../emulator';", RULE.kernel],
    ['src/version.ts', "import { x } from './worker';", RULE.kernel],
    ['src/paths.ts', "import type { X } from './cli/devStack';", RULE.kernel],
    // 3. a lifecycle's logic imports no workflows/ or activities/, not even types
    ['src/audience-sync/probe.ts', "import type { X } from '../../workflows/audience-sync/x';", RULE.logic],
    ['src/audience-sync/probe.ts', "import { x } from '../../activities/audience-sync/data';", RULE.logic],
    ['src/audience-sync/demo/probe.ts', "import { audienceSync } from '../../../workflows';", RULE.logic],
    // 4. workflows import as values only the workflow-safe files of src/
    ['workflows/probe.ts', "import { x } from '../src/config/secrets';", RULE.workflowSafe],
    ['workflows/probe.ts', "import { x } from '../src/config';", RULE.workflowSafe],
    ['workflows/audience-sync/probe.ts', "import { x } from '../../src/audience-sync/client';", RULE.workflowSafe],
    ['workflows/audience-sync/probe.ts', "import { x } from '../../src/audience-sync/configFile';", RULE.workflowSafe],
    ['workflows/audience-sync/probe.ts', "import { x } from '../../src/temporal';", RULE.workflowSafe],
    ['workflows/audience-sync/probe.ts', "import { x } from '../../activities/audience-sync/data';", RULE.activities],
    // 5. only src/cli, test/ and scripts/ import the emulator (types included)
    ['src/worker.ts', "import { x } from './emulator/ensure';", RULE.emulator],
    ['src/worker.ts', "import type { X } from './emulator';", RULE.emulator],
    ['src/audience-sync/demo/probe.ts', "import { x } from '../../emulator/control';", RULE.emulator],
    ['activities/probe.ts', "import { x } from '../src/emulator';", RULE.emulator],
    ['workflows/audience-sync/probe.ts', "import type { X } from '../../src/emulator/state';", RULE.emulator],
    // the app layer is on top: nothing below imports it
    ['src/audience-sync/probe.ts', "import { UsageError } from '../cli/program';", RULE.app],
    ['activities/audience-sync/probe.ts', "import type { X } from '../../src/worker';", RULE.app],
  ])('%s: rejects %s', async (file, code, message) => {
    expect((await violations(code, file)).join('\n')).toMatch(message);
  });

  it.each([
    // kernel → kernel, same folder or nested; a sibling named like an app file is not the app file
    ['src/storage/probe.ts', "import { x } from '../config/temporalEnv';\nimport { y } from './keys';\nimport { z } from '../temporal/taskQueues';"],
    ['src/identifiers/sha256batch/probe.ts', "import { x } from '../schema';\nimport { y } from '../../util/prng';"],
    ['src/temporal/probe.ts', "import { x } from './worker';\nimport { y } from './activities';"],
    ['src/temporal/nested/probe.ts', "import { x } from '../worker';\nimport { y } from '../cli';"],
    // a lifecycle's logic → itself and the kernel
    ['src/audience-sync/probe.ts', "import { x } from './messages';\nimport { y } from '../storage';\nimport type { Z } from '../tiktok/types';"],
    ['src/audience-sync/demo/probe.ts', "import { x } from '../client';\nimport { y } from '../../snapshot';"],
    // workflows → workflow-safe values, anything in src/ and activities/ as types, each other
    [
      'workflows/audience-sync/probe.ts',
      [
        "import { x } from '../../src/audience-sync/config';",
        "import { y } from '../../src/audience-sync/messages';",
        "import type { Z } from '../../src/audience-sync/client';",
        "import type { A } from '../../activities/audience-sync/data';",
        "import { type B } from '../../src/storage';",
        "import { p } from './plan';",
        "import { h } from '../healthCheck';",
        "import { sleep } from '@temporalio/workflow';",
      ].join('\n'),
    ],
    ['workflows/probe.ts', "import { x } from '../src/temporal/taskQueues';\nimport { y } from './audience-sync/audienceSync';"],
    // activities → their lifecycle's logic, the kernel, their workflows (types)
    ['activities/audience-sync/probe.ts', "import { x } from '../../src/audience-sync/client';\nimport type { Y } from '../../workflows/audience-sync/audienceSync';\nimport { z } from '../../src/storage';"],
    ['activities/index.ts', "import { x } from './audience-sync/control';\nimport { y } from './health';"],
    // the app layer and the emulator's own users
    ['src/cli/commands/probe.ts', "import { x } from '../../emulator';\nimport { y } from '../../audience-sync/cli';\nimport { z } from '../../worker';"],
    ['src/worker.ts', "import { x } from '../activities';\nimport { y } from './audience-sync/client';\nimport { z } from './cli/devStack';"],
    ['src/emulator/probe.ts', "import { x } from './server';\nimport { y } from '../tiktok/types';"],
    ['test/unit/emulator/probe.ts', "import { x } from '../../../src/emulator';"],
    ['scripts/probe.ts', "import { x } from '../src/emulator/control';"],
  ])('%s: accepts an allowed import', async (file, code) => {
    const restricted = (await violations(code, file)).filter((v) => v.startsWith('no-restricted-imports'));
    expect(restricted).toEqual([]);
  });

  it('is generated from the lifecycle list: every lifecycle is kept from every other one', async () => {
    const { LIFECYCLES } = await house();
    expect(LIFECYCLES).toContain('audience-sync');
    for (const lc of LIFECYCLES) {
      for (const other of LIFECYCLES.filter((o) => o !== lc)) {
        for (const [file, spec] of [
          [`src/${lc}/probe.ts`, `../${other}/x`],
          [`workflows/${lc}/probe.ts`, `../../src/${other}`],
          [`activities/${lc}/probe.ts`, `../../workflows/${other}/x`],
        ] as const) {
          expect((await violations(`import type { X } from '${spec}';\nexport type Y = X;`, file)).join('\n'), `${file} → ${spec}`).toMatch(RULE.lifecycle);
        }
      }
      expect(await violations(`import { x } from '../../src/storage';\nexport const y = x;`, `activities/${lc}/probe.ts`)).toEqual([]);
    }
  });

  it('lets workflows import every workflow-safe module as a value, from any depth', async () => {
    const { WORKFLOW_SAFE_MODULES } = await house();
    for (const module of WORKFLOW_SAFE_MODULES) {
      const bare = module.replace(/\.ts$/, '');
      expect(await violations(`import * as m from '../${bare}';\nexport const x = m;`, 'workflows/probe.ts')).toEqual([]);
      // A lifecycle's own workflow-safe modules are for its own workflows only.
      const owner = /^src\/([^/]+)\//.exec(module)?.[1];
      const lc = owner && (await house()).LIFECYCLES.includes(owner) ? owner : 'audience-sync';
      expect(await violations(`import * as m from '../../${bare}';\nexport const x = m;`, `workflows/${lc}/probe.ts`)).toEqual([]);
    }
  });
});
