import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoticeService } from '../../../src/notices';
import type { RetentionRunSummary } from '../../../src/retention/messages';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore } from '../../../src/storage';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { startMailpit, type Mailpit, type MailpitSummary } from '../../helpers/mailpit';
import { testClient, testTemporal, uniqueId } from '../../helpers/temporal';

/*
 * Retention's alert states in a real Mailpit (SMTP), on the dev server with real workers:
 * each failed run is announced, and the first successful run after a failure announces once
 * that it cleared; later runs send nothing. Keys and Message-IDs are computed here from the
 * documented rules (`retention:<datasetId>:<failed run id>:cleared`,
 * `<first 40 hex of sha256(key)>@notices.ttsync`).
 */

let dir: string;
let mailpit: Mailpit;
let workers: RunningWorkers;
let connection: NativeConnection;
let client: Client;
const queues = { control: uniqueId('ret-alerts-control'), data: uniqueId('ret-alerts-data') };
const TO = 'mmp-data@acme.example';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-alerts-'));
  mailpit = await startMailpit();
  connection = await NativeConnection.connect({ address: testTemporal().address });
  const notices = {
    service: () =>
      createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: { url: mailpit.smtpUrl, from: 'ttsync <alerts@ttsync.example>' }, uiBaseUrl: 'http://ui.example:8233', namespace: testTemporal().namespace }),
  };
  workers = await createWorkers({ temporal: testTemporal(), connection, roles: ['control', 'data'], taskQueues: queues, shutdownGraceTime: '1s', activityDeps: { notices } });
  client = await testClient();
}, 120_000);
afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await client?.connection.close();
  await mailpit?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const messageIdOf = (key: string): string => `${createHash('sha256').update(key).digest('hex').slice(0, 40)}@notices.ttsync`;

describe('retention alerts', () => {
  it('announces each failed run, then once that the failure cleared on the next successful run, and nothing after', { timeout: 300_000 }, async () => {
    const root = join(dir, 'ds');
    const datasetId = uniqueId('alerts');
    const gen = await generateSyntheticDataset(openBlobStore(root), { start: '2026-01-01', days: 20, rowsPerDay: 10, seed: 4 });
    const config = { ...syntheticDatasetConfig(datasetId, root, join(root, 'audit')), alerts: { email: [TO] } };
    const broken = gen.recordsKeys[3]!;
    const original = readFileSync(join(root, broken), 'utf8');
    writeFileSync(join(root, broken), original.replace(/^event_id,event_name,network,/, 'event_id,event_name,media_source,'));
    const workflowId = `retention:${datasetId}`;
    const runOnce = async (asOf: string, dryRun = false): Promise<{ runId: string; result: RetentionRunSummary | Error }> => {
      const h = await client.workflow.start('retention', { workflowId: dryRun ? `retention-dry-run:${datasetId}` : workflowId, taskQueue: queues.control, args: [{ config, asOf, queues: { data: queues.data }, ...(dryRun ? { dryRun } : {}) }] });
      const result = await (h.result() as Promise<RetentionRunSummary>).catch((e: unknown) => e as Error);
      return { runId: h.firstExecutionRunId, result };
    };
    const mine = async (): Promise<MailpitSummary[]> => (await mailpit.list()).filter((m) => m.Subject.includes(datasetId)).reverse();

    // Two failing days: each run is announced (the data is as the failure left it).
    const first = await runOnce('2026-08-01');
    expect(first.result).toBeInstanceOf(WorkflowFailedError);
    const second = await runOnce('2026-08-02');
    expect(second.result).toBeInstanceOf(WorkflowFailedError);
    const failed = await mine();
    expect(failed.map((m) => m.Subject)).toEqual([
      `ttsync retention: the run of dataset ${datasetId} as of 2026-08-01 failed`,
      `ttsync retention: the run of dataset ${datasetId} as of 2026-08-02 failed`,
    ]);
    expect(failed.map((m) => m.MessageID)).toEqual([messageIdOf(`${workflowId}:${first.runId}:failed`), messageIdOf(`${workflowId}:${second.runId}:failed`)]);
    expect(failed[0]!.To.map((t) => t.Address)).toEqual([TO]);

    // A dry run neither clears nor announces anything.
    writeFileSync(join(root, broken), original);
    const dry = await runOnce('2026-08-03', true);
    expect(dry.result).toMatchObject({ dryRun: true });
    expect(await mine()).toHaveLength(2);

    // The first successful run clears the alert opened by the first failure, once.
    const ok = await runOnce('2026-08-03');
    expect(ok.result).toMatchObject({ changed: true });
    const afterOk = await mine();
    expect(afterOk).toHaveLength(3);
    const cleared = afterOk[2]!;
    expect(cleared.Subject).toBe(`ttsync retention: dataset ${datasetId} runs again; the failure as of 2026-08-01 is cleared`);
    expect(cleared.MessageID).toBe(messageIdOf(`${workflowId}:${first.runId}:cleared`));
    const text = (await mailpit.message(cleared.ID)).Text;
    expect(text).toContain(`the failure of run ${first.runId} as of 2026-08-01 (RetentionDatasetUnreadable) is cleared`);
    expect(text).toContain(`http://ui.example:8233/namespaces/${testTemporal().namespace}/workflows/${encodeURIComponent(workflowId)}`);

    // Later successful runs have nothing to clear.
    const again = await runOnce('2026-08-04');
    expect(again.result).toMatchObject({ dryRun: false });
    expect(await mine()).toHaveLength(3);
  });
});
