// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';

// ---------------------------------------------------------------------------------------
// The house. ONE description of the project's parts, read by the import boundaries below
// and by scripts/check-imports.ts (cycles, unclassified parts, workflow-safe closure).
// A part is a folder or a file (without extension), relative to the repository root.
// ---------------------------------------------------------------------------------------

/**
 * The lifecycles. Each one owns src/<lc>/, workflows/<lc>/, activities/<lc>/,
 * test/unit/<lc>/ and test/integration/<lc>/, and never imports another lifecycle.
 */
export const LIFECYCLES = ['audience-sync', 'events-export', 'san-migration', 'usage-report', 'retention'];

/** Shared building blocks: they import no lifecycle, no workflows/activities, no app layer, no emulator. */
export const KERNEL = [
  'src/temporal',
  'src/storage',
  'src/tiktok',
  'src/identifiers',
  'src/snapshot',
  'src/config',
  'src/util',
  'src/process',
  'src/paths',
  'src/version',
  'src/notices',
  'src/marketplace',
];

/** The app layer: may import anything in src/, and nothing but the app layer imports it. */
export const APP = ['src/cli', 'src/worker'];

/** The TikTok emulator: its own part; only src/cli, test/ and scripts/ import it. */
export const EMULATOR = 'src/emulator';

/** The bundle entry, the health workflow, the notices sweeper and the composition of activities (kernel-wide, no lifecycle). */
export const ROOT_FILES = ['workflows/index', 'workflows/healthCheck', 'workflows/noticesSweep', 'activities/index', 'activities/health', 'activities/notices'];

/**
 * The workflow-safe modules: the ONLY files of src/ that workflows/ may import as values.
 * Each must be deterministic and pure (no I/O, no Node built-ins, no process), and may import
 * as values only other files of this list (scripts/check-imports.ts verifies the closure).
 * Anything else in src/ (and activities/) is imported by workflows as types only.
 */
export const WORKFLOW_SAFE_MODULES = [
  'src/temporal/searchAttributes.ts',
  'src/temporal/taskQueues.ts',
  'src/temporal/workflowIds.ts',
  'src/temporal/lifecycleMetrics.ts',
  'src/tiktok/errorTypes.ts',
  'src/tiktok/types.ts',
  'src/tiktok/limits.ts',
  'src/config/duration.ts',
  'src/config/errors.ts',
  'src/config/secretRef.ts',
  'src/storage/uriSyntax.ts',
  'src/storage/uriSchema.ts',
  'src/audience-sync/config.ts',
  'src/audience-sync/failures.ts',
  'src/audience-sync/messages.ts',
  'src/events-export/config.ts',
  'src/events-export/failures.ts',
  'src/events-export/messages.ts',
  'src/events-export/layout.ts',
  'src/audience-sync/signalPayloads.ts',
  'src/audience-sync/alerts.ts',
  'src/identifiers/schema.ts',
  'src/san-migration/model.ts',
  'src/san-migration/failures.ts',
  'src/san-migration/messages.ts',
  'src/san-migration/plan.ts',
  'src/san-migration/status.ts',
  'src/identifiers/reasons.ts',
  'src/notices/schema.ts',
  'src/notices/failures.ts',
  'src/tiktok/networks.ts',
  'src/marketplace/dataMarketplace.ts',
  'src/usage-report/failures.ts',
  'src/usage-report/messages.ts',
  'src/usage-report/month.ts',
  'src/retention/config.ts',
  'src/retention/failures.ts',
  'src/retention/messages.ts',
  'src/retention/window.ts',
];

/**
 * Relative specifiers are matched exactly: one block per folder depth, so that each block
 * knows how many '../' lead out of its part. Files nested deeper than this get no
 * boundary rules (scripts/check-imports.ts reports them).
 */
export const BOUNDARY_DEPTH = 4;

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const MESSAGES = {
  lifecycle: 'Lifecycles are independent: a lifecycle never imports another lifecycle (src/, workflows/ or activities/ of it).',
  kernel: 'The kernel imports no lifecycle, no workflows/ or activities/, no app layer (src/cli, src/worker) and no src/emulator, not even types.',
  logic: "A lifecycle's src/ imports no workflows/ or activities/, not even types: signals, queries and status types live in src/<lifecycle>/messages.ts.",
  workflowSafe: 'Workflows import as values only the workflow-safe modules of src/ (WORKFLOW_SAFE_MODULES in eslint.config.mjs); anything else in src/ as types only (import type …).',
  activities: 'Workflows import activities as types only (import type …); call them through proxyActivities.',
  emulator: 'Only src/cli, test/ and scripts/ import src/emulator.',
  app: 'The app layer (src/cli, src/worker) is on top: nothing outside it imports it.',
  builtins: 'Workflows are deterministic: no Node built-ins.',
};

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const EXT = '(?:\\.[cm]?[jt]s)?';

/**
 * The relative specifier (without ending) by which a file in `base` plus `ups` unknown
 * folder levels reaches `target`.
 * @param {string} base @param {number} ups @param {string} target
 */
function specifier(base, ups, target) {
  const rel = posix.relative(base, target);
  if (ups > 0) return '../'.repeat(ups) + rel;
  return rel.startsWith('..') ? rel : `./${rel}`;
}

/**
 * The same target spelled up to the repository root and down again ('../../src/cli' from
 * src/storage), which is not the shortest specifier but resolves to the same module.
 * @param {string} base @param {number} ups @param {string} target
 */
function viaRoot(base, ups, target) {
  return '../'.repeat(ups + base.split('/').length) + target;
}

/**
 * A no-restricted-imports pattern forbidding `targets` (parts) from files in `base` + `ups`.
 * @param {string} base @param {number} ups @param {string[]} targets @param {string} message
 * @param {boolean} [allowTypeImports]
 */
function forbid(base, ups, targets, message, allowTypeImports = false) {
  const alternatives = targets.flatMap((t) => [specifier(base, ups, t), viaRoot(base, ups, t)]).map(escapeRegex);
  return {
    regex: `^(?:${alternatives.join('|')})(?:/|${EXT}$)`,
    caseSensitive: true,
    allowTypeImports,
    message,
  };
}

/**
 * Workflows: value imports of src/ only for the workflow-safe files.
 * @param {string} base @param {number} ups
 */
function workflowSafeOnly(base, ups) {
  const src = `(?:${escapeRegex(specifier(base, ups, 'src'))}|${escapeRegex(viaRoot(base, ups, 'src'))})`;
  const allowed = WORKFLOW_SAFE_MODULES.map((f) => escapeRegex(posix.relative('src', f).replace(/\.ts$/, '')));
  return {
    regex: `^${src}(?:$|/(?!(?:${allowed.join('|')})${EXT}$))`,
    caseSensitive: true,
    allowTypeImports: true,
    message: MESSAGES.workflowSafe,
  };
}

/** The boundaries match plain relative paths; '/../' or '/./' inside one would slip past them. */
const NO_DETOURS = {
  regex: '^\\.{1,2}/(?:\\.\\./)*[^.].*/\\.{1,2}(?:/|$)',
  caseSensitive: true,
  message: "Write relative imports without '/./' or '/../' after a folder name: the import boundaries match plain paths.",
};

const others = (lc) => LIFECYCLES.filter((other) => other !== lc);
const inEveryArea = (lcs) => lcs.flatMap((lc) => [`src/${lc}`, `workflows/${lc}`, `activities/${lc}`]);

/**
 * The patterns for one group of importers (`base` + `ups` levels).
 * @typedef {'src' | 'kernel' | 'logic' | 'workflows' | 'lifecycleWorkflows' | 'activities' | 'lifecycleActivities'} Group
 * @param {Group} group @param {string} base @param {number} ups @param {string} [lc]
 */
function patternsFor(group, base, ups, lc) {
  const p = [];
  switch (group) {
    case 'kernel':
      p.push(forbid(base, ups, [...inEveryArea(LIFECYCLES), 'workflows', 'activities', ...APP, EMULATOR], MESSAGES.kernel));
      p.push(NO_DETOURS);
      return p;
    case 'logic':
      p.push(forbid(base, ups, inEveryArea(others(/** @type {string} */ (lc))), MESSAGES.lifecycle));
      p.push(forbid(base, ups, ['workflows', 'activities'], MESSAGES.logic));
      break;
    case 'lifecycleWorkflows':
    case 'lifecycleActivities':
      p.push(forbid(base, ups, inEveryArea(others(/** @type {string} */ (lc))), MESSAGES.lifecycle));
      break;
    default:
      break;
  }
  if (group === 'workflows' || group === 'lifecycleWorkflows') {
    p.push(forbid(base, ups, ['activities'], MESSAGES.activities, true));
    p.push(workflowSafeOnly(base, ups));
  }
  p.push(forbid(base, ups, APP, MESSAGES.app));
  p.push(forbid(base, ups, [EMULATOR], MESSAGES.emulator));
  p.push(NO_DETOURS);
  return p;
}

/**
 * One config block per depth below `base` (a folder part), or one for a file part.
 * @param {Group} group @param {string} part @param {{ lc?: string, ignores?: string[] }} [opts]
 */
function boundaryBlocks(group, part, opts = {}) {
  const isWorkflow = group === 'workflows' || group === 'lifecycleWorkflows';
  const paths = isWorkflow ? nodeBuiltins.map((name) => ({ name, message: MESSAGES.builtins })) : [];
  /** @param {string[]} files @param {string} base @param {number} ups */
  const block = (files, base, ups) => ({
    files,
    ...(opts.ignores ? { ignores: opts.ignores } : {}),
    rules: { 'no-restricted-imports': ['error', { paths, patterns: patternsFor(group, base, ups, opts.lc) }] },
  });
  if (existsSync(join(import.meta.dirname, `${part}.ts`))) return [block([`${part}.ts`], posix.dirname(part), 0)];
  return Array.from({ length: BOUNDARY_DEPTH + 1 }, (_, ups) => block([`${part}/${'*/'.repeat(ups)}*.ts`], part, ups));
}

/**
 * Import boundaries, generated from the lists above. A later block replaces the rule's
 * options of an earlier one for the same file, so each group's patterns are complete:
 * first the catch-alls per area, then kernel and lifecycle groups.
 */
const boundaries = [
  ...boundaryBlocks('src', 'src', { ignores: ['src/cli/**', 'src/emulator/**', 'src/worker.ts'] }),
  ...boundaryBlocks('workflows', 'workflows'),
  ...boundaryBlocks('activities', 'activities'),
  ...KERNEL.flatMap((part) => boundaryBlocks('kernel', part)),
  ...LIFECYCLES.flatMap((lc) => [
    ...boundaryBlocks('logic', `src/${lc}`, { lc }),
    ...boundaryBlocks('lifecycleWorkflows', `workflows/${lc}`, { lc }),
    ...boundaryBlocks('lifecycleActivities', `activities/${lc}`, { lc }),
  ]),
  // src/worker.ts (app layer): only the emulator rule applies.
  {
    files: ['src/worker.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [forbid('src', 0, [EMULATOR], MESSAGES.emulator)] }] },
  },
];

export default tseslint.config(
  { ignores: ['eslint.config.mjs', 'dist/**', 'node_modules/**', '.data/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...boundaries,
  {
    // Workflows must be deterministic: no I/O and no Node built-ins (the import side is in
    // the boundaries above: built-ins, activities as types only, workflow-safe src/ modules).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Workflows are deterministic: no process.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
        { name: 'fetch', message: 'Workflows do no I/O: call an activity.' },
        { name: 'require', message: 'Workflows use static imports only.' },
      ],
    },
  },
);
