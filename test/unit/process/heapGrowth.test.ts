import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWING_PERCENT_ENV, heapGrowingPercentFromEnv } from '../../../src/process/heapGrowth';
import { createWorkers } from '../../../src/worker';
import { ROOT } from '../../helpers/cli';

const BUILT = join(ROOT, 'dist', 'src', 'process', 'heapGrowth.js');

// scripts/test builds dist/ before vitest; when this file runs alone after an edit, rebuild.
beforeAll(() => {
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < statSync(join(ROOT, 'src', 'process', 'heapGrowth.ts')).mtimeMs) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // tsc still emits when another module has a type error.
    }
  }
}, 180_000);

/**
 * The growing factor V8 used for the old generation's next limit, from its own trace, in a
 * process that sets the growth as a data worker does (from the environment) and then runs a
 * full collection over a few MB of live objects.
 */
function factorV8Used(value: string | undefined): string {
  const script = `const h = require(${JSON.stringify(BUILT)}); h.applyHeapGrowth(h.heapGrowingPercentFromEnv());
const keep = Array.from({ length: 100000 }, (_, i) => ({ i })); globalThis.gc(); if (!keep.length) process.exit(2);`;
  const env = { ...process.env };
  delete env[HEAP_GROWING_PERCENT_ENV];
  if (value !== undefined) env[HEAP_GROWING_PERCENT_ENV] = value;
  const p = spawnSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
  expect(p.status, p.stderr).toBe(0);
  const m = /\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/.exec(p.stdout);
  expect(m, p.stdout.slice(0, 2000)).not.toBeNull();
  return m![1]!;
}

describe('a data worker sets V8 heap growth', () => {
  afterEach(() => {
    delete process.env[HEAP_GROWING_PERCENT_ENV];
  });

  it('reads TTSYNC_HEAP_GROWING_PERCENT: unset is the default, 0 is V8 own, anything else names what it takes', () => {
    expect(heapGrowingPercentFromEnv({})).toBe(150);
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(150);
    expect(heapGrowingPercentFromEnv({ [HEAP_GROWING_PERCENT_ENV]: ' ' })).toBe(150);
    expect(heapGrowingPercentFromEnv({ [HEAP_GROWING_PERCENT_ENV]: '0' })).toBe(0);
    expect(heapGrowingPercentFromEnv({ [HEAP_GROWING_PERCENT_ENV]: ' 80 ' })).toBe(80);
    expect(heapGrowingPercentFromEnv({ [HEAP_GROWING_PERCENT_ENV]: '1000' })).toBe(1000);
    for (const bad of ['-5', '1.5', '1e3', 'lots', '1001'])
      expect(() => heapGrowingPercentFromEnv({ [HEAP_GROWING_PERCENT_ENV]: bad })).toThrow(
        `TTSYNC_HEAP_GROWING_PERCENT is "${bad}": give a whole number of percent from 0 (V8's own growth) to 1000 (unset: 150)`,
      );
  });

  it('V8 computes its next limit with that factor', () => {
    // Two forced factors V8 would not both pick itself: the setting is what it used.
    expect(factorV8Used('50')).toBe('1.5');
    expect(factorV8Used(undefined)).toBe('2.5');
    expect(factorV8Used('300')).toBe('4.0');
  }, 60_000);

  it('a bad value stops a data worker before it connects', async () => {
    process.env[HEAP_GROWING_PERCENT_ENV] = 'lots';
    await expect(createWorkers({ roles: ['data'], skipSearchAttributeCheck: true })).rejects.toThrow(/TTSYNC_HEAP_GROWING_PERCENT is "lots"/);
  });
});
