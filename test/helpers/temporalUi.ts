import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { expect, onTestFailed } from 'vitest';

/*
 * Temporal Web UI 2.42.1 (the one Temporal CLI 1.5.1 serves) driven as an operator drives it:
 * its start form, Queries tab, Send a Signal / Send an Update dialogs, workflow list and
 * failure panel, by roles, labels and the UI's data-testid attributes. Every wait is on a
 * condition of the page, so a loaded machine only makes a step slower.
 */

export const CHROMIUM = process.env.TTSYNC_CHROMIUM ?? '/usr/bin/chromium';
/** The flags that keep Chromium off the network it cannot reach here (and off the GPU it does not have). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Longest wait for one condition of the page (the UI's first load and a lifecycle's first run are the slow ones). */
export const UI_WAIT_MS = 120_000;

/** Where a failed step leaves its picture: the directory, and the dev server's log to copy beside it. */
export interface UiArtifacts {
  dir: string;
  serverLog?: () => string | undefined;
}

/** The page of the running step; a step that fails leaves its picture in `artifacts.dir`. */
export async function stepPage(context: BrowserContext, step: string, artifacts: UiArtifacts): Promise<Page> {
  const ARTIFACTS = artifacts.dir;
  const log = artifacts.serverLog?.();
  const page = await context.newPage();
  onTestFailed(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const base = join(ARTIFACTS, step);
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => undefined);
    const tree = await page
      .locator('body')
      .ariaSnapshot()
      .catch((err: unknown) => String(err));
    writeFileSync(`${base}.txt`, `${page.url()}\n\n${tree}\n`);
    if (log && existsSync(log)) copyFileSync(log, join(ARTIFACTS, 'temporal.log'));
    process.stderr.write(`[ui test] step "${step}" failed: screenshot and page tree in ${base}.png / .txt\n`);
  });
  return page;
}

/** Probes until `probe` returns a value; a probe that throws counts as "not yet". */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = UI_WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms` + (last ? `; last error: ${last instanceof Error ? last.message : String(last)}` : ''));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const WORKFLOW_STATUSES = ['Running', 'Completed', 'Failed', 'Continued as New', 'Terminated', 'Canceled', 'Timed Out'];

/** The status badge beside the workflow id: Running, Failed, Continued as New, ... */
export async function workflowStatus(page: Page): Promise<string> {
  const main = page.getByRole('main');
  const badge = WORKFLOW_STATUSES.map((s) => main.getByText(s, { exact: true }))
    .reduce((a, b) => a.or(b))
    .filter({ visible: true })
    .first();
  return (await badge.innerText()).trim();
}

export interface UiOptions {
  /** The UI's base URL, e.g. http://127.0.0.1:8233 (read when a page is opened). */
  baseUrl: () => string;
  namespace: string;
}

export type TemporalUi = ReturnType<typeof temporalUi>;

/** The operator's moves on one UI and namespace. */
export function temporalUi(opts: UiOptions) {
  const uiUrl = (path: string): string => `${opts.baseUrl()}/namespaces/${opts.namespace}/${path}`;

  /** The workflow's page; without a run id the UI opens its latest run (each cycle continues as new). */
  async function openWorkflow(page: Page, workflowId: string): Promise<void> {
    await page.goto(uiUrl(`workflows/${encodeURIComponent(workflowId)}`));
    await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  }

  /** Fills the UI's start-workflow form and submits it; ends on the new workflow's page. */
  async function startFromForm(page: Page, workflowId: string, input: unknown, as: { taskQueue: string; workflowType: string }): Promise<void> {
    await page.goto(uiUrl('workflows'));
    await page.getByRole('button', { name: 'Start Workflow' }).click();
    await page.getByRole('heading', { level: 1, name: 'Start a Workflow' }).waitFor();
    // Typed field by field, leaving each with Tab as a person does (the form reads a field when it is left).
    for (const [label, value] of [
      ['Workflow ID', workflowId],
      ['Task Queue', as.taskQueue],
      ['Workflow Type', as.workflowType],
    ] as const) {
      const field = page.getByRole('textbox', { name: label });
      await field.fill(value);
      await field.press('Tab');
    }
    // The form looks the queue up: our worker polls it.
    await page.getByRole('status').getByText('Task Queue is Active').waitFor();
    // Input > Data is a JSON editor (CodeMirror); the text goes in as a paste would.
    await page.locator('[role=textbox][data-language=json][contenteditable=true]').click();
    await page.keyboard.insertText(JSON.stringify(input, null, 2));
    await page.getByTestId('start-workflow-button').click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).click();
    await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  }

  /** Runs `queryType` in the Queries tab of the workflow's latest run; the answer's text once it shows `marker`. */
  async function runQuery(page: Page, workflowId: string, queryType: string, marker: string): Promise<string> {
    await openWorkflow(page, workflowId);
    await page.getByRole('tab', { name: 'Queries' }).click();
    // The tab preselects the first query the workflow defines; another one is chosen from its list.
    const type = page.getByRole('textbox', { name: 'Query Type' });
    await expect.poll(() => type.inputValue(), { timeout: UI_WAIT_MS }).not.toBe('');
    const preselected = await type.inputValue();
    if (preselected !== queryType) {
      // The list opens from the button that wraps the (disabled) text box and is named by its value.
      await page.getByRole('button', { name: preselected, exact: true }).click();
      await page.getByRole('option', { name: queryType, exact: true }).click();
    }
    await expect.poll(() => type.inputValue(), { timeout: UI_WAIT_MS }).toBe(queryType);
    await page.getByRole('button', { name: 'Run Query' }).click();
    const answer = page.getByTestId('query-result').getByRole('textbox');
    await answer.getByText(marker).first().waitFor();
    return answer.innerText();
  }


  /** More Actions > Send a Signal to the latest run; true once the UI says it was signaled. */
  async function sendSignal(page: Page, workflowId: string, signal: string): Promise<true | undefined> {
    await openWorkflow(page, workflowId);
    if ((await workflowStatus(page)) !== 'Running') return undefined; // between a run and the one it continued as
    await page.getByRole('button', { name: 'More Actions' }).click();
    // The menu is rendered twice (wide and narrow layouts); the visible one is the one to click.
    await page.getByRole('menuitem', { name: 'Send a Signal' }).and(page.locator(':visible')).click();
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByRole('button', { name: 'Select a signal' }).click();
    await dialog.getByRole('option', { name: signal, exact: true }).click();
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await page.getByRole('log').getByText('Workflow signaled.').waitFor({ timeout: 20_000 });
    return true;
  }


  /** The rows (workflow id and status) the workflow list shows for a query typed into its query box. */
  async function searchWorkflows(page: Page, query: string): Promise<{ workflowId: string; status: string }[]> {
    await page.goto(uiUrl('workflows'));
    await page.getByRole('button', { name: 'Add Filter' }).waitFor();
    const box = page.getByRole('searchbox', { name: 'Enter a query' });
    // The raw query box is behind the </> toggle (the UI remembers it open between visits).
    if (!(await box.isVisible())) await page.getByTestId('toggle-manual-query').click();
    await box.fill(query);
    // The list and its count come from the UI server's API; the page shows them once both answered.
    const answered = (path: string) =>
      page.waitForResponse((r) => {
        const url = new URL(r.url());
        return url.pathname.endsWith(`/namespaces/${opts.namespace}/${path}`) && (url.searchParams.get('query') ?? '').startsWith(query) && r.ok();
      });
    const loaded = Promise.all([answered('workflows'), answered('workflow-count')]);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await loaded;
    await page.getByRole('table', { name: 'Workflows' }).waitFor();
    const rows = page.getByTestId('workflows-summary-configurable-table-row');
    // Then the table and the count in the heading agree (a handful of runs: one page).
    const shownCount = async () => Number((await page.getByTestId('workflow-count').innerText()).replace(/\D/g, ''));
    await expect.poll(async () => (await shownCount()) === (await rows.count()), { timeout: UI_WAIT_MS }).toBe(true);
    const out: { workflowId: string; status: string }[] = [];
    for (const row of await rows.all()) {
      const texts = (await row.getByTestId('workflows-summary-table-body-cell').allInnerTexts()).map((t) => t.trim());
      // Columns: Status, Workflow ID, Run ID, Type, Start, End.
      out.push({ status: texts[0] ?? '', workflowId: texts[1] ?? '' });
    }
    return out;
  }


  /** The Result panel's text (pretty-printed JSON) once the run's page shows `status` and the panel shows `marker`. */
  async function resultPanel(page: Page, workflowId: string, status: 'Completed' | 'Failed', marker: string): Promise<string> {
    return until(`${workflowId} shown as ${status}`, async () => {
      await openWorkflow(page, workflowId);
      if ((await workflowStatus(page)) !== status) return undefined;
      const result = page
        .getByTestId('input-and-result')
        .locator('div')
        .filter({ has: page.getByRole('heading', { name: 'Result', exact: true }) })
        .getByRole('textbox');
      await result.getByText(marker).first().waitFor();
      return result.innerText();
    });
  }

  /** The result of a completed run, once its panel shows `marker` (a field name, quoted). */
  const resultShown = (page: Page, workflowId: string, marker: string): Promise<string> => resultPanel(page, workflowId, 'Completed', marker);

  /** The failure the workflow page shows in its Result panel once the run has failed. */
  const failureShown = (page: Page, workflowId: string): Promise<string> => resultPanel(page, workflowId, 'Failed', '"failure"');

  /** More Actions > Send an Update to the latest run: whether the workflow accepted it, and what the UI said. */
  async function sendUpdate(page: Page, workflowId: string, update: string, input: unknown): Promise<{ ok: boolean; text: string } | undefined> {
    await openWorkflow(page, workflowId);
    if ((await workflowStatus(page)) !== 'Running') return undefined;
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send an Update' }).and(page.locator(':visible')).click();
    const dialog = page.getByRole('dialog', { name: 'Send an Update' });
    // The UI lists the updates the workflow declares (its metadata query); the operator picks one.
    await dialog.getByRole('button', { name: 'Select an Update' }).click();
    await dialog.getByRole('option', { name: update, exact: true }).click();
    await dialog.locator('[role=textbox][data-language=json][contenteditable=true]').click();
    await page.keyboard.insertText(JSON.stringify(input, null, 2));
    await dialog.getByRole('button', { name: 'Submit' }).click();
    // Accepted: the dialog closes and a toast says "Update successful" (gone after a few seconds,
    // so the closed dialog counts too: only an accepted update closes it). Refused: the dialog
    // stays, the failure's message as its alert's title; "Update in progress" is an alert too.
    const toast = page.getByRole('log').getByText('Update successful');
    const refused = dialog.getByRole('alert').filter({ hasNotText: 'in progress' });
    return until('the update dialog answered', async () => {
      if (await refused.first().isVisible()) return { ok: false, text: await refused.first().innerText() };
      if (await toast.isVisible()) return { ok: true, text: await toast.innerText() };
      if (!(await dialog.isVisible())) return { ok: true, text: 'dialog closed' };
      return undefined;
    });
  }

  return { uiUrl, openWorkflow, startFromForm, runQuery, sendSignal, searchWorkflows, resultShown, failureShown, sendUpdate };
}
