import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoticeService } from '../../../src/notices';
import { RetentionWorkflowType } from '../../../src/retention/messages';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore } from '../../../src/storage';
import { localTemporalSettings } from '../../../src/temporal/connection';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { expectedPartition } from '../../helpers/retentionExpected';
import { ready, useUiSession } from '../../helpers/uiSession';

/*
 * A retention run started from the Temporal Web UI's start-workflow form, as an operator does
 * for a day the Schedule missed: headless Chromium (Debian's package, through playwright-core)
 * against a dev server of this file's own that serves the UI, with real retention workers
 * (control and data) on unique queues and a generated dataset in a local folder. The run's
 * result is read on its page and its status in the Queries tab; both must say what the test
 * computed from the files on its own (test/helpers/retentionExpected.ts), and the files must
 * be exactly that. A start under a wrong workflow id shows the id it must run as. Separate
 * from ui.test.ts (the three other lifecycles) to keep each file's time short.
 */

const STEP_MS = 300_000;
const AS_OF = '2026-10-01';

const session = useUiSession({ name: 'ui-retention' });
const { stepPage, ui } = session;
let workers: RunningWorkers | undefined;
let connection: NativeConnection | undefined;
const queues = { control: `ui-retention-control-${Date.now().toString(36)}`, data: `ui-retention-data-${Date.now().toString(36)}` };

// Registered after the session's hooks: these workers stop before its server does.
beforeAll(async () => {
  const server = session.server();
  connection = await NativeConnection.connect({ address: server.address });
  const notices = { service: () => createNoticeService({ storeUri: join(session.dir(), 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: server.uiUrl ?? '', namespace: session.namespace }) };
  workers = await createWorkers({ temporal: localTemporalSettings(server.address, session.namespace), connection, roles: ['control', 'data'], taskQueues: queues, shutdownGraceTime: '1s', activityDeps: { notices } });
}, 120_000);
afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
});

/** The Result panel of a completed run (pretty-printed JSON). */
const resultShown = (page: Page, workflowId: string): Promise<string> => ui.resultShown(page, workflowId, '"rowsAnonymized"');

/** A top-level number or string of pretty-printed JSON (two-space indent). */
function topField(text: string, name: string): unknown {
  const m = text.match(new RegExp(`^ {2}"${name}": (.*?),?$`, 'm'));
  if (!m?.[1]) throw new Error(`no top-level "${name}" in:\n${text}`);
  return JSON.parse(m[1]) as unknown;
}

describe('the Temporal Web UI starting a retention run', () => {
  let config: ReturnType<typeof syntheticDatasetConfig> | undefined;
  let originals = new Map<string, string>();
  let expected = 0;

  it('starts a retention run from the start-workflow form; its page shows the rows it anonymized, which are exactly the files\' TikTok rows past 6 months', async () => {
    const page = await stepPage('retention-start-from-form');
    const root = join(session.dir(), 'dataset');
    const gen = await generateSyntheticDataset(openBlobStore(root), { start: '2026-03-01', days: 10, rowsPerDay: 30, seed: 12 });
    config = syntheticDatasetConfig(`ui-ret-${Date.now().toString(36)}`, root, join(root, 'audit'));
    originals = new Map(gen.recordsKeys.map((k) => [k, readFileSync(join(root, k), 'utf8')]));
    expected = [...originals.values()].reduce((a, text) => a + expectedPartition(text, AS_OF).anonymized, 0);
    expect(expected).toBeGreaterThan(0);
    const workflowId = WorkflowIds.retention(config.datasetId);
    await ui.startFromForm(page, workflowId, { config, asOf: AS_OF, queues: { data: queues.data } }, { taskQueue: queues.control, workflowType: RetentionWorkflowType.run });
    const result = await resultShown(page, workflowId);
    expect(topField(result, 'rowsAnonymized')).toBe(expected);
    expect(topField(result, 'objectsScanned')).toBe(originals.size);
    expect(topField(result, 'asOf')).toBe(AS_OF);
    for (const [k, text] of originals) expect(readFileSync(join(root, k), 'utf8'), k).toBe(expectedPartition(text, AS_OF).text);
  }, STEP_MS);

  it('shows phase done and the last run in the Queries tab', async () => {
    const page = await stepPage('retention-status-query');
    const c = ready(config);
    const text = await ui.runQuery(page, WorkflowIds.retention(c.datasetId), 'retentionStatus', '"lastRun"');
    expect(topField(text, 'phase')).toBe('done');
    expect(topField(text, 'datasetId')).toBe(c.datasetId);
    expect(text).toMatch(new RegExp(`^ {4}"rowsAnonymized": ${expected},?$`, 'm'));
  }, STEP_MS);

  it('shows the right workflow id when a run is started under a wrong one', async () => {
    const page = await stepPage('retention-wrong-id');
    const c = ready(config);
    const wrongId = `retention-${c.datasetId}`;
    await ui.startFromForm(page, wrongId, { config: c, asOf: AS_OF, queues: { data: queues.data } }, { taskQueue: queues.control, workflowType: RetentionWorkflowType.run });
    const shown = await ui.failureShown(page, wrongId);
    expect(shown).toMatch(/^ {6}"type": "WrongWorkflowId",?$/m);
    const message = shown.match(/^ {4}"message": (".*"),?$/m)?.[1];
    expect(message, shown).toBeDefined();
    expect(JSON.parse(message!)).toContain(`must run as workflow id "${WorkflowIds.retention(c.datasetId)}", not "${wrongId}"`);
  }, STEP_MS);
});
