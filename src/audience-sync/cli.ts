import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CYCLE_STEPS, pauseSignal, reauthorizedSignal, recreateAudienceSignal, resumeSignal, type AudienceSyncPhase, type AudienceSyncStatus, type AudienceSyncTiming, type InputObject } from './messages';
import { WorkflowIds, destinationIdOfWorkflowId } from '../temporal/workflowIds';
import {
  NothingToSyncError,
  cycleSummary,
  getAudienceStatus,
  isParked,
  readAudienceSync,
  requestAudienceSync,
  waitForAudienceCycle,
  type AudienceCycleSummary,
  type AudienceSyncClosure,
} from './client';
import { DestinationConfigError, DestinationIdSchema } from './config';
import { durationMs } from '../config/duration';
import { durationTextFlag } from '../config/durationFlag';
import { storageUriFormOf, storageUriProblem } from '../storage/uriSyntax';
import { loadDestinationConfigFile } from './configFile';
import { connectClient } from '../temporal/connection';
import { TaskQueues } from '../temporal/taskQueues';
import { UsageError } from '../config/errors';
import { openBlobStore } from '../storage';
import { DestinationStillRunningError, defaultRegistryUri, formatReleased, releaseDestination } from './release';
import { dryRun } from './previewCli';

/*
 * `ttsync audience sync|status`: the operator's way to run and follow the ONE sync workflow
 * of a destination. Only ids, counts, phases and URIs are printed, never identifiers or the
 * token (the token is resolved by the TikTok activities from the config's secret reference).
 */

/** A snapshot argument as the workers read it: gs://, file:// or a local path made absolute. */
export function snapshotUri(value: string): string {
  const problem = storageUriProblem(value, { object: true, relativePaths: true });
  if (problem) throw new InvalidArgumentError(`must be gs://bucket/object, file:///absolute/path or a local file path (${problem.why})`);
  return storageUriFormOf(value) === 'path' ? pathToFileURL(resolve(value)).href : value;
}

function isoTime(value: string): string {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(t)) throw new InvalidArgumentError('must be an ISO 8601 time such as 2026-11-21T04:00:00Z');
  return new Date(t).toISOString();
}

const DESTINATION_ARG = 'the destination id of the config, or its workflow id audience-sync:<destinationId>';

/** A destination argument: its id, or the workflow id an operator copied from the UI (`audience-sync:<destinationId>`). */
export function destinationArg(value: string): string {
  const v = value.trim();
  const fromWorkflowId = destinationIdOfWorkflowId(v);
  if (fromWorkflowId !== undefined) {
    if (!fromWorkflowId) throw new InvalidArgumentError(`"${v}" names no destination: give audience-sync:<destinationId> or the destination id`);
  } else if (v.includes(':'))
    throw new InvalidArgumentError(`"${v}" is not a destination id or an audience sync workflow id (audience-sync:<destinationId>); a schedule's or tick's id ends in the destination id`);
  const id = fromWorkflowId ?? v;
  // Checked before any connection: no destination can have another id, and a server that is
  // down would otherwise be the only answer.
  const checked = DestinationIdSchema.safeParse(id);
  if (!checked.success) throw new InvalidArgumentError(`"${id}" is not a destination id: it ${checked.error.issues[0]!.message}`);
  return id;
}

/** Control and activity queues, shared by every command that may start the workflow. */
export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option('--task-queue <name>', 'control task queue the workflow runs on', TaskQueues.control)
    .option('--data-queue <name>', 'task queue of the data-plane activities', TaskQueues.data)
    .option('--tiktok-queue <name>', 'task queue of the TikTok activities', TaskQueues.tiktok);
}

interface SyncOpts {
  config: string;
  snapshot?: string;
  format?: 'csv' | 'ndjson';
  createdAt?: string;
  wait?: boolean;
  json?: boolean;
  timeout?: string;
  taskQueue: string;
  dataQueue: string;
  tiktokQueue: string;
  cadence?: string;
  pollInitial?: string;
  pollMax?: string;
  dryRun?: boolean;
}

export function registerAudienceCommand(program: Command, summary: string): void {
  const audience = program.command('audience')
    .description(summary);

  addQueueOptions(
    audience
      .command('sync')
      .description('Start the destination\'s sync workflow, or signal the running one, to sync a snapshot now')
      .requiredOption('--config <file>', 'destination config (JSON)')
      .option('--snapshot <uri>', "snapshot to sync (gs://, file:// or a path); default the config's storage.snapshot", snapshotUri)
      .addOption(new Option('--format <format>', 'snapshot format (default: from the file name)').choices(['csv', 'ndjson']))
      .option('--created-at <iso-time>', 'when the export was made, if the storage creation time is not it (checked against readinessWindow)', isoTime)
      .option('--wait', 'follow the cycle to its end with a progress line, then print a summary')
      .option('--dry-run', 'preview: print what a sync of the snapshot would add, remove and reject (a sample of the rejects too), with no TikTok call and no commit')
      .option('--json', 'with --wait or --dry-run: print the summary as one JSON object')
      .option('--timeout <duration>', 'with --wait or --dry-run: stop waiting after this long (the sync or dry run goes on)', durationTextFlag),
  )
    .option('--cadence <duration>', 'when the workflow is started: how often it re-syncs storage.snapshot and flushes change batches (default 1h)', durationTextFlag)
    .option('--poll-initial <duration>', 'when started: first TikTok processing poll delay (default 30s)', durationTextFlag)
    .option('--poll-max <duration>', 'when started: longest processing poll delay (default 30m)', durationTextFlag)
    .action(async (opts: SyncOpts) => {
      if (opts.dryRun && opts.wait) throw new UsageError('--dry-run always waits for its counts: drop --wait');
      if (opts.json && !opts.wait && !opts.dryRun) throw new UsageError('--json prints the summary of a finished cycle: use it with --wait');
      if (opts.createdAt && !opts.snapshot) throw new UsageError('--created-at describes --snapshot: give both');
      if (opts.timeout && !opts.wait && !opts.dryRun) throw new UsageError('--timeout bounds --wait: use it with --wait');
      let config;
      try {
        config = await loadDestinationConfigFile(opts.config);
      } catch (err) {
        if (err instanceof DestinationConfigError) throw new UsageError(err.message);
        throw err;
      }
      const snapshot: InputObject | undefined = opts.snapshot ? { uri: opts.snapshot, ...(opts.format ? { format: opts.format } : {}), ...(opts.createdAt ? { createdAt: opts.createdAt } : {}) } : undefined;
      if (opts.dryRun) {
        try {
          await dryRun({
            config,
            ...(snapshot ? { snapshot } : {}),
            taskQueue: opts.taskQueue,
            queues: { data: opts.dataQueue, tiktok: opts.tiktokQueue },
            ...(opts.json ? { json: true } : {}),
            ...(opts.timeout ? { timeoutMs: durationMs(opts.timeout) ?? 0 } : {}),
          });
        } catch (err) {
          if (err instanceof NothingToSyncError) throw new UsageError(err.message);
          throw err;
        }
        return;
      }
      const timing: AudienceSyncTiming = {
        ...(opts.cadence ? { cadence: opts.cadence } : {}),
        ...(opts.pollInitial ? { pollInitial: opts.pollInitial } : {}),
        ...(opts.pollMax ? { pollMax: opts.pollMax } : {}),
      };
      const client = await connectClient();
      try {
        let requested;
        try {
          requested = await requestAudienceSync(client, {
            config,
            ...(snapshot ? { snapshot } : {}),
            taskQueue: opts.taskQueue,
            queues: { data: opts.dataQueue, tiktok: opts.tiktokQueue },
            ...(Object.keys(timing).length ? { timing } : {}),
          });
        } catch (err) {
          if (err instanceof NothingToSyncError) throw new UsageError(err.message);
          throw err;
        }
        const { workflowId, started, cyclesBefore, heldBy, requestId } = requested;
        if (heldBy) process.stderr.write(`note: the sync is queued but held until you act; ${heldBy}\n`);
        if (!opts.wait) {
          process.stdout.write(
            `${started ? 'started' : 'signalled'} ${workflowId}\n` +
              `follow it: ttsync audience status ${config.destinationId}   (or wait: ttsync audience sync --config ${opts.config} --wait)\n`,
          );
          return;
        }
        const progress = new ProgressLine(process.stderr);
        process.stderr.write(`${started ? 'started' : 'signalled'} ${workflowId}; waiting for the cycle that runs request ${requestId}\n`);
        let final: AudienceSyncStatus;
        try {
          final = await waitForAudienceCycle(client, config.destinationId, cyclesBefore, {
            requestId,
            onStatus: (s) => progress.show(s),
            ...(opts.timeout ? { timeoutMs: durationMs(opts.timeout) ?? 0 } : {}),
          });
        } finally {
          progress.end();
        }
        const summary = cycleSummary(final);
        process.stdout.write(opts.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
        if (!summary.ok) throw new Error(`sync ended in ${summary.phase}: ${summary.error?.message ?? 'see the summary'}`);
      } finally {
        await client.connection.close();
      }
    });

  audience
    .command('status')
    .description("Show the status of a destination's sync workflow, or how it ended (failure type and message) when it no longer runs (exit 1 then)")
    .argument('<destinationId>', DESTINATION_ARG, destinationArg)
    .option('--json', 'print the status as one JSON object (a workflow that ended: {running: false, executionStatus, failure, ...})')
    .action(async (destinationId: string, opts: { json?: boolean }) => {
      const client = await connectClient();
      try {
        const state = await readAudienceSync(client, destinationId);
        if (state.running) {
          process.stdout.write(opts.json ? JSON.stringify(state.status) + '\n' : formatStatus(state.status));
          return;
        }
        const c = state.closure;
        process.stdout.write(opts.json ? JSON.stringify({ destinationId, running: false, ...c }) + '\n' : formatClosure(destinationId, c));
        throw new Error(`${c.workflowId} is ${c.executionStatus.toLowerCase()}, not running`);
      } finally {
        await client.connection.close();
      }
    });

  audience
    .command('release')
    .description("Release a retired destination's writer leases on TikTok audiences and its source segment claim, so another destination may take them")
    .argument('<destinationId>', 'the destination id of the retired config (or its workflow id audience-sync:<destinationId>)', destinationArg)
    .option('--registry <uri>', 'the registry folder every worker shares (default: TTSYNC_SEGMENT_REGISTRY, else the local default workdir)')
    .action(async (destinationId: string, opts: { registry?: string }) => {
      const client = await connectClient();
      try {
        const released = await releaseDestination(client, openBlobStore(opts.registry ?? defaultRegistryUri()), destinationId);
        process.stdout.write(formatReleased(destinationId, released));
      } catch (err) {
        if (err instanceof DestinationStillRunningError) throw new UsageError(err.message);
        throw err;
      } finally {
        await client.connection.close();
      }
    });

  for (const c of CONTROL_SIGNALS) {
    audience
      .command(c.command)
      .description(c.description)
      .argument('<destinationId>', DESTINATION_ARG, destinationArg)
      .action(async (destinationId: string) => {
        const client = await connectClient();
        try {
          // Checked first, so a typo in the id is an error rather than a signal to nothing.
          const before = await getAudienceStatus(client, destinationId);
          await client.workflow.getHandle(WorkflowIds.audienceSync(destinationId)).signal(c.signal);
          process.stdout.write(`${c.command}: signalled ${WorkflowIds.audienceSync(destinationId)} (phase was ${before.phase})\n`);
        } finally {
          await client.connection.close();
        }
      });
  }
}

/** Operator controls without arguments, one CLI command each (the UI can send the same signals). */
const CONTROL_SIGNALS = [
  { command: 'pause', signal: pauseSignal, description: 'Pause the sync: no cycle starts until resume (one in progress finishes)' },
  { command: 'resume', signal: resumeSignal, description: 'Resume a paused sync' },
  { command: 'reauthorized', signal: reauthorizedSignal, description: 'Tell a sync parked in reauthorization_required that its token secret was replaced' },
  { command: 'recreate', signal: recreateAudienceSignal, description: 'Let a sync parked in audience_missing create the audience again and send it the whole applied state' },
] as const;

/** The steps of a cycle in the order it runs them; the bar shows how far along the current phase is. */
const STEPS: readonly AudienceSyncPhase[] = CYCLE_STEPS;
const BAR = 20;

/**
 * On a terminal, one line redrawn in place; otherwise (a log, a pipe) one line per change
 * of phase, so logs stay readable. Park advice is always printed on a line of its own.
 */
export class ProgressLine {
  private lastPhase = '';
  private lastDone = 0;
  private runId: string | null = null;
  private lastAdvice = '';
  private drawn = false;
  constructor(private readonly out: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>) {}

  show(s: AudienceSyncStatus): void {
    const step = s.phase === 'replacing' ? STEPS.indexOf('appending') : STEPS.indexOf(s.phase);
    // A new cycle starts the bar again; within one it never moves back (the wait for TikTok
    // after the commit is the cycle's last step, though it comes earlier in STEPS).
    if (s.currentRunId !== null && s.currentRunId !== this.runId) this.lastDone = 0;
    if (s.currentRunId !== null) this.runId = s.currentRunId;
    // A park (or idle before the cycle starts) keeps the bar where it was; an ended cycle fills it.
    const at = step >= 0 ? Math.round(((step + 1) / (STEPS.length + 1)) * BAR) : s.currentRunId === null && s.cycles > 0 ? BAR : this.lastDone;
    const done = Math.max(at, this.lastDone);
    this.lastDone = done;
    const counts = [
      s.audienceId ? `audience ${s.audienceId}` : '',
      s.coverNum !== null && s.isValid !== null ? `cover ${s.coverNum}` : '',
      s.paused ? 'PAUSED (signal resume)' : '',
    ].filter(Boolean);
    const text = `[${'#'.repeat(done)}${'.'.repeat(BAR - done)}] ${s.phase}${counts.length ? `  ${counts.join('  ')}` : ''}`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      this.drawn = true;
    } else if (s.phase !== this.lastPhase) this.out.write(`${text}\n`);
    this.lastPhase = s.phase;
    const advice = isParked(s) || s.paused ? (s.advice ?? (s.paused ? 'the workflow is paused: signal resume to continue' : '')) : '';
    if (advice && advice !== this.lastAdvice) {
      this.out.write(`${this.drawn ? '\n' : ''}${s.phase}: ${advice}${s.lastError ? ` (${s.lastError.message})` : ''}\n`);
      this.drawn = false;
    }
    this.lastAdvice = advice;
  }

  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

const fmtBytes = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const fmtRejected = (r: Record<string, number>): string =>
  Object.keys(r).length
    ? Object.entries(r)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : 'none';

function rows(pairs: [string, string | number | boolean | null | undefined][]): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const w = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(w)}  ${v === null ? '-' : String(v)}`).join('\n') + '\n';
}

export function formatSummary(s: AudienceCycleSummary): string {
  return rows([
    ['destination', s.destinationId],
    ['workflow', `${s.workflowId} (cycle ${s.cycle})`],
    ['result', s.phase],
    ['audience_id', s.audienceId],
    ['added', s.added],
    ['removed', s.removed],
    ['rejected', fmtRejected(s.rejected)],
    ['files', s.files === null ? null : `${s.files} (${fmtBytes(s.bytes ?? 0)})`],
    ['is_valid', s.isValid],
    ['cover_num', s.coverNum],
    ...s.rejectsUris.map((u, i): [string, string] => [i === 0 ? 'rejects' : '', u]),
    ['advice', s.advice ?? undefined],
    ['error', s.error ? `${s.error.type ? `${s.error.type}: ` : ''}${s.error.message}` : undefined],
  ]);
}

const fmtIds = (ids: readonly string[]): string => (ids.length ? ` [request ${ids.join(', ')}]` : '');

/** The requests waiting for a cycle, and what holds them; undefined from workers that do not list them. */
function fmtQueued(s: AudienceSyncStatus): string | undefined {
  const q = s.queued;
  if (!q) return undefined;
  const parts = [
    ...(q.snapshot ? [`snapshot ${q.snapshot.uri ?? "(the config's storage.snapshot)"}${q.snapshot.onCadence ? ' (cadence re-sync, skipped if unchanged)' : ''}${fmtIds(q.snapshot.requestIds)}`] : []),
    ...(q.batches ? [`${q.batches} change batch${q.batches === 1 ? '' : 'es'} (${q.flushRequested ? 'flush asked' : 'flush at the cadence'})${fmtIds(q.flushRequestIds)}`] : []),
    ...(q.recreate ? ['recreate the audience'] : []),
  ];
  if (!parts.length) return 'nothing';
  const held = s.paused ? ' (held: paused, signal resume)' : s.phase === 'audience_missing' && !q.recreate ? ' (held: audience_missing, signal recreate)' : '';
  return parts.join('; ') + held;
}

/** A workflow that no longer runs: how it ended, and the last status it answers if any. */
export function formatClosure(destinationId: string, c: AudienceSyncClosure): string {
  const last = c.lastStatus;
  return rows([
    ['destination', destinationId],
    ['workflow', `${c.workflowId} (run ${c.runId})`],
    ['state', `${c.executionStatus.toLowerCase()}${c.closedAt ? ` at ${c.closedAt}` : ''}, not running`],
    ['failure', c.failure ? `${c.failure.type ? `${c.failure.type}: ` : ''}${c.failure.message}` : undefined],
    ['last_phase', last ? `${last.phase}${last.paused ? ' (paused)' : ''} after ${last.cycles} cycle${last.cycles === 1 ? '' : 's'}` : c.lastStatusUnanswered ? `not known: no worker answered (${c.lastStatusUnanswered})` : undefined],
    ['audience_id', last ? last.audienceId : undefined],
    ['last_error', last?.lastError ? `${last.lastError.at} in ${last.lastError.phase}: ${last.lastError.type ? `${last.lastError.type}: ` : ''}${last.lastError.message}` : undefined],
    ['advice', `${c.executionStatus === 'FAILED' ? 'fix what the failure names, then start' : 'start'} it again: ttsync audience sync --config <destination.json>`],
  ]);
}

export function formatStatus(s: AudienceSyncStatus): string {
  const last = s.lastSync;
  return rows([
    ['destination', s.destinationId],
    ['advertiser', s.advertiserId],
    ['phase', s.phase + (s.paused ? ' (paused)' : '')],
    ['audience_id', s.audienceId],
    ['cycles', s.cycles],
    ['running', s.currentRunId ?? 'no cycle running'],
    ['is_valid', s.isValid],
    ['cover_num', s.coverNum],
    ['pending_batches', s.pendingBatches],
    ['queued', fmtQueued(s)],
    ['next_run_at', s.nextRunAt],
    ['applied_snapshot', s.appliedSnapshot ? `${s.appliedSnapshot.uri} (created ${s.appliedSnapshot.createdAt})` : null],
    [
      'last_sync',
      last ? `${last.kind} ${last.runId} at ${last.finishedAt}: added ${last.added}, removed ${last.removed}, rejected ${fmtRejected(last.rejected)}, ${last.files} files (${fmtBytes(last.bytes)})` : null,
    ],
    ...(last?.rejectsUris ?? []).map((u, i): [string, string] => [i === 0 ? 'rejects' : '', u]),
    ['last_error', s.lastError ? `${s.lastError.at} in ${s.lastError.phase}: ${s.lastError.type ? `${s.lastError.type}: ` : ''}${s.lastError.message}` : null],
    ['advice', s.advice ?? undefined],
    // A failed cycle can go on from its failed step once its cause is fixed (src/audience-sync/rerun.ts).
    ['rerun', s.phase === 'error' && !s.paused && s.currentRunId === null ? `once the cause is fixed: ttsync rerun ${WorkflowIds.audienceSync(s.destinationId)} (the failed cycle goes on from the step that failed)` : undefined],
  ]);
}
