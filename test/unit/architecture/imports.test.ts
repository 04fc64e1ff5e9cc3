import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkImports,
  fileCycles,
  folderCycles,
  formatReport,
  houseProblems,
  loadHouse,
  loadImportGraph,
  partOf,
  problemCount,
  stronglyConnectedComponents,
  type House,
} from '../../../scripts/check-imports';

const ROOT = join(__dirname, '..', '..', '..');

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway repository with the given files. */
function plant(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ttsync-imports-'));
  temps.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('stronglyConnectedComponents', () => {
  const components = (edges: Record<string, string[]>): string[][] =>
    stronglyConnectedComponents(Object.keys(edges), (n) => edges[n] ?? [])
      .map((c) => c.sort())
      .sort((a, b) => a[0]!.localeCompare(b[0]!));

  it('finds every component, singletons included', () => {
    expect(components({ a: ['b'], b: ['c'], c: ['a', 'd'], d: ['e'], e: ['d'], f: ['a'] })).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
      ['f'],
    ]);
  });

  it('handles a long chain without recursion', () => {
    const edges: Record<string, string[]> = {};
    for (let i = 0; i < 50_000; i++) edges[`n${i}`] = [`n${i + 1}`];
    edges.n50000 = ['n0'];
    expect(stronglyConnectedComponents(Object.keys(edges), (n) => edges[n] ?? [])).toHaveLength(1);
  });
});

describe('partOf', () => {
  it.each([
    ['src/tiktok/client.ts', 'src/tiktok'],
    ['src/identifiers/sha256batch/sha256Batch.ts', 'src/identifiers'],
    ['src/worker.ts', 'src/worker'],
    ['workflows/audience-sync/plan.ts', 'workflows/audience-sync'],
    ['workflows/index.ts', 'workflows/index'],
    ['activities/health.ts', 'activities/health'],
  ])('%s is in %s', (module, part) => {
    expect(partOf(module)).toBe(part);
  });
});

describe('the import check on a planted repository', () => {
  it('finds a file cycle closed by a type-only import', async () => {
    const root = plant({
      'src/x/a.ts': "import { b } from './b';\nexport const a = b + 1;\n",
      'src/x/b.ts': "import { c } from './c';\nexport const b = c + 1;\n",
      'src/x/c.ts': "import type { A } from './a';\nexport const c = 1;\nexport type C = A;\n",
    });
    const graph = await loadImportGraph(root);
    expect(graph.get('src/x/c.ts')).toEqual([{ to: 'src/x/a.ts', typeOnly: true, dynamic: false, builtin: false }]);
    const cycles = fileCycles(graph);
    expect(cycles.map((c) => c.members)).toEqual([['src/x/a.ts', 'src/x/b.ts', 'src/x/c.ts']]);
    expect(cycles[0]!.chains).toEqual([['src/x/a.ts', 'src/x/b.ts', 'src/x/c.ts', 'src/x/a.ts']]);
    expect(folderCycles(graph)).toEqual([]);
  });

  it('finds a folder cycle that no file cycle shows', async () => {
    const root = plant({
      'src/one/a.ts': "import { b } from '../two/b';\nexport const a = b;\n",
      'src/one/c.ts': 'export const c = 3;\n',
      'src/two/b.ts': 'export const b = 2;\n',
      'src/two/d.ts': "import type { C } from '../one/c';\nexport type D = C;\n",
      'src/three/e.ts': "import { a } from '../one/a';\nexport const e = a;\n",
      'workflows/w.ts': "import { e } from '../src/three/e';\nexport const w = e;\n",
    });
    const report = await checkImports(root);
    expect(report.fileCycles).toEqual([]);
    expect(report.folderCycles).toEqual([
      {
        members: ['src/one', 'src/two'],
        chains: [['src/one', 'src/two', 'src/one']],
        via: [['src/one/a.ts → src/two/b.ts', 'src/two/d.ts → src/one/c.ts (type-only)']],
      },
    ]);
    expect(formatReport(report)).toContain('src/one → src/two → src/one');
  });

  it('passes an acyclic repository', async () => {
    const root = plant({
      'src/one/a.ts': "import { b } from '../two/b';\nimport { readFileSync } from 'node:fs';\nexport const a = [b, readFileSync];\n",
      'src/two/b.ts': "import { c } from './c';\nexport const b = c;\n",
      'src/two/c.ts': 'export const c = 1;\n',
      'activities/x.ts': "import { a } from '../src/one/a';\nexport const x = a;\n",
    });
    const report = await checkImports(root);
    expect(problemCount(report)).toBe(0);
    expect(formatReport(report)).toMatch(/no cycles, house in order/);
  });

  it('holds the graph against the house', async () => {
    const root = plant({
      'src/known/pure.ts': "import { other } from './other';\nimport type { T } from './typed';\nexport const pure = other;\nexport type P = T;\n",
      'src/known/other.ts': "import { readFileSync } from 'node:fs';\nexport const other = readFileSync;\n",
      'src/known/typed.ts': 'export type T = string;\n',
      'src/known/clean.ts': "import { z } from 'zod';\nexport const clean = z;\n",
      'src/known/a/b/c/d/e/deep.ts': 'export const deep = 1;\n',
      'src/stray/x.ts': 'export const x = 1;\n',
    });
    const house: House = {
      LIFECYCLES: ['audience-sync'],
      KERNEL: ['src/known'],
      APP: [],
      EMULATOR: 'src/emulator',
      ROOT_FILES: [],
      WORKFLOW_SAFE_MODULES: ['src/known/pure.ts', 'src/known/clean.ts', 'src/known/gone.ts'],
      BOUNDARY_DEPTH: 4,
    };
    const problems = houseProblems(await loadImportGraph(root), house, root);
    expect(problems).toEqual([
      'src/known/a/b/c/d/e/deep.ts: nested 5 folders inside src/known; the lint boundaries see 4 (BOUNDARY_DEPTH)',
      'src/stray (src/stray/x.ts) is not part of the house: add it to LIFECYCLES, KERNEL, APP or ROOT_FILES in eslint.config.mjs so the lint boundaries cover it',
      'src/known/pure.ts is workflow-safe but imports src/known/other.ts as a value, which is not (WORKFLOW_SAFE_MODULES)',
      'src/known/gone.ts is listed in WORKFLOW_SAFE_MODULES but does not exist',
    ]);
  });
});

describe('the project', () => {
  it('has no import cycles (file or folder level) and keeps to the house', async () => {
    const report = await checkImports(ROOT, await loadHouse(ROOT));
    expect(formatReport(report)).toMatch(/no cycles, house in order$/);
  });
});
