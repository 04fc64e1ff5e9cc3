import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { BlobStore } from '../storage/blobStore';
import { isStorageError } from '../storage/errors';
import { readJsonObject } from '../storage/json';
import { TikTokError } from '../tiktok/errors';
import { TikTokErrorType } from '../tiktok/errorTypes';
import type { EventSource, TrackEventsRequest, TrackedEvent } from '../tiktok/types';
import { EventsDataError, EventsExportFailureType } from './failures';
import { runLayout, type RunLayout } from './layout';
import { readBatch } from './prepare';

/*
 * Sending a run's batches, each one request of ≤ 1,000 events to /event/track/, with a
 * ledger entry in storage once TikTok acknowledged it: a retried or resumed activity skips
 * acknowledged batches, so only a batch in flight at a crash is ever sent twice (with the
 * same event_ids, which TikTok deduplicates). A batch TikTok refuses as a bad request is
 * split in halves until each bad event stands alone: TikTok's per-event error format is
 * UNCONFIRMED, so the split never reads it; the lone bad event goes to the run's TikTok
 * rejects and every other event is sent.
 */

export const LedgerEntrySchema = z.object({
  format: z.literal(1),
  batch: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  sent: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  requests: z.number().int().nonnegative(),
  /** TikTok answered 20001 (partial success) to a request of this batch. */
  partial: z.boolean(),
  /** The batch was refused whole and split. */
  split: z.boolean(),
  retries: z.number().int().nonnegative(),
  rejectsUri: z.string().nullable(),
  requestIds: z.array(z.string()),
  at: z.string(),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

export interface SendRange {
  runId: string;
  /** Batches [from, to) of the run. */
  from: number;
  to: number;
  eventSource: EventSource;
  eventSourceId: string;
  testEventCode?: string;
  partnerName?: string;
}

export interface SendTotals {
  /** Batches of the range acknowledged (now or by an earlier attempt). */
  batches: number;
  skippedBatches: number;
  sent: number;
  rejected: number;
  requests: number;
  partialFailures: number;
  retries: number;
  rejectsUris: string[];
}

export interface SendDeps {
  work: BlobStore;
  track(req: TrackEventsRequest): Promise<{ partial: boolean; requestId: string | null }>;
  /** In-client retries so far (throttles, 5xx, dropped connections). */
  retries(): number;
  heartbeat?(batchesDone: number): void;
  now(): Date;
}

/** Lone events TikTok refused, with nothing accepted, before a run is taken to be refused as a whole. */
export const REFUSED_RUN_THRESHOLD = 8;

export async function readLedgerEntry(work: BlobStore, layout: RunLayout, batch: number): Promise<LedgerEntry | null> {
  try {
    return await readJsonObject(work, layout.ledgerKey(batch), LedgerEntrySchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return null;
    throw err;
  }
}

export async function sendRange(range: SendRange, deps: SendDeps): Promise<SendTotals> {
  const layout = runLayout(range.runId);
  const totals: SendTotals = { batches: 0, skippedBatches: 0, sent: 0, rejected: 0, requests: 0, partialFailures: 0, retries: 0, rejectsUris: [] };
  const add = (e: LedgerEntry) => {
    totals.batches++;
    totals.sent += e.sent;
    totals.rejected += e.rejected;
    totals.requests += e.requests;
    totals.retries += e.retries;
    if (e.partial || e.split) totals.partialFailures++;
    if (e.rejectsUri) totals.rejectsUris.push(e.rejectsUri);
  };
  let loneRefusals = 0;
  for (let b = range.from; b < range.to; b++) {
    const acked = await readLedgerEntry(deps.work, layout, b);
    if (acked) {
      totals.skippedBatches++;
      add(acked);
      deps.heartbeat?.(b - range.from + 1);
      continue;
    }
    const events = await readBatch(deps.work, layout, b);
    const retriesBefore = deps.retries();
    const out = { sent: 0, requests: 0, partial: false, split: false, requestIds: [] as string[], refused: [] as Array<{ index: number; message: string }> };
    const send = async (lo: number, hi: number): Promise<void> => {
      out.requests++;
      try {
        const r = await deps.track({
          eventSource: range.eventSource,
          eventSourceId: range.eventSourceId,
          data: events.slice(lo, hi),
          ...(range.testEventCode ? { testEventCode: range.testEventCode } : {}),
          ...(range.partnerName ? { partnerName: range.partnerName } : {}),
        });
        out.sent += hi - lo;
        if (r.partial) out.partial = true;
        if (r.requestId && out.requestIds.length < 5) out.requestIds.push(r.requestId);
      } catch (err) {
        // Only a refusal of the request's content can be one event's fault; throttles, 5xx,
        // token and permission problems go up to the activity's retry policy or the park.
        if (!(err instanceof TikTokError) || err.type !== TikTokErrorType.InvalidRequest) throw err;
        if (hi - lo > 1) {
          out.split = true;
          const mid = (lo + hi) >>> 1;
          await send(lo, mid);
          await send(mid, hi);
          return;
        }
        out.refused.push({ index: lo, message: err.tiktokMessage });
        if (totals.sent + out.sent === 0 && ++loneRefusals >= REFUSED_RUN_THRESHOLD)
          throw new EventsDataError(
            EventsExportFailureType.RequestRejected,
            `TikTok refused ${loneRefusals} events one by one and accepted none (last answer: ${err.tiktokMessage}): the request itself is wrong (event source id, token, test code), not a row`,
          );
      }
    };
    await send(0, events.length);
    let rejectsUri: string | null = null;
    if (out.refused.length) {
      // Ids, names and TikTok's message only: the events' user data stays in the batch file.
      const rows = out.refused.map((r) => {
        const e: TrackedEvent | undefined = events[r.index];
        return [b, r.index, e?.event_id ?? '', e?.event ?? '', 'rejected_by_tiktok', r.message];
      });
      const key = layout.tiktokRejectsKey(b);
      await deps.work.write(key, stringify(rows, { header: true, columns: ['batch', 'index', 'event_id', 'event', 'reason', 'detail'] }), { contentType: 'text/csv' });
      rejectsUri = deps.work.uriOf(key);
    }
    const entry: LedgerEntry = {
      format: 1,
      batch: b,
      events: events.length,
      sent: out.sent,
      rejected: out.refused.length,
      requests: out.requests,
      partial: out.partial,
      split: out.split,
      retries: deps.retries() - retriesBefore,
      rejectsUri,
      requestIds: out.requestIds,
      at: deps.now().toISOString(),
    };
    // Written only after TikTok's answer: a crash before it sends the batch again, same ids.
    await deps.work.write(layout.ledgerKey(b), JSON.stringify(entry), { contentType: 'application/json' });
    add(entry);
    deps.heartbeat?.(b - range.from + 1);
  }
  return totals;
}
