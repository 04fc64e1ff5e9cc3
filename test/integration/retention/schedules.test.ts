import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionRunSummary } from '../../../src/retention/messages';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore } from '../../../src/storage';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { cliAgainstTestServer } from '../../helpers/cli';
import { expectedPartition } from '../../helpers/retentionExpected';
import { testClient, testTemporal, uniqueId } from '../../helpers/temporal';

/*
 * `ttsync schedules apply --lifecycle retention`: one daily Schedule per dataset, idempotent;
 * triggered, its tick starts retention:<datasetId>, which runs to the end. Bad usage exits 2.
 */

let dir: string;
let workers: RunningWorkers;
let connection: NativeConnection;
let client: Client;
const queues = { control: uniqueId('ret-sched-control'), data: uniqueId('ret-sched-data') };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-sched-'));
  connection = await NativeConnection.connect({ address: testTemporal().address });
  workers = await createWorkers({ temporal: testTemporal(), connection, roles: ['control', 'data'], taskQueues: queues, shutdownGraceTime: '1s' });
  client = await testClient();
}, 120_000);
afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await client?.connection.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('retention schedules and CLI usage', { timeout: 180_000 }, () => {
  it('creates one daily schedule per dataset, unchanged on a second apply; a tick starts the run', async () => {
    const datasetId = uniqueId('sched');
    await generateSyntheticDataset(openBlobStore(dir), { start: '2026-01-01', days: 5, rowsPerDay: 10, seed: 2 });
    const file = join(dir, 'ds.json');
    writeFileSync(file, JSON.stringify(syntheticDatasetConfig(datasetId, dir, join(dir, 'audit'))));
    const apply = () => cliAgainstTestServer(['schedules', 'apply', '--lifecycle', 'retention', '--config', file, '--task-queue', queues.control, '--data-queue', queues.data, '--json']);
    const first = await apply();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ dryRun: false, cadence: '1d', changes: [{ destinationId: datasetId, scheduleId: `retention-schedule:${datasetId}`, outcome: 'created' }] });
    const second = await apply();
    expect(JSON.parse(second.stdout).changes[0].outcome).toBe('unchanged');

    const handle = client.schedule.getHandle(`retention-schedule:${datasetId}`);
    try {
      const desc = await handle.describe();
      expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'retentionTick', taskQueue: queues.control });
      expect(desc.spec.intervals?.[0]?.every).toBe(86_400_000);
      await handle.trigger();
      // The tick starts retention:<datasetId> as of today; the 2026-01 data is long past the window.
      let result: RetentionRunSummary | undefined;
      const deadline = Date.now() + 120_000;
      while (!result) {
        try {
          result = (await client.workflow.getHandle(`retention:${datasetId}`).result()) as RetentionRunSummary;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      expect(result).toMatchObject({ datasetId, changed: true, objectsScanned: 5 });
      expect(result.rowsAnonymized).toBeGreaterThan(0);
    } finally {
      await handle.delete();
    }
  });

  it('ttsync doctor --lifecycle retention checks the records, the audit folder, what replaced bytes leave behind and the schedule', async () => {
    const root = join(dir, 'doctor');
    await generateSyntheticDataset(openBlobStore(root), { start: '2026-01-01', days: 3, rowsPerDay: 5, seed: 4 });
    const good = join(dir, 'doctor-good.json');
    writeFileSync(good, JSON.stringify(syntheticDatasetConfig('doctor-good', root, join(root, 'audit'))));
    const bad = join(dir, 'doctor-bad.json');
    writeFileSync(bad, JSON.stringify({ ...syntheticDatasetConfig('doctor-bad', root, join(root, 'audit')), records: { uri: join(root, 'records'), format: 'csv', networkColumn: 'media_source' } }));
    const results = async (file: string) => {
      const r = await cliAgainstTestServer(['doctor', '--lifecycle', 'retention', '--config', file, '--task-queue', queues.control, '--data-queue', queues.data, '--json']);
      const out = JSON.parse(r.stdout) as { results: { subject: string; check: string; status: string; message: string }[] };
      return Object.fromEntries(out.results.filter((x) => x.subject.startsWith('doctor-')).map((x) => [x.check, `${x.status}: ${x.message}`]));
    };
    expect(await results(good)).toEqual({
      records: 'ok: 3 objects in 3 partitions, newest 2026-01-03; its header has network and attribution_time',
      audit: expect.stringMatching(/^ok: the audit folder .* can be written, read and listed$/),
      'old-bytes': expect.stringMatching(/^info: .* is a local folder: a replaced file is unlinked/),
      schedule: expect.stringMatching(/^info: no schedule retention-schedule:doctor-good/),
    });
    expect((await results(bad)).records).toMatch(/^fail: .*date(=|%3D)2026-01-03\/part-0000.csv lacks "media_source"/);
  });

  it('ttsync retention generate writes a dataset and its config, which a dry run reads', async () => {
    const out = join(dir, 'generated');
    const gen = await cliAgainstTestServer(['retention', 'generate', '--out', out, '--dataset-id', 'generated', '--days', '10', '--rows-per-day', '20']);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toMatch(/^200 rows in 10 partitions/);
    const config = join(out, 'dataset.json');
    let expected = 0;
    for (let d = 1; d <= 10; d++) expected += expectedPartition(readFileSync(join(out, `records/date=2026-01-${String(d).padStart(2, '0')}/part-0000.csv`), 'utf8'), '2026-12-01').anonymized;
    const dry = await cliAgainstTestServer(['retention', 'run', '--config', config, '--as-of', '2026-12-01', '--dry-run', '--json', '--task-queue', queues.control, '--data-queue', queues.data]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ datasetId: 'generated', dryRun: true, rowsSeen: 200, rowsAnonymized: expected, objectsScanned: 10 });
    expect(expected).toBeGreaterThan(0);
  });

  it.each([
    [['retention', 'run'], /required option '--config <file>' not specified/],
    [['retention', 'run', '--config', '/nonexistent.json'], /invalid retention dataset config \/nonexistent.json:\n {2}\$: the file does not exist/],
    [['retention', 'run', '--config', '/nonexistent.json', '--as-of', '2026-02-30'], /--as-of: "2026-02-30" is not a day YYYY-MM-DD/],
  ])('%j exits 2 with a readable error and starts nothing', async (args, message) => {
    const r = await cliAgainstTestServer(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
