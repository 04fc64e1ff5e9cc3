/*
 * Where one export run keeps its data in the destination's workdir:
 *   events-runs/<runId>/manifest.json          what prepare built (written last)
 *   events-runs/<runId>/batches/000042.ndjson  the events of batch 42 (≤ 1,000)
 *   events-runs/<runId>/ledger/000042.json     TikTok acknowledged batch 42 (and how)
 *   events-runs/<runId>/rejects.csv            rows refused before sending
 *   events-runs/<runId>/tiktok-rejects/000042.csv  events of batch 42 TikTok refused
 *   events-runs/<runId>/snapshot.csv           audience triggers: the next run's baseline
 * Run ids are `<destinationId>.<run number>`: destination ids are slugs without ".".
 */

export const RUNS_PREFIX = 'events-runs/';

const pad = (i: number) => String(i).padStart(6, '0');

export interface RunLayout {
  readonly folder: string;
  readonly manifestKey: string;
  readonly rejectsKey: string;
  readonly ledgerPrefix: string;
  batchKey(index: number): string;
  ledgerKey(index: number): string;
  tiktokRejectsKey(index: number): string;
  snapshotKey(format: 'csv' | 'ndjson'): string;
}

export function runLayout(runId: string): RunLayout {
  if (!/^[a-z0-9-]+\.\d{6,}$/.test(runId)) throw new RangeError(`not an events run id: ${JSON.stringify(runId)}`);
  const folder = `${RUNS_PREFIX}${runId}/`;
  return {
    folder,
    manifestKey: `${folder}manifest.json`,
    rejectsKey: `${folder}rejects.csv`,
    ledgerPrefix: `${folder}ledger/`,
    batchKey: (i) => `${folder}batches/${pad(i)}.ndjson`,
    ledgerKey: (i) => `${folder}ledger/${pad(i)}.json`,
    tiktokRejectsKey: (i) => `${folder}tiktok-rejects/${pad(i)}.csv`,
    snapshotKey: (format) => `${folder}snapshot.${format}`,
  };
}

/** The run id of a destination's n-th run. */
export function eventsRunId(destinationId: string, run: number): string {
  return `${destinationId}.${pad(run)}`;
}
