/*
 * Links into the Temporal Web UI, for what the CLI prints. The UI's address is not known to
 * the cluster, so commands take it as a flag (the dev stack's is the default).
 */

/** The Web UI `ttsync dev` serves. */
export const DEFAULT_UI_URL = 'http://127.0.0.1:8233';

/** The page of a workflow (its latest run), or of one run's event history when `runId` is given. */
export function workflowUiUrl(uiUrl: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
