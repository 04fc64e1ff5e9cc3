import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { EVENTS_TASK_QUEUE, TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds } from '../temporal/workflowIds';
import { parseEventsConfig, type EventsDestinationConfig, type EventsDestinationConfigInput } from './config';
import {
  EventsExportWorkflowType,
  eventsExportStatusQuery,
  eventsSyncNowSignal,
  inputLandedSignal,
  type EventsExportInput,
  type EventsExportStatus,
  type EventsExportTiming,
  type EventsInputObject,
} from './messages';

/*
 * The client side of events export: ask the ONE workflow of a destination to export (starting
 * it when missing), follow a run to its end, read its status. Ids, URIs and secret references
 * only, never events or tokens.
 */

export class EventsExportNotFoundError extends Error {
  override name = 'EventsExportNotFoundError';
  constructor(readonly destinationId: string) {
    super(`no events export workflow for destination "${destinationId}" (workflow id ${WorkflowIds.eventsExport(destinationId)}); start one with: ttsync events export --config <events.json>`);
  }
}

export class EventsWaitTimeoutError extends Error {
  override name = 'EventsWaitTimeoutError';
  constructor(
    readonly last: EventsExportStatus | undefined,
    timeoutMs: number,
  ) {
    super(`the export run did not finish within ${Math.round(timeoutMs / 1000)}s (last phase: ${last?.phase ?? 'unknown'}); it keeps running: follow it with ttsync events status ${last?.destinationId ?? ''}`.trim());
  }
}

export interface EventsExportRequest {
  config: EventsDestinationConfig | EventsDestinationConfigInput;
  /** Export this file or snapshot (signal inputLanded); without it, syncNow (the config's input, or a held run). */
  input?: EventsInputObject;
  taskQueue?: string;
  queues?: { data?: string; events?: string };
  timing?: EventsExportTiming;
  onCadence?: boolean;
}

export interface EventsExportRequested {
  workflowId: string;
  requestId: string;
}

export async function requestEventsExport(client: Client, req: EventsExportRequest): Promise<EventsExportRequested> {
  const config = parseEventsConfig(req.config, 'events destination config');
  const workflowId = WorkflowIds.eventsExport(config.destinationId);
  const requestId = randomUUID();
  const args: [EventsExportInput] = [
    {
      config: req.config as EventsDestinationConfigInput,
      queues: { data: req.queues?.data ?? TaskQueues.data, events: req.queues?.events ?? EVENTS_TASK_QUEUE },
      ...(req.timing ? { timing: req.timing } : {}),
    },
  ];
  const start = { taskQueue: req.taskQueue ?? TaskQueues.control, workflowId, args };
  if (req.input) await client.workflow.signalWithStart(EventsExportWorkflowType.export, { ...start, signal: inputLandedSignal, signalArgs: [{ input: req.input, requestId }] });
  else await client.workflow.signalWithStart(EventsExportWorkflowType.export, { ...start, signal: eventsSyncNowSignal, signalArgs: [{ requestId, ...(req.onCadence ? { onCadence: true } : {}) }] });
  return { workflowId, requestId };
}

export async function getEventsStatus(client: Client, destinationId: string): Promise<EventsExportStatus> {
  try {
    return await client.workflow.getHandle(WorkflowIds.eventsExport(destinationId)).query(eventsExportStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new EventsExportNotFoundError(destinationId);
    throw err;
  }
}

/** Polls status until the run answering `requestId` has ended; resolves with that status. */
export async function waitForEventsRun(
  client: Client,
  destinationId: string,
  requestId: string,
  opts: { timeoutMs: number; pollMs?: number; onStatus?: (s: EventsExportStatus) => void },
): Promise<{ status: EventsExportStatus; ok: boolean }> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: EventsExportStatus | undefined;
  for (;;) {
    try {
      last = await getEventsStatus(client, destinationId);
      opts.onStatus?.(last);
      const a = last.answered.find((x) => x.requestId === requestId);
      if (a) return { status: last, ok: a.ok };
      // A run that stopped while sending is held, not answered: report it instead of waiting for a trigger.
      if (last.phase === 'error' && last.currentRunId === null && last.lastError && last.queued.length > 0 && last.lastError.phase === 'sending') return { status: last, ok: false };
    } catch (err) {
      if (!(err instanceof EventsExportNotFoundError)) throw err;
    }
    if (Date.now() > deadline) throw new EventsWaitTimeoutError(last, opts.timeoutMs);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}
