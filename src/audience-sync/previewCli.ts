import type { RejectSample } from '../snapshot';
import { connectClient } from '../temporal/connection';
import type { DestinationConfig } from './config';
import type { InputObject } from './messages';
import { nothingToPreview, readPreviewRejects, runAudiencePreview } from './previewClient';
import type { AudienceSyncPreviewResult } from './previewMessages';

/*
 * `ttsync audience sync --dry-run`: runs the destination's preview workflow and prints what a
 * sync would add, remove and reject, with a sample of the rejects read from the rejects file.
 * Counts, reasons, row numbers and URIs only: rejected values stay in the rejects file.
 */

/** Rejects shown by the dry run. */
export const REJECTS_SAMPLE_SIZE = 10;

export interface DryRunOptions {
  config: DestinationConfig;
  snapshot?: InputObject;
  taskQueue: string;
  queues: { data: string; tiktok: string };
  json?: boolean;
  timeoutMs?: number;
}

/** What --json prints: the preview's result and the rejects sample (null when the rejects files could not be read here). */
export type DryRunReport = AudienceSyncPreviewResult & { rejectsSample: RejectSample[] | null };

export async function dryRun(opts: DryRunOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<void> {
  // Before connecting: a config error is the operator's to fix whether or not Temporal is up.
  if (!opts.snapshot && !opts.config.storage.snapshot) throw nothingToPreview(opts.config.destinationId);
  const client = await connectClient();
  let result: AudienceSyncPreviewResult;
  try {
    err.write(`dry run of ${opts.config.destinationId}: nothing is sent to TikTok and nothing is committed\n`);
    result = await runAudiencePreview(client, {
      config: opts.config,
      ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
      taskQueue: opts.taskQueue,
      queues: opts.queues,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  } finally {
    await client.connection.close();
  }
  let rejectsSample: RejectSample[] | null = [];
  if (result.rejectsUris.length && Object.keys(result.rejected).length) {
    try {
      rejectsSample = await readPreviewRejects(result.rejectsUris, REJECTS_SAMPLE_SIZE);
    } catch (e) {
      rejectsSample = null;
      err.write(`note: could not read the rejects sample from ${result.rejectsUris.join(', ')} here: ${(e as Error).message}\n`);
    }
  }
  const report: DryRunReport = { ...result, rejectsSample };
  out.write(opts.json ? JSON.stringify(report) + '\n' : formatDryRun(report));
  if (result.stop) throw new Error(`a sync would stop in ${result.stop.phase}: ${result.stop.message}`);
}

const perType = (r: DryRunReport, key: 'added' | 'removed'): string => {
  const parts = Object.entries(r.byType)
    .filter(([, t]) => t[key] > 0)
    .map(([type, t]) => `${type} ${t[key]}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
};

function rows(pairs: [string, string | number | null | undefined][]): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const w = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(w)}  ${v === null ? '-' : String(v)}`).join('\n') + '\n';
}

export function formatDryRun(r: DryRunReport): string {
  const rejected = Object.entries(r.rejected);
  const after = Object.values(r.byType).reduce((n, t) => n + t.after, 0);
  const text = rows([
    ['destination', r.destinationId],
    ['dry_run', `${r.workflowId}: nothing was sent to TikTok, nothing committed`],
    ['snapshot', `${r.snapshot.uri} (created ${r.snapshot.createdAt}, ${r.snapshot.bytes} bytes${r.stop ? '' : `, ${r.rows} rows`})`],
    ['applied', r.applied.version ? `version ${r.applied.version}: ${r.applied.total} ids${r.applied.audienceId ? ` in audience ${r.applied.audienceId}` : ''}` : 'none yet (this would be the first sync)'],
    ['sync_mode', r.syncMode],
    ...(r.stop
      ? ([
          ['result', r.stop.phase],
          ['why', r.stop.message],
          ['advice', r.stop.advice],
        ] as [string, string][])
      : ([
          ['would_add', `${r.added}${perType(r, 'added')}`],
          ['would_remove', `${r.removed}${r.syncMode === 'addOnly' ? ' (addOnly never removes)' : perType(r, 'removed')}`],
          ['ids_after', after],
          ['rejected', rejected.length ? rejected.map(([k, v]) => `${k} ${v}`).join(', ') : 'none'],
        ] as [string, string | number][])),
    ...r.rejectsUris.map((u, i): [string, string] => [i === 0 ? 'rejects' : '', u]),
  ]);
  if (!r.rejectsSample?.length) return text;
  const sample = r.rejectsSample.map((s) => `  row ${s.row} (line ${s.line})${s.column ? ` column ${s.column}${s.type ? ` (${s.type})` : ''}` : ''}: ${s.reason}${s.detail ? ` - ${s.detail}` : ''}`);
  return `${text}first ${sample.length} rejects (the values are in the rejects file):\n${sample.join('\n')}\n`;
}
