import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { writerIdOf } from './workflowIds';

export interface NamedHistory {
  workflowId: string;
  history: History;
  /** Where it came from, for messages. */
  source: string;
}

export interface ReplayOutcome {
  workflowId: string;
  source: string;
  ok: boolean;
  /** e.g. DeterminismViolationError: the command the code produced differs from the history. */
  error?: string;
}

/**
 * Reads a history saved by ttsync or by `temporal workflow show --output json`. A history
 * carries no workflow id of its own, and a workflow may check its id (the single writers
 * do): ttsync saves it beside the events, and files without one replay under their name.
 */
export function loadHistoryFile(path: string): NamedHistory {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read history ${path}: ${(err as Error).message}`);
  }
  const { workflowId, ...rest } = (parsed ?? {}) as { events?: unknown[]; workflowId?: unknown };
  if (!Array.isArray(rest.events) || rest.events.length === 0) throw new Error(`${path} is not a workflow history (no "events")`);
  const history = historyFromJSON(rest);
  const id = typeof workflowId === 'string' && workflowId ? workflowId : (writerIdOfHistory(history) ?? basename(path).replace(/\.json$/, ''));
  return { workflowId: id, history, source: path };
}

/** A single writer's id from its first event's input (plain JSON payloads only). */
function writerIdOfHistory(history: History): string | undefined {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const type = started?.workflowType?.name;
  if (!payload?.data || !type || new TextDecoder().decode(payload.metadata?.encoding ?? new Uint8Array()) !== 'json/plain') return undefined;
  try {
    return writerIdOf(type, JSON.parse(new TextDecoder().decode(payload.data)));
  } catch {
    return undefined;
  }
}

export async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<NamedHistory> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return { workflowId, history, source: `server:${workflowId}${runId ? `/${runId}` : ''}` };
}

export function serializeHistory(history: History, workflowId?: string): string {
  // Pretty-printed so that a re-recorded history diffs readably in review.
  return JSON.stringify({ ...(workflowId ? { workflowId } : {}), ...JSON.parse(historyToJSON(history)) }, null, 2) + '\n';
}

/** Replays each history against the current workflow code; one failure does not hide the others. */
export async function replayAll(
  options: ReplayWorkerOptions,
  histories: NamedHistory[],
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for await (const r of Worker.runReplayHistories(
    options,
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  )) {
    const h = histories.find((x) => x.workflowId === r.workflowId && !outcomes.some((o) => o.source === x.source));
    outcomes.push({
      workflowId: r.workflowId,
      source: h?.source ?? r.workflowId,
      ok: !r.error,
      error: r.error ? `${(r.error as Error).name}: ${(r.error as Error).message}` : undefined,
    });
  }
  return outcomes;
}
