import { setFlagsFromString } from 'node:v8';
import { ConfigError } from '../config/errors';

/*
 * How far V8 lets the old generation grow past its live size before the next full
 * collection. V8 picks that factor itself after each one (1.1 to 4, by how fast collecting
 * runs against the program), and counts external memory against the limit. A data worker's
 * syncs allocate hundreds of MiB of short-lived buffers, and under them V8 kept its limit
 * about 25 MB above a live heap of 30-40 MB: a 1M-row first sync's prepare ran about 9 full
 * collections and a churn's 2-3, each about 0.1 s of CPU on V8's helper threads. A fixed
 * factor of 2.5 cut that to about 3 and 0-1. In `npm run bench:sync` (1M rows) the first
 * sync took 2.51-2.70 CPU s against 2.81-3.13 with V8's own growth, and churns 0.80-1.00
 * against 0.87-1.23, for a peak RSS up to 40 MiB higher (495 MiB at 10M rows, against
 * 468). Unlike the heap's initial size, V8 reads this factor at every collection, so it can
 * be set once the process runs (no node flag, no relaunch).
 */

export const HEAP_GROWING_PERCENT_ENV = 'TTSYNC_HEAP_GROWING_PERCENT';
/** The old generation may grow to 2.5 times its live size between full collections. */
export const DEFAULT_HEAP_GROWING_PERCENT = 150;
const MAX_PERCENT = 1000;

/** The growth a data worker sets: TTSYNC_HEAP_GROWING_PERCENT (0: V8 chooses, as without ttsync), else the default. */
export function heapGrowingPercentFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[HEAP_GROWING_PERCENT_ENV]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_HEAP_GROWING_PERCENT;
  const v = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(v <= MAX_PERCENT))
    throw new ConfigError(
      `${HEAP_GROWING_PERCENT_ENV} is ${JSON.stringify(env[HEAP_GROWING_PERCENT_ENV])}: give a whole number of percent from 0 (V8's own growth) to ${MAX_PERCENT} (unset: ${DEFAULT_HEAP_GROWING_PERCENT})`,
    );
  return v;
}

/** Sets V8's heap growing factor to 1 + percent/100 for the rest of the process; 0 leaves V8's own. */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
