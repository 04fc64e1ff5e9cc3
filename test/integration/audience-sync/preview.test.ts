import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getAudienceStatus, requestAudienceSync, waitForAudienceCycle, AudienceSyncNotFoundError } from '../../../src/audience-sync/client';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import type { DryRunReport } from '../../../src/audience-sync/previewCli';
import { AudienceSyncWorkflowType } from '../../../src/audience-sync/messages';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { cliAgainstTestServer } from '../../helpers/cli';
import { decodedText } from '../../helpers/workflowHistory';
import { person, range, sha } from '../../helpers/syntheticPeople';
import { uniqueId } from '../../helpers/temporal';

/*
 * `ttsync audience sync --dry-run` as an operator runs it: the CLI is a separate process
 * talking to the real dev server; the workers (control, data, TikTok) run here against the
 * TikTok emulator, whose call log must stay empty while a dry run runs. The expected counts
 * come from the synthetic people's digests, computed here, never from the code under test.
 */

const TOKEN_VAR = 'TTSYNC_TEST_AUDIENCE_PREVIEW_TOKEN';
const harness = useAudienceHarness({
  name: 'preview',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: TOKEN_VAR,
  destinations: { label: 'preview test' },
});
const { taskQueue, queues, issueToken, newAdvertiser, audienceIds, callSeq, callsSince } = harness;
const workflowIds: string[] = [];

afterAll(async () => {
  for (const id of workflowIds) await harness.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
});

function destination(extra: Partial<DestinationConfigInput> = {}): DestinationConfigInput {
  const config = harness.destination(newAdvertiser(), extra);
  workflowIds.push(WorkflowIds.audienceSync(config.destinationId), WorkflowIds.audienceSyncPreview(config.destinationId));
  return config;
}

function writeConfig(config: DestinationConfigInput): string {
  const path = join(harness.dir, `${config.destinationId}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** People `ids` as an export has them, then a bad email (row n+1) and a bad phone (row n+2). */
function writeSnapshot(name: string, ids: number[]): string {
  const lines = ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`), 'not-an-email,', ',123'];
  const path = join(harness.dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return `file://${path}`;
}

/** The digests of people `ids` per TikTok type, computed here. */
function digests(ids: number[]): { EMAIL_SHA256: Set<string>; PHONE_SHA256: Set<string> } {
  return { EMAIL_SHA256: new Set(ids.map((i) => sha(person(i).normalized[0]!))), PHONE_SHA256: new Set(ids.map((i) => sha(person(i).normalized[1]!))) };
}
const minus = (a: Set<string>, b: Set<string>): number => [...a].filter((x) => !b.has(x)).length;
const allDigests = (ids: number[]): string[] => {
  const d = digests(ids);
  return [...d.EMAIL_SHA256, ...d.PHONE_SHA256].sort();
};

const cli = (args: string[], timeoutMs?: number) => cliAgainstTestServer(args, { ...(timeoutMs ? { timeoutMs } : {}) });

const queueFlags = (): string[] => ['--task-queue', taskQueue, '--data-queue', queues.data, '--tiktok-queue', queues.tiktok, '--poll-initial', '100ms', '--poll-max', '1s'];

/** Runs a dry run that must succeed; returns its report and checks that TikTok heard nothing meanwhile. */
async function dryRun(file: string, snapshot: string | null, extra: string[] = []): Promise<{ report: DryRunReport; stderr: string }> {
  const seq = await callSeq();
  const r = await cli(['audience', 'sync', '--config', file, ...(snapshot ? ['--snapshot', snapshot] : []), '--dry-run', '--json', ...extra, ...queueFlags()]);
  expect(r.stderr).not.toMatch(/ttsync:/);
  expect(r.code).toBe(0);
  expect(await callsSince(seq)).toEqual([]);
  return { report: JSON.parse(r.stdout) as DryRunReport, stderr: r.stderr };
}

/** The run folders of a workdir. */
const runFolders = (workdir: string): string[] => (existsSync(join(workdir, 'runs')) ? readdirSync(join(workdir, 'runs')).sort() : []);

describe('ttsync audience sync --dry-run', { timeout: 180_000 }, () => {
  it('before the first sync: no TikTok call, nothing committed or claimed; its counts are those of the sync that follows', async () => {
    const advertiserId = harness.newAdvertiser();
    await issueToken(advertiserId);
    const config = harness.destination(advertiserId);
    workflowIds.push(WorkflowIds.audienceSync(config.destinationId), WorkflowIds.audienceSyncPreview(config.destinationId));
    const file = writeConfig(config);
    const workdir = config.storage!.workdir!;
    const people = range(0, 1200);
    const snapshot = writeSnapshot(`${config.destinationId}-1.csv`, people);

    const { report, stderr } = await dryRun(file, snapshot);
    expect(stderr).toContain('nothing is sent to TikTok and nothing is committed');
    expect(report).toMatchObject({
      destinationId: config.destinationId,
      workflowId: WorkflowIds.audienceSyncPreview(config.destinationId),
      syncMode: 'mirror',
      stop: null,
      applied: { version: null, audienceId: null, total: 0 },
      rows: 1202,
      added: 2400,
      removed: 0,
      byType: {
        EMAIL_SHA256: { input: 1200, applied: 0, added: 1200, removed: 0, after: 1200 },
        PHONE_SHA256: { input: 1200, applied: 0, added: 1200, removed: 0, after: 1200 },
      },
      rejected: { invalid_email: 1, invalid_phone: 1 },
    });
    // The sample comes from the rejects file, without the rejected values.
    expect(report.rejectsSample).toEqual([
      { row: 1201, line: 1202, column: 'email', type: 'EMAIL_SHA256', reason: 'invalid_email', detail: null },
      { row: 1202, line: 1203, column: 'phone', type: 'PHONE_SHA256', reason: 'invalid_phone', detail: null },
    ]);
    expect(JSON.stringify(report)).not.toContain('not-an-email');

    // Not a writer: no sync workflow, no applied state, no segment claim; its run folder holds its rejects file only.
    await expect(getAudienceStatus(harness.client, config.destinationId)).rejects.toBeInstanceOf(AudienceSyncNotFoundError);
    expect(existsSync(join(workdir, 'audiences'))).toBe(false);
    // The registry of segment claims and audience leases (the default workdir here) was not even created.
    expect(existsSync(join(harness.dir, 'default-work'))).toBe(false);
    expect(runFolders(workdir)).toEqual([report.runId]);
    expect(readdirSync(join(workdir, 'runs', report.runId!))).toEqual(['rejects.csv']);
    expect(report.rejectsUris).toEqual([`file://${join(workdir, 'runs', report.runId!, 'rejects.csv')}`]);

    // The text form says the same.
    const text = await cli(['audience', 'sync', '--config', file, '--snapshot', snapshot, '--dry-run', ...queueFlags()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^would_add +2400 \(EMAIL_SHA256 1200, PHONE_SHA256 1200\)$/m);
    expect(text.stdout).toMatch(/^would_remove +0$/m);
    expect(text.stdout).toMatch(/^rejected +invalid_email 1, invalid_phone 1$/m);
    expect(text.stdout).toMatch(/^ {2}row 1201 \(line 1202\) column email \(EMAIL_SHA256\): invalid_email$/m);
    // The second preview deleted the first one's folder.
    const previewRuns = runFolders(workdir);
    expect(previewRuns).toHaveLength(1);
    expect(previewRuns[0]).not.toBe(report.runId);

    // Its history holds counts and URIs: no value of the snapshot, no digest, no token.
    const history = decodedText(await harness.client.workflow.getHandle(WorkflowIds.audienceSyncPreview(config.destinationId)).fetchHistory());
    expect(history).toContain('"destinationId"');
    const personal = [...people.flatMap((i) => [person(i).raw.email, ...person(i).normalized]), ...allDigests(people), 'not-an-email'];
    for (const v of personal) if (history.includes(v)) throw new Error(`the dry run's history contains the personal value ${v}`);
    for (const t of harness.tokens) expect(history.includes(t)).toBe(false);

    // The real sync that follows sends exactly that.
    const seq = await callSeq();
    const sync = await cli(['audience', 'sync', '--config', file, '--snapshot', snapshot, '--wait', '--json', ...queueFlags()]);
    expect(sync.code).toBe(0);
    const summary = JSON.parse(sync.stdout) as { added: number; removed: number; rejected: Record<string, number>; audienceId: string };
    expect({ added: summary.added, removed: summary.removed, rejected: summary.rejected }).toEqual({ added: report.added, removed: report.removed, rejected: report.rejected });
    expect((await callsSince(seq)).length).toBeGreaterThan(0);
    expect(await audienceIds(summary.audienceId)).toEqual(allDigests(people));
    // The writer's garbage collection leaves the preview's folder alone.
    expect(runFolders(workdir).filter((r) => r.startsWith('preview_'))).toEqual(previewRuns);
  });

  it('after a sync: a changed snapshot\'s dry run shows exactly its enters and exits (while the writer runs); the sync then sends those', async () => {
    const advertiserId = harness.newAdvertiser();
    await issueToken(advertiserId);
    const config = harness.destination(advertiserId);
    workflowIds.push(WorkflowIds.audienceSync(config.destinationId), WorkflowIds.audienceSyncPreview(config.destinationId));
    const file = writeConfig(config);
    const before = range(0, 1200);
    const r1 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, before) }, taskQueue, queues, timing: DEFAULT_TIMING });
    const s1 = await waitForAudienceCycle(harness.client, config.destinationId, r1.cyclesBefore, { requestId: r1.requestId!, pollMs: 50 });
    expect(s1.phase).toBe('synced');

    // People 0-149 leave, 1200-1249 arrive.
    const after = range(150, 1250);
    const was = digests(before);
    const now = digests(after);
    const expected = {
      EMAIL_SHA256: { added: minus(now.EMAIL_SHA256, was.EMAIL_SHA256), removed: minus(was.EMAIL_SHA256, now.EMAIL_SHA256) },
      PHONE_SHA256: { added: minus(now.PHONE_SHA256, was.PHONE_SHA256), removed: minus(was.PHONE_SHA256, now.PHONE_SHA256) },
    };
    expect(expected).toEqual({ EMAIL_SHA256: { added: 50, removed: 150 }, PHONE_SHA256: { added: 50, removed: 150 } });
    const changed = writeSnapshot(`${config.destinationId}-2.csv`, after);
    // The writer is running (idle between cycles) all along.
    expect((await harness.client.workflow.getHandle(WorkflowIds.audienceSync(config.destinationId)).describe()).status.name).toBe('RUNNING');
    const { report } = await dryRun(file, changed);
    expect(report.applied).toEqual({ version: expect.any(String), audienceId: s1.audienceId, total: 2400 });
    expect(report.byType).toEqual({
      EMAIL_SHA256: { input: 1100, applied: 1200, ...expected.EMAIL_SHA256, after: 1100 },
      PHONE_SHA256: { input: 1100, applied: 1200, ...expected.PHONE_SHA256, after: 1100 },
    });
    expect({ added: report.added, removed: report.removed }).toEqual({ added: 100, removed: 300 });
    // The dry run moved nothing: the writer's status and applied state are as they were.
    expect(await getAudienceStatus(harness.client, config.destinationId)).toMatchObject({ cycles: 1, phase: 'synced', lastSync: { runId: s1.lastSync!.runId } });

    const r2 = await requestAudienceSync(harness.client, { config, snapshot: { uri: changed }, taskQueue, queues, timing: DEFAULT_TIMING });
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, r2.cyclesBefore, { requestId: r2.requestId!, pollMs: 50 });
    expect(s2.phase).toBe('synced');
    expect({ added: s2.lastSync!.added, removed: s2.lastSync!.removed, rejected: s2.lastSync!.rejected }).toEqual({ added: report.added, removed: report.removed, rejected: report.rejected });
    expect(await audienceIds(s2.audienceId!)).toEqual(allDigests(after));
  });

  it('addOnly: a dry run never counts removes, as the sync never sends them', async () => {
    const advertiserId = harness.newAdvertiser();
    await issueToken(advertiserId);
    const config = harness.destination(advertiserId, { syncMode: 'addOnly' });
    workflowIds.push(WorkflowIds.audienceSync(config.destinationId), WorkflowIds.audienceSyncPreview(config.destinationId));
    const file = writeConfig(config);
    const r1 = await requestAudienceSync(harness.client, { config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 1100)) }, taskQueue, queues, timing: DEFAULT_TIMING });
    await waitForAudienceCycle(harness.client, config.destinationId, r1.cyclesBefore, { requestId: r1.requestId!, pollMs: 50 });
    const changed = writeSnapshot(`${config.destinationId}-2.csv`, range(100, 1200));
    const { report } = await dryRun(file, changed);
    expect(report).toMatchObject({ syncMode: 'addOnly', added: 200, removed: 0 });
    const r2 = await requestAudienceSync(harness.client, { config, snapshot: { uri: changed }, taskQueue, queues, timing: DEFAULT_TIMING });
    const s2 = await waitForAudienceCycle(harness.client, config.destinationId, r2.cyclesBefore, { requestId: r2.requestId!, pollMs: 50 });
    expect({ added: s2.lastSync!.added, removed: s2.lastSync!.removed }).toEqual({ added: report.added, removed: report.removed });
    expect(await audienceIds(s2.audienceId!)).toEqual(allDigests(range(0, 1200)));
  });

  it('one dry run per destination at a time; a stale snapshot says where the sync would stop; bad flags exit 2', async () => {
    const config = destination({ readinessWindow: '1h' });
    const snapshot = writeSnapshot(`${config.destinationId}-1.csv`, range(0, 100));
    const file = writeConfig({ ...config, storage: { ...config.storage, snapshot } });
    const previewId = WorkflowIds.audienceSyncPreview(config.destinationId);

    // A preview that cannot progress (no worker polls its queue) holds the id: a second one is refused.
    await harness.client.workflow.start(AudienceSyncWorkflowType.preview, { workflowId: previewId, taskQueue: uniqueId('nobody-polls'), args: [{ config }] });
    const refused = await cli(['audience', 'sync', '--config', file, '--dry-run', ...queueFlags()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`a dry run of this destination is already running (workflow ${previewId})`);
    await harness.client.workflow.getHandle(previewId).terminate('test: the stuck preview');
    // Once it has ended the id is free again; storage.snapshot is the default snapshot.
    const { report } = await dryRun(file, null);
    expect(report).toMatchObject({ added: 200, snapshot: { uri: snapshot } });

    const stale = await cli(['audience', 'sync', '--config', file, '--snapshot', snapshot, '--created-at', '2020-01-01T00:00:00Z', '--dry-run', '--json', ...queueFlags()]);
    expect(stale.code).toBe(1);
    expect(JSON.parse(stale.stdout)).toMatchObject({ stop: { phase: 'stale_snapshot' }, added: 0, removed: 0, runId: null });
    expect(stale.stderr).toMatch(/ttsync: a sync would stop in stale_snapshot: snapshot .* older than the readiness window \(1h\)/);

    const noSnapshot = await cli(['audience', 'sync', '--config', writeConfig({ ...config, destinationId: `${config.destinationId}-none` }), '--dry-run']);
    expect(noSnapshot.code).toBe(2);
    expect(noSnapshot.stderr).toMatch(/^ttsync: nothing to preview for destination ".*-none": give a snapshot/);
    const both = await cli(['audience', 'sync', '--config', file, '--dry-run', '--wait']);
    expect(both).toMatchObject({ code: 2, stderr: 'ttsync: --dry-run always waits for its counts: drop --wait\n' });
  });
});
