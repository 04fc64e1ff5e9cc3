import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Option, InvalidArgumentError, type Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { UsageError } from '../config/errors';
import { durationMs } from '../config/duration';
import { durationTextFlag } from '../config/durationFlag';
import { storageUriFormOf, storageUriProblem } from '../storage/uriSyntax';
import { connectClient } from '../temporal/connection';
import { EVENTS_TASK_QUEUE, TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds, destinationIdOfEventsWorkflowId } from '../temporal/workflowIds';
import { getEventsStatus, requestEventsExport, waitForEventsRun } from './client';
import { EventsConfigError } from './config';
import { loadEventsConfigFile } from './configFile';
import { eventsPauseSignal, eventsReauthorizedSignal, eventsResumeSignal, type EventsExportStatus, type EventsInputObject } from './messages';

/*
 * `ttsync events export|status|pause|resume|reauthorized`: the operator's way to run and follow
 * the ONE export workflow of an events destination. Only ids, counts, phases and URIs are
 * printed, never events, identifiers or the token.
 */

function inputUri(value: string): string {
  const problem = storageUriProblem(value, { object: true, relativePaths: true });
  if (problem) throw new InvalidArgumentError(`must be gs://bucket/object, file:///absolute/path or a local file path (${problem.why})`);
  return storageUriFormOf(value) === 'path' ? pathToFileURL(resolve(value)).href : value;
}

function destinationArg(value: string): string {
  const v = value.trim();
  const fromId = destinationIdOfEventsWorkflowId(v);
  if (fromId !== undefined) {
    if (!fromId) throw new InvalidArgumentError(`"${v}" names no destination: give events-export:<destinationId> or the destination id`);
    return fromId;
  }
  if (v.includes(':')) throw new InvalidArgumentError(`"${v}" is not a destination id or an events export workflow id (events-export:<destinationId>)`);
  return v;
}

/** The `--json` summary of a run: what `events export --wait --json` prints. */
export interface EventsRunSummary {
  destinationId: string;
  ok: boolean;
  phase: string;
  runId: string | null;
  sent: number;
  rejected: Record<string, number>;
  batches: number;
  requests: number;
  partialFailures: number;
  retries: number;
  rejectsUris: string[];
  error: { type: string | null; message: string } | null;
}

export function runSummary(s: EventsExportStatus, ok: boolean): EventsRunSummary {
  const r = ok ? s.lastRun : null;
  return {
    destinationId: s.destinationId,
    ok,
    phase: s.phase,
    runId: r?.runId ?? null,
    sent: r?.sent ?? 0,
    rejected: r?.rejected ?? {},
    batches: r?.batches ?? 0,
    requests: r?.requests ?? 0,
    partialFailures: r?.partialFailures ?? 0,
    retries: r?.retries ?? 0,
    rejectsUris: r?.rejectsUris ?? [],
    error: ok ? null : s.lastError ? { type: s.lastError.type, message: s.lastError.message } : { type: null, message: `the run ended in ${s.phase}` },
  };
}

function formatSummary(x: EventsRunSummary): string {
  const rejected = Object.entries(x.rejected).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const lines = [
    `${x.ok ? 'exported' : 'FAILED'} ${x.destinationId}${x.runId ? ` run ${x.runId}` : ''}: ${x.sent} events sent in ${x.batches} batches (${x.requests} requests, ${x.retries} retries, ${x.partialFailures} partial failures)`,
    `rejected: ${rejected}`,
    ...x.rejectsUris.map((u) => `rejects: ${u}`),
    ...(x.error ? [`error: ${x.error.type ?? ''} ${x.error.message}`.trim()] : []),
  ];
  return lines.join('\n') + '\n';
}

function formatStatus(s: EventsExportStatus): string {
  const r = s.lastRun;
  const lines = [
    `destination ${s.destinationId} (${s.source} ${s.eventSourceId}): ${s.paused ? 'paused, ' : ''}${s.phase}${s.currentRunId ? ` (run ${s.currentRunId})` : ''}`,
    `runs: ${s.runs}; queued: ${s.queued.length ? s.queued.join(', ') : 'nothing'}; next scheduled: ${s.nextRunAt || 'not set'}`,
    r
      ? `last run ${r.runId} (${r.input.uri}): ${r.sent} sent of ${r.events} events, ${r.batches} batches, ${r.requests} requests, ${r.retries} retries, ${r.partialFailures} partial failures; rejected ${Object.entries(r.rejected).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`
      : 'last run: none yet',
    ...(r?.rejectsUris ?? []).map((u) => `rejects: ${u}`),
    ...(s.baseline ? [`baseline snapshot: ${s.baseline.uri}`] : []),
    ...(s.lastError ? [`last error (${s.lastError.phase}, ${s.lastError.at}): ${s.lastError.type ?? ''} ${s.lastError.message}`] : []),
    ...(s.advice ? [`advice: ${s.advice}`] : []),
  ];
  return lines.join('\n') + '\n';
}

interface ExportOpts {
  config: string;
  file?: string;
  snapshot?: string;
  format?: 'csv' | 'ndjson';
  wait?: boolean;
  json?: boolean;
  timeout?: string;
  cadence?: string;
  taskQueue: string;
  dataQueue: string;
  eventsQueue: string;
}

export function registerEventsCommand(program: Command, summary: string): void {
  const events = program.command('events').description(summary);

  events
    .command('export')
    .description("Start the destination's export workflow, or signal the running one, to export an event file (or a snapshot for audience triggers) now")
    .requiredOption('--config <file>', 'events destination config (JSON)')
    .option('--file <uri>', 'event file to export (gs://, file:// or a path); default the config\'s input.uri', inputUri)
    .option('--snapshot <uri>', 'profile snapshot for an audience trigger; default the config\'s input.snapshot', inputUri)
    .addOption(new Option('--format <format>', 'input format (default: from the file name)').choices(['csv', 'ndjson']))
    .option('--wait', 'wait for the run to end, then print a summary')
    .option('--json', 'with --wait: print the summary as one JSON object')
    .option('--timeout <duration>', 'with --wait: stop waiting after this long (the run goes on)', durationTextFlag)
    .option('--cadence <duration>', 'when the workflow is started: how often it exports the config\'s input again (default 1h)', durationTextFlag)
    .option('--task-queue <name>', 'control task queue the workflow runs on', TaskQueues.control)
    .option('--data-queue <name>', 'task queue of the data activities', TaskQueues.data)
    .option('--events-queue <name>', 'task queue of the Events API activities', EVENTS_TASK_QUEUE)
    .action(async (opts: ExportOpts) => {
      if (opts.file && opts.snapshot) throw new UsageError('--file and --snapshot are two kinds of input: give one');
      if (opts.json && !opts.wait) throw new UsageError('--json prints the summary of a finished run: use it with --wait');
      if (opts.timeout && !opts.wait) throw new UsageError('--timeout bounds --wait: use it with --wait');
      let config;
      try {
        config = await loadEventsConfigFile(opts.config);
      } catch (err) {
        if (err instanceof EventsConfigError) throw new UsageError(err.message);
        throw err;
      }
      if (opts.file && config.input.kind !== 'files') throw new UsageError(`${opts.config} exports audience triggers: give --snapshot, not --file`);
      if (opts.snapshot && config.input.kind !== 'audienceTrigger') throw new UsageError(`${opts.config} exports event files: give --file, not --snapshot`);
      const uri = opts.file ?? opts.snapshot;
      const input: EventsInputObject | undefined = uri ? { uri, ...(opts.format ? { format: opts.format } : {}) } : undefined;
      if (!input && !(config.input.kind === 'files' ? config.input.uri : config.input.snapshot))
        throw new UsageError(`nothing to export: give ${config.input.kind === 'files' ? '--file' : '--snapshot'}, or set ${config.input.kind === 'files' ? 'input.uri' : 'input.snapshot'} in ${opts.config}`);
      const client = await connectClient();
      try {
        const req = await requestEventsExport(client, {
          config,
          ...(input ? { input } : {}),
          taskQueue: opts.taskQueue,
          queues: { data: opts.dataQueue, events: opts.eventsQueue },
          ...(opts.cadence ? { timing: { cadence: opts.cadence } } : {}),
        });
        if (!opts.wait) {
          process.stdout.write(`requested ${req.workflowId}\nfollow it: ttsync events status ${config.destinationId}\n`);
          return;
        }
        process.stderr.write(`requested ${req.workflowId}; waiting for the run of request ${req.requestId}\n`);
        let lastPhase = '';
        const { status, ok } = await waitForEventsRun(client, config.destinationId, req.requestId, {
          timeoutMs: opts.timeout ? (durationMs(opts.timeout) ?? 0) : 24 * 3_600_000,
          onStatus: (s) => {
            if (s.phase !== lastPhase) process.stderr.write(`phase: ${s.phase}${s.advice ? ` (${s.advice})` : ''}\n`);
            lastPhase = s.phase;
          },
        });
        const summary = runSummary(status, ok);
        process.stdout.write(opts.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
        if (!ok) throw new Error(`the export run ended in ${summary.phase}: ${summary.error?.message ?? 'see the summary'}`);
      } finally {
        await client.connection.close();
      }
    });

  events
    .command('status')
    .description("Show the status of a destination's export workflow: phase, last run counts, rejects, last error")
    .argument('<destinationId>', 'the destination id, or its workflow id events-export:<destinationId>', destinationArg)
    .option('--json', 'print the status as one JSON object')
    .action(async (destinationId: string, opts: { json?: boolean }) => {
      const client = await connectClient();
      try {
        const s = await getEventsStatus(client, destinationId);
        process.stdout.write(opts.json ? JSON.stringify(s) + '\n' : formatStatus(s));
      } finally {
        await client.connection.close();
      }
    });

  for (const [name, signal, what] of [
    ['pause', eventsPauseSignal, 'Hold runs that have not started (a run in progress finishes)'],
    ['resume', eventsResumeSignal, 'Resume after pause; also retries a step parked for reauthorization'],
    ['reauthorized', eventsReauthorizedSignal, 'The token secret was replaced: the parked step runs again'],
  ] as const) {
    events
      .command(name)
      .description(what)
      .argument('<destinationId>', 'the destination id, or its workflow id events-export:<destinationId>', destinationArg)
      .action(async (destinationId: string) => {
        const client = await connectClient();
        try {
          await client.workflow.getHandle(WorkflowIds.eventsExport(destinationId)).signal(signal);
          process.stdout.write(`signalled ${name} to ${WorkflowIds.eventsExport(destinationId)}\n`);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new Error(`no events export workflow for destination "${destinationId}"`);
          throw err;
        } finally {
          await client.connection.close();
        }
      });
  }
}
