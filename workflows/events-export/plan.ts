import type { LastEventsRun } from '../../src/events-export/messages';

/*
 * The events export workflow's decisions as pure functions (unit-tested): how a run's batches
 * are cut into sending activities, and how their totals add up.
 */

/** Batches one sending activity takes: 20,000 events, a few seconds of requests, one heartbeat each. */
export const BATCHES_PER_ACTIVITY = 20;
/** Sending activities of one run in flight at once (the task queue's rate limit caps them further). */
export const SENDING_LANES = 4;
/** Finished run folders kept (with their batches, ledger and rejects) for inspection; older ones are deleted. */
export const KEEP_RUNS = 3;

export function sendRanges(batches: number, per = BATCHES_PER_ACTIVITY): Array<{ from: number; to: number }> {
  const out: Array<{ from: number; to: number }> = [];
  for (let from = 0; from < batches; from += per) out.push({ from, to: Math.min(batches, from + per) });
  return out;
}

export interface RangeTotals {
  batches: number;
  skippedBatches: number;
  sent: number;
  rejected: number;
  requests: number;
  partialFailures: number;
  retries: number;
  rejectsUris: string[];
}

export function addTotals(a: RangeTotals, b: RangeTotals): RangeTotals {
  return {
    batches: a.batches + b.batches,
    skippedBatches: a.skippedBatches + b.skippedBatches,
    sent: a.sent + b.sent,
    rejected: a.rejected + b.rejected,
    requests: a.requests + b.requests,
    partialFailures: a.partialFailures + b.partialFailures,
    retries: a.retries + b.retries,
    rejectsUris: [...a.rejectsUris, ...b.rejectsUris],
  };
}

export const NO_TOTALS: RangeTotals = { batches: 0, skippedBatches: 0, sent: 0, rejected: 0, requests: 0, partialFailures: 0, retries: 0, rejectsUris: [] };

/** Rejected by reason: prepare's reasons plus TikTok's lone refusals. */
export function rejectedByReason(prepared: Record<string, number>, byTikTok: number): Record<string, number> {
  const out = { ...prepared };
  if (byTikTok > 0) out.rejected_by_tiktok = (out.rejected_by_tiktok ?? 0) + byTikTok;
  return out;
}

/** A one-line description of a run for the UI's current details. */
export function runLine(r: LastEventsRun | null): string {
  if (!r) return 'no run yet';
  const rejected = Object.values(r.rejected).reduce((a, b) => a + b, 0);
  return `${r.runId}: ${r.sent} sent, ${rejected} rejected, ${r.batches} batches, ${r.requests} requests${r.ok ? '' : ' (failed)'}`;
}
