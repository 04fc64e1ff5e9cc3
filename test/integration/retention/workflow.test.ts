import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionStatusQuery, type RetentionRunSummary } from '../../../src/retention/messages';
import type { RetentionReport } from '../../../src/retention/report';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { NoticeOutbox, createNoticeService } from '../../../src/notices';
import { openBlobStore } from '../../../src/storage';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { cliAgainstTestServer } from '../../helpers/cli';
import { dayTotals, expectedAggregate, expectedPartition, parseAggregate, sortRows } from '../../helpers/retentionExpected';
import { testClient, testTemporal, uniqueId } from '../../helpers/temporal';

/*
 * The retention workflow end to end on the dev server: `ttsync retention run` over a
 * generated 9-month dataset in a local folder, the workers (control + data) in this process.
 * Expected results come from test/helpers/retentionExpected.ts, never from the code under test.
 */

let dir: string;
let workers: RunningWorkers;
let connection: NativeConnection;
let client: Client;
const queues = { control: uniqueId('ret-control'), data: uniqueId('ret-data') };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-wf-'));
  connection = await NativeConnection.connect({ address: testTemporal().address });
  // Failure notices go to an outbox of this test's own, sent nowhere (no route).
  const notices = { service: () => createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: testTemporal().namespace }) };
  workers = await createWorkers({ temporal: testTemporal(), connection, roles: ['control', 'data'], taskQueues: queues, shutdownGraceTime: '1s', activityDeps: { notices } });
  client = await testClient();
}, 120_000);
afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await client?.connection.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Dataset {
  root: string;
  configFile: string;
  datasetId: string;
  partitions: Map<string, string>;
  aggregate: string;
}

async function makeDataset(name: string, extra: Record<string, unknown> = {}): Promise<Dataset> {
  const root = join(dir, name);
  const datasetId = uniqueId(name);
  const gen = await generateSyntheticDataset(openBlobStore(root), { start: '2026-01-01', days: 273, rowsPerDay: 12, seed: 9 });
  const configFile = join(dir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify({ ...syntheticDatasetConfig(datasetId, root, join(root, 'audit')), parallelism: 4, ...extra }));
  const partitions = new Map<string, string>();
  for (const k of gen.recordsKeys) partitions.set(k, readFileSync(join(root, k), 'utf8'));
  return { root, configFile, datasetId, partitions, aggregate: readFileSync(join(root, gen.aggregateKey), 'utf8') };
}

async function run(ds: Dataset, args: string[]): Promise<RetentionRunSummary> {
  const r = await cliAgainstTestServer(['retention', 'run', '--config', ds.configFile, '--json', '--task-queue', queues.control, '--data-queue', queues.data, ...args], { timeoutMs: 240_000 });
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RetentionRunSummary;
}

const current = (ds: Dataset): Map<string, string> => new Map([...ds.partitions.keys()].map((k) => [k, readFileSync(join(ds.root, k), 'utf8')]));

function expectExact(ds: Dataset, asOf: string): number {
  let anonymized = 0;
  const now = current(ds);
  for (const [k, text] of ds.partitions) {
    const want = expectedPartition(text, asOf);
    anonymized += want.anonymized;
    expect(now.get(k), k).toBe(want.text);
  }
  const after = parseAggregate(readFileSync(join(ds.root, 'aggregates/installs_by_day.csv'), 'utf8'));
  const original = parseAggregate(ds.aggregate);
  expect(sortRows(after)).toEqual(expectedAggregate(original, asOf));
  expect(dayTotals(after)).toEqual(dayTotals(original));
  return anonymized;
}

describe('retention workflow', { timeout: 300_000 }, () => {
  it('anonymizes exactly the TikTok rows past 6 months, keeps every other byte, audits, and a second run changes nothing', async () => {
    const ds = await makeDataset('exact');
    const first = await run(ds, ['--as-of', '2026-10-01', '--wait']);
    const expected = expectExact(ds, '2026-10-01');
    expect(expected).toBeGreaterThan(200);
    expect(first).toMatchObject({ datasetId: ds.datasetId, asOf: '2026-10-01', dryRun: false, changed: true, rowsAnonymized: expected, scanUpTo: '2026-04-08' });
    // Partitions up to the cutoff + 7 days slack: 1 Jan .. 8 Apr.
    expect(first.objectsScanned).toBe(98);
    expect(first.auditUri).toMatch(/\/audit\/.*\/runs\/2026-10-01_/);
    // One version of each partition, no staging left.
    for (const p of ds.partitions.keys()) expect(readdirSync(join(ds.root, p, '..'))).toEqual(['part-0000.csv']);
    expect(readdirSync(join(ds.root, 'audit', ds.datasetId))).not.toContain('staging');

    const second = await run(ds, ['--as-of', '2026-10-01', '--wait']);
    expect(second).toMatchObject({ changed: false, objectsScanned: 0, objectsChanged: 0, rowsAnonymized: 0, aggregateRowsMoved: 0, objectsSkipped: 98 });
    expectExact(ds, '2026-10-01');

    // The status query of the (closed) run: its summary and the partitions due next.
    const status = await client.workflow.getHandle(`retention:${ds.datasetId}`).query(retentionStatusQuery);
    expect(status).toMatchObject({ phase: 'done', asOf: '2026-10-01', lastRun: { changed: false } });
    expect(status.nextDue).toEqual(['2026-04-01', '2026-04-09']);

    const report = await cliAgainstTestServer(['retention', 'report', '--config', ds.configFile, '--json']);
    expect(report.code, report.stderr).toBe(0);
    const r = JSON.parse(report.stdout) as RetentionReport;
    expect(r).toMatchObject({ datasetId: ds.datasetId, runs: 2, rowsAnonymized: expected });
    expect(r.recent.map((x) => x.changed)).toEqual([false, true]);
    expect(r.lastRun?.objects).toEqual([]);
    const record = JSON.parse(readFileSync(first.auditUri!.replace(/^file:\/\//, ''), 'utf8')) as { objects: { key: string; rowsAnonymized: number; oldSha256: string; newSha256: string }[]; oldBytes: string; partitions: string[] };
    expect(record.partitions).toHaveLength(98);
    expect(record.objects.reduce((a, o) => a + o.rowsAnonymized, 0)).toBe(expected);
    expect(record.objects.every((o) => o.rowsAnonymized === 0 || o.oldSha256 !== o.newSha256)).toBe(true);
    expect(record.oldBytes).toMatch(/renam/);
    const text = await cliAgainstTestServer(['retention', 'report', '--config', ds.configFile]);
    expect(text.stdout).toMatch(/2 run\(s\) audited/);
  });

  it('a dry run lists what the next day would change and changes nothing; the real run then does exactly that, and a late partition is caught', async () => {
    const ds = await makeDataset('dry');
    await run(ds, ['--as-of', '2026-10-01', '--wait']);
    const before = current(ds);
    const aggBefore = readFileSync(join(ds.root, 'aggregates/installs_by_day.csv'), 'utf8');
    const dry = await run(ds, ['--as-of', '2026-10-02', '--dry-run']);
    expect(current(ds)).toEqual(before);
    expect(readFileSync(join(ds.root, 'aggregates/installs_by_day.csv'), 'utf8')).toBe(aggBefore);
    const delta = [...ds.partitions].reduce((a, [, t]) => a + expectedPartition(t, '2026-10-02').anonymized - expectedPartition(t, '2026-10-01').anonymized, 0);
    expect(delta).toBeGreaterThan(0);
    expect(dry).toMatchObject({ dryRun: true, changed: true, rowsAnonymized: delta, auditUri: null });
    expect(dry.wouldChange!.length).toBeGreaterThan(0);
    expect(dry.wouldMove).toEqual([{ table: 'installs_by_day', key: 'installs_by_day.csv', rowsMoved: expect.any(Number) }]);
    // No audit record for a dry run.
    expect(readdirSync(join(ds.root, 'audit', ds.datasetId, 'runs'))).toHaveLength(1);

    // A partition that arrives late, older than the window, is anonymized on the next run.
    const late = 'records/date=2026-02-10/part-late.csv';
    const lateText = `event_id,network,attribution_time,idfa,ip,campaign\n900001,TikTok for Business – iOS,2026-02-09T08:00:00Z,LATE-IDFA,10.1.1.1,late\n900002,Meta Ads,2026-02-09T08:00:00Z,KEEP,10.1.1.2,x\n`;
    writeFileSync(join(ds.root, late), lateText);
    const real = await run(ds, ['--as-of', '2026-10-02', '--wait']);
    expect(real.rowsAnonymized).toBe(delta + 1);
    expectExact(ds, '2026-10-02');
    expect(readFileSync(join(ds.root, late), 'utf8')).toBe(`event_id,network,attribution_time,idfa,ip,campaign\n900001,Organic,2026-02-09T08:00:00Z,,,\n900002,Meta Ads,2026-02-09T08:00:00Z,KEEP,10.1.1.2,x\n`);
  });

  it('a run that failed on a partition the config does not describe completes with ttsync rerun once the partition is fixed', async () => {
    const ds = await makeDataset('rerun');
    const broken = 'records/date=2026-02-01/part-0000.csv';
    writeFileSync(join(ds.root, broken), ds.partitions.get(broken)!.replace(/^event_id,event_name,network,/, 'event_id,event_name,media_source,'));
    const failed = await cliAgainstTestServer(['retention', 'run', '--config', ds.configFile, '--as-of', '2026-10-01', '--wait', '--task-queue', queues.control, '--data-queue', queues.data], { timeoutMs: 240_000 });
    expect(failed.code, failed.stdout + failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/RetentionDatasetUnreadable: .*date(=|%3D)2026-02-01\/part-0000.csv: the header lacks the column "network"/);
    // The failure was announced once, through the notices outbox.
    const notices = [];
    for await (const n of new NoticeOutbox(openBlobStore(join(dir, 'notices'))).all()) if (n.metadata.subjectId === ds.datasetId) notices.push(n);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ subject: `ttsync retention: the run of dataset ${ds.datasetId} as of 2026-10-01 failed`, metadata: { lifecycle: 'retention', state: 'failed', event: 'entered', workflowId: `retention:${ds.datasetId}` } });
    expect(notices[0]!.text).toMatch(/RetentionDatasetUnreadable: .*the header lacks the column "network"[\s\S]*ttsync rerun retention:/);
    writeFileSync(join(ds.root, broken), ds.partitions.get(broken)!);
    const rerun = await cliAgainstTestServer(['rerun', `retention:${ds.datasetId}`, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const r = JSON.parse(rerun.stdout) as { action: string; newRunId: string };
    expect(r.action).toBe('reset');
    const summary = (await client.workflow.getHandle(`retention:${ds.datasetId}`, r.newRunId).result()) as RetentionRunSummary;
    expect(summary.rowsAnonymized).toBeGreaterThan(0);
    expectExact(ds, '2026-10-01');
  });

  it('refuses a run under another workflow id (WrongWorkflowId) and a config without its wrapper (InvalidConfig)', async () => {
    const ds = await makeDataset('ids');
    const config = JSON.parse(readFileSync(ds.configFile, 'utf8')) as { datasetId: string };
    const failure = async (workflowId: string, input: unknown): Promise<string> => {
      const h = await client.workflow.start('retention', { workflowId, taskQueue: queues.control, args: [input] });
      const err = await h.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as { type?: string; message: string };
      return `${cause.type}: ${cause.message}`;
    };
    expect(await failure(uniqueId('free-id'), { config })).toMatch(/^WrongWorkflowId: .*must run as workflow id "retention:ids-/);
    expect(await failure(`retention:${config.datasetId}`, config)).toMatch(/^InvalidConfig: the input must be \{"config"/);
  });
});
