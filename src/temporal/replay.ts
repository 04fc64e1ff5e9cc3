import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

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

/** Reads a history saved by ttsync or by `temporal workflow show --output json`. */
export function loadHistoryFile(path: string): NamedHistory {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read history ${path}: ${(err as Error).message}`);
  }
  const events = (parsed as { events?: unknown[] } | null)?.events;
  if (!Array.isArray(events) || events.length === 0) throw new Error(`${path} is not a workflow history (no "events")`);
  return { workflowId: basename(path).replace(/\.json$/, ''), history: historyFromJSON(parsed), source: path };
}

export async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<NamedHistory> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return { workflowId, history, source: `server:${workflowId}${runId ? `/${runId}` : ''}` };
}

export function serializeHistory(history: History): string {
  // Pretty-printed so that a re-recorded history diffs readably in review.
  return JSON.stringify(JSON.parse(historyToJSON(history)), null, 2) + '\n';
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
    const h = histories.find((x) => x.workflowId === r.workflowId);
    outcomes.push({
      workflowId: r.workflowId,
      source: h?.source ?? r.workflowId,
      ok: !r.error,
      error: r.error ? `${(r.error as Error).name}: ${(r.error as Error).message}` : undefined,
    });
  }
  return outcomes;
}
