import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { BlobStore } from '../storage/blobStore';
import { isStorageError } from '../storage/errors';
import { readJsonObject } from '../storage/json';
import type { TrackedEvent } from '../tiktok/types';
import { EventBuilder, type EventReject, type RowOrigin } from './buildEvent';
import type { EventsDestinationConfig } from './config';
import { formatOf, isMalformed, readRowChunks, type InputRow, type MalformedRow, type RowFormat } from './rows';
import { RUNS_PREFIX, runLayout, type RunLayout } from './layout';

/*
 * The data plane of one export run: the input read row by row, each row built into an event
 * or a reject, events packed into batch files of at most 1,000 (TikTok's limit per request)
 * in the run folder, rejects into a CSV beside them, and a manifest written last. A manifest
 * that exists means the run is prepared: a retried activity returns it instead of
 * rebuilding, so batch i always holds the same events and the ledger's acks stay valid.
 */

export const MAX_EVENTS_PER_BATCH = 1000;

export const REJECTS_COLUMNS = ['row', 'line', 'change', 'field', 'column', 'reason', 'detail', 'value'] as const;

export const PreparedRunSchema = z.object({
  format: z.literal(1),
  runId: z.string(),
  input: z.object({ uri: z.string(), format: z.enum(['csv', 'ndjson']).optional() }),
  kind: z.enum(['files', 'audienceTrigger']),
  rows: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  rejected: z.record(z.string(), z.number().int().nonnegative()),
  /** URI of the rejects CSV; null when nothing was rejected. */
  rejectsUri: z.string().nullable(),
  changes: z.object({ enters: z.number().int(), exits: z.number().int(), baseline: z.boolean() }).optional(),
  /** Audience triggers: this snapshot's copy in the run folder, the next run's baseline. */
  snapshotCopy: z.object({ uri: z.string(), format: z.enum(['csv', 'ndjson']) }).optional(),
  /** MD5 of the input's bytes: a scheduled re-export of an unchanged input is skipped by it. */
  inputMd5: z.string().optional(),
  /** The input had the MD5 the request named: nothing was read, built or written. */
  unchanged: z.boolean().optional(),
});
export type PreparedRun = z.infer<typeof PreparedRunSchema>;

export interface PrepareRequest {
  config: EventsDestinationConfig;
  runId: string;
  input: { uri: string; format?: RowFormat };
  /** Audience triggers: the previous snapshot's copy (none: this one is the baseline). */
  previous?: { uri: string; format?: RowFormat } | null;
  /** When the change was found: the time of trigger events without a time column. */
  detectedAtMs: number;
  /**
   * A scheduled re-export: the MD5 of the input the last run exported. The same bytes again
   * are skipped (their events were sent; past TikTok's 48 h dedup window they would count twice).
   */
  unchangedMd5?: string;
}

export interface PrepareDeps {
  /** The run folder's store (the destination's workdir). */
  work: BlobStore;
  /** Opens an input object by URI. */
  openInput(uri: string): { store: BlobStore; key: string };
  nowMs(): number;
  /** Called every few thousand rows (the activity heartbeats). */
  progress?(rows: number): void;
}

/** Batches, rejects and the counts of one run, written as the rows stream by. */
class RunWriter {
  private pending: string[] = [];
  /** Batch writes in flight: the next batch is built while the last ones are written. */
  private writes: Promise<unknown>[] = [];
  private rejectRows: unknown[][] = [];
  private rejectsStarted = false;
  private rejectsChunks: string[] = [];
  batches = 0;
  events = 0;
  readonly rejected: Record<string, number> = {};

  constructor(
    private readonly work: BlobStore,
    private readonly layout: RunLayout,
  ) {}

  /** A promise only when a batch was cut (so the caller awaits once per 1,000 events, not per row). */
  event(e: TrackedEvent): Promise<void> | undefined {
    this.pending.push(JSON.stringify(e));
    this.events++;
    return this.pending.length >= MAX_EVENTS_PER_BATCH ? this.flush() : undefined;
  }

  reject(r: { row: number; line: number; change?: string }, rej: Pick<EventReject, 'field' | 'column' | 'reason' | 'detail' | 'value'>): void {
    this.rejected[rej.reason] = (this.rejected[rej.reason] ?? 0) + 1;
    this.rejectRows.push([r.row, r.line, r.change ?? '', rej.field, rej.column ?? '', rej.reason, rej.detail, rej.value]);
    if (this.rejectRows.length >= 1000) this.spillRejects();
  }

  private spillRejects(): void {
    this.rejectsChunks.push(stringify(this.rejectRows, this.rejectsStarted ? {} : { header: true, columns: [...REJECTS_COLUMNS] }));
    this.rejectsStarted = true;
    this.rejectRows = [];
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const write = this.work.write(this.layout.batchKey(this.batches), `${this.pending.join('\n')}\n`, { contentType: 'application/x-ndjson', md5: false });
    // Awaited below or in finish(); a failure surfaces there, never as an unhandled rejection.
    write.catch(() => undefined);
    this.writes.push(write);
    this.batches++;
    this.pending = [];
    if (this.writes.length >= 4) await this.writes.shift();
  }

  /** Writes what is left; returns the rejects URI (null when none). */
  async finish(): Promise<string | null> {
    await this.flush();
    await Promise.all(this.writes.splice(0));
    if (this.rejectRows.length) this.spillRejects();
    if (!this.rejectsStarted) return null;
    // Rejects are a small share of a run; held in text until now so one object is written once.
    await this.work.write(this.layout.rejectsKey, this.rejectsChunks.join(''), { contentType: 'text/csv' });
    return this.work.uriOf(this.layout.rejectsKey);
  }
}

export async function readManifest(work: BlobStore, layout: RunLayout): Promise<PreparedRun | null> {
  try {
    return await readJsonObject(work, layout.manifestKey, PreparedRunSchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return null;
    throw err;
  }
}

export async function prepareRun(req: PrepareRequest, deps: PrepareDeps): Promise<PreparedRun> {
  const layout = runLayout(req.runId);
  const done = await readManifest(deps.work, layout);
  if (done) return done;
  const c0 = req.config;
  if (req.unchangedMd5) {
    const { store, key } = deps.openInput(req.input.uri);
    if ((await store.md5Of(key)) === req.unchangedMd5)
      return { format: 1, runId: req.runId, input: req.input, kind: c0.input.kind, rows: 0, events: 0, batches: 0, rejected: {}, rejectsUri: null, inputMd5: req.unchangedMd5, unchanged: true };
  }

  const builder = new EventBuilder(req.config);
  const writer = new RunWriter(deps.work, layout);
  const clock = { nowMs: deps.nowMs() };
  const wanted = builder.columns();
  let rows = 0;
  const tick = () => {
    rows++;
    if (rows % 5000 === 0) deps.progress?.(rows);
  };
  const malformed = (r: MalformedRow, change?: string) =>
    writer.reject({ row: r.row, line: r.line, ...(change ? { change } : {}) }, { field: '(row)', column: null, reason: 'malformed_row', detail: r.malformed, value: '' });

  let manifest: PreparedRun;
  const c = req.config;
  if (c.input.kind === 'files') {
    const format = formatOf(req.input.uri, req.input.format ?? c.input.format);
    const { store, key } = deps.openInput(req.input.uri);
    const inputMd5 = await store.md5Of(key);
    for await (const chunk of readRowChunks(await store.openRead(key), format, wanted)) {
      for (const r of chunk) {
        tick();
        if (isMalformed(r)) {
          malformed(r);
          continue;
        }
        const out = builder.build(r.cells, { kind: 'file', rowDigest: r.digest }, clock);
        if ('event' in out) {
          const cut = writer.event(out.event);
          if (cut) await cut;
        } else writer.reject(r, out.reject);
      }
    }
    const rejectsUri = await writer.finish();
    manifest = { format: 1, runId: req.runId, input: req.input, kind: 'files', rows, events: writer.events, batches: writer.batches, rejected: writer.rejected, rejectsUri, inputMd5 };
  } else {
    const trigger = c.input;
    const format = formatOf(req.input.uri, req.input.format ?? trigger.format);
    // The snapshot may be rewritten in place by its exporter: the next run diffs against this copy.
    const src = deps.openInput(req.input.uri);
    const copy = await deps.work.write(layout.snapshotKey(format), await src.store.openRead(src.key), { md5: true });
    const currentDigest = copy.md5;
    const keyOf = (r: InputRow): string | undefined => {
      const v = r.cells[trigger.keyColumn];
      const t = v === undefined || v === null ? '' : typeof v === 'string' ? v.trim() : JSON.stringify(v);
      return t ? t : undefined;
    };
    let previous: { store: BlobStore; key: string; format: RowFormat; digest: string } | null = null;
    if (req.previous) {
      const p = deps.openInput(req.previous.uri);
      previous = { ...p, format: formatOf(req.previous.uri, req.previous.format ?? trigger.format), digest: await p.store.md5Of(p.key) };
    }
    const prevKeys = new Set<string>();
    if (previous) {
      for await (const chunk of readRowChunks(await previous.store.openRead(previous.key), previous.format, wanted))
        for (const r of chunk) {
          if (isMalformed(r)) continue;
          const k = keyOf(r);
          if (k !== undefined) prevKeys.add(k);
        }
    }
    const sendEnters = trigger.on.includes('enter') && (previous !== null || trigger.baseline === 'enter');
    const base = { previousDigest: previous?.digest ?? '', currentDigest, detectedAtMs: req.detectedAtMs };
    const curKeys = new Set<string>();
    let enters = 0;
    let exits = 0;
    for await (const r of rowsOf(await deps.work.openRead(layout.snapshotKey(format)), format, wanted)) {
      tick();
      if (isMalformed(r)) {
        malformed(r, 'enter');
        continue;
      }
      const k = keyOf(r);
      if (k === undefined) {
        writer.reject({ ...r, change: 'enter' }, { field: 'key', column: trigger.keyColumn, reason: 'missing_key', detail: 'the key column is empty', value: '' });
        continue;
      }
      if (curKeys.has(k)) {
        writer.reject({ ...r, change: 'enter' }, { field: 'key', column: trigger.keyColumn, reason: 'duplicate_key', detail: 'the key appears on an earlier row of this snapshot; that row counts', value: k });
        continue;
      }
      curKeys.add(k);
      if (prevKeys.has(k)) continue;
      enters++;
      if (!sendEnters) continue;
      const origin: RowOrigin = { kind: 'change', change: 'enter', key: k, ...base };
      const out = builder.build(r.cells, origin, clock);
      if ('event' in out) await writer.event(out.event);
      else writer.reject({ ...r, change: 'enter' }, out.reject);
    }
    if (previous) {
      const seen = new Set<string>();
      for await (const r of rowsOf(await previous.store.openRead(previous.key), previous.format, wanted)) {
        if (isMalformed(r)) continue;
        const k = keyOf(r);
        if (k === undefined || curKeys.has(k) || seen.has(k)) continue;
        seen.add(k);
        exits++;
        if (!trigger.on.includes('exit')) continue;
        tick();
        // An exit is built from the person's row in the previous snapshot: the new one no longer has it.
        const out = builder.build(r.cells, { kind: 'change', change: 'exit', key: k, ...base }, clock);
        if ('event' in out) await writer.event(out.event);
        else writer.reject({ ...r, change: 'exit' }, out.reject);
      }
    }
    const rejectsUri = await writer.finish();
    manifest = {
      format: 1,
      runId: req.runId,
      input: req.input,
      kind: 'audienceTrigger',
      rows,
      events: writer.events,
      batches: writer.batches,
      rejected: writer.rejected,
      rejectsUri,
      changes: { enters, exits, baseline: previous === null },
      snapshotCopy: { uri: deps.work.uriOf(layout.snapshotKey(format)), format },
      inputMd5: currentDigest,
    };
  }
  await deps.work.write(layout.manifestKey, JSON.stringify(manifest), { contentType: 'application/json' });
  return manifest;
}

/** Rows one by one (trigger diffs: fewer rows, clearer code than the chunked file loop). */
async function* rowsOf(source: AsyncIterable<Uint8Array | string>, format: RowFormat, wanted: readonly string[]): AsyncGenerator<InputRow | MalformedRow> {
  for await (const chunk of readRowChunks(source, format, wanted)) yield* chunk;
}

/** The events of batch i, as stored. */
export async function readBatch(work: BlobStore, layout: RunLayout, index: number): Promise<TrackedEvent[]> {
  const text = (await work.readBuffer(layout.batchKey(index))).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as TrackedEvent);
}

/**
 * Deletes the run folders of a destination but the newest `keep` and those named in
 * `alsoKeep` (the trigger baseline's run, whose snapshot copy the next diff reads). Returns
 * the run ids deleted. Run folders hold batches of personal data: they go once no retry or
 * resume can need them (a finished run's ledger has acknowledged every batch).
 */
export async function deleteOldRuns(work: BlobStore, destinationId: string, keep: number, alsoKeep: readonly string[]): Promise<string[]> {
  const prefix = `${RUNS_PREFIX}${destinationId}.`;
  const byRun = new Map<string, string[]>();
  for await (const o of work.list(prefix)) {
    const runId = o.key.slice(RUNS_PREFIX.length).split('/')[0]!;
    // Another destination whose id extends this one's ("web" and "web-2") is not ours.
    if (!/^\d{6,}$/.test(runId.slice(destinationId.length + 1))) continue;
    byRun.set(runId, [...(byRun.get(runId) ?? []), o.key]);
  }
  const runs = [...byRun.keys()].sort();
  const doomed = runs.slice(0, Math.max(0, runs.length - keep)).filter((r) => !alsoKeep.includes(r));
  for (const r of doomed) for (const key of byRun.get(r) ?? []) await work.delete(key, { ignoreNotFound: true });
  return doomed;
}
