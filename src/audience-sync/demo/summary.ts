import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoResult, DemoSync } from './run';

const n = (x: number): string => x.toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const pathOf = (uri: string): string => (uri.startsWith('file:') ? fileURLToPath(uri) : uri);

function rejectedText(rejected: Record<string, number>): string {
  const parts = Object.entries(rejected)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, count]) => `${reason} ${n(count)}`);
  const total = Object.values(rejected).reduce((s, c) => s + c, 0);
  return parts.length ? `${n(total)} (${parts.join(', ')})` : '0';
}

function syncLines(s: DemoSync, index: number, workdir: string): string[] {
  const sync = s.status.lastSync;
  const spec = s.snapshot.spec;
  const churn = spec.exitEvery ? `, ${n(Math.ceil(spec.people / spec.exitEvery))} people left and ${n(spec.enters ?? 0)} entered since snapshot ${index}` : '';
  return [
    `snapshot ${index + 1}: ${s.snapshot.path}`,
    `  ${n(s.snapshot.rows)} rows: ${n(s.snapshot.people)} people${churn}, ${n(s.snapshot.rows - s.snapshot.people)} invalid rows; ${n(s.expectedIds)} valid ids`,
    `  sync ${s.status.cycles} (${s.summary.phase}, ${s.seconds.toFixed(1)} s): added ${n(s.summary.added ?? 0)} ids, removed ${n(s.summary.removed ?? 0)} ids, rejected ${rejectedText(s.summary.rejected)}`,
    `  customer files: ${n(s.summary.files ?? 0)} (${mb(s.summary.bytes ?? 0)}) in ${sync ? join(workdir, 'runs', sync.runId, 'files') : workdir}`,
    ...s.summary.rejectsUris.map((u) => `  rejects (row, line, column, reason, value): ${pathOf(u)}`),
  ];
}

/** The demo's report: what was synced, where everything is, and where to look in the UI. */
export function formatDemoSummary(r: DemoResult): string {
  const expected = r.syncs[r.syncs.length - 1]?.expectedIds ?? 0;
  const check = r.emulatorSize === expected ? 'equal to the valid ids of the last snapshot' : `MISMATCH: the last snapshot has ${n(expected)} valid ids`;
  return [
    '',
    'ttsync demo: a synthetic audience synced to the TikTok emulator by the audienceSync workflow',
    '',
    ...r.syncs.flatMap((s, i) => syncLines(s, i, r.workdir)),
    '',
    `audience ${r.audienceId} "${r.audienceName}" of advertiser ${r.advertiserId} in the TikTok emulator: ${n(r.emulatorSize)} ids (${check}); cover_num ${n(r.coverNum)} matched TikTok users`,
    `workdir (shards, diffs, customer files, applied-state manifests): ${r.workdir}`,
    `workflow ${r.workflowId} in the Temporal UI: ${r.workflowUrl}`,
    '',
  ].join('\n');
}
