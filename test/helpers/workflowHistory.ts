import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

/** The history of every run of a workflow from `firstRunId` on, following continue-as-new. */
export async function* runHistories(client: Client, workflowId: string, firstRunId: string): AsyncGenerator<History> {
  for (let runId: string | undefined = firstRunId; runId; ) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    yield history;
    const last: temporal.api.history.v1.IHistoryEvent | undefined = history.events?.at(-1);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
}

/**
 * A history as text: every string and every payload's bytes decoded as UTF-8, so a privacy
 * check searching it sees what the payloads contain.
 */
export function decodedText(history: History): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return parts.join('\n');
}
