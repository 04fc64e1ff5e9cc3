import { join } from 'node:path';
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
    ["import { runCli } from '../src/cli/program'; export const x = runCli;", /only pure modules of src/],
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
