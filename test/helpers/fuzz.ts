import type { Parameters } from 'fast-check';

/*
 * Every fuzz suite runs with one fixed seed (TTSYNC_FUZZ_SEED overrides it) and a time budget
 * per property, so CI is reproducible and bounded. A failure prints fast-check's report with
 * `seed` and `path`: rerun with TTSYNC_FUZZ_SEED=<seed> (and the path in the report's
 * parameters) to get the same shrunk case.
 */
export const FUZZ_SEED = Number(process.env.TTSYNC_FUZZ_SEED ?? 20261218);

/** `numRuns` cases, or fewer when `budgetMs` runs out first (a loaded machine runs fewer, never fails for it). */
export function fuzzParams<T>(numRuns: number, budgetMs: number): Parameters<T> {
  return { seed: FUZZ_SEED, numRuns, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, endOnFailure: true };
}
