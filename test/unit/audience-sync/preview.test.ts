import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { collectRunGarbage, layout, type Manifest, type Pointer } from '../../../src/audience-sync';
import { formatDryRun, type DryRunReport } from '../../../src/audience-sync/previewCli';
import { discardPreviewRuns, isPreviewRunOf, previewRunId, trimPreviewRun } from '../../../src/audience-sync/previewRuns';
import { readRejectsSample, rejectsToCsv, type RejectRecord } from '../../../src/snapshot';
import { LocalBlobStore } from '../../../src/storage';
import { WorkflowIds, writerIdOf } from '../../../src/temporal/workflowIds';
import { diffCounts } from '../../../workflows/audience-sync/dataPlane';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-preview-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEMPORAL_RUN = '0192f1a2-3b4c-7d5e-8f60-718293a4b5c6';

describe('dry run ids', () => {
  it('one preview workflow id per destination, derived for replay like the writer\'s', () => {
    expect(WorkflowIds.audienceSyncPreview('vip-buyers')).toBe('audience-sync-preview:vip-buyers');
    expect(writerIdOf('audienceSyncPreview', { config: { destinationId: 'vip-buyers' } })).toBe('audience-sync-preview:vip-buyers');
    expect(writerIdOf('audienceSync', { config: { destinationId: 'vip-buyers' } })).toBe('audience-sync:vip-buyers');
    expect(writerIdOf('audienceSyncTick', { config: { destinationId: 'vip-buyers' } })).toBeUndefined();
  });

  it('preview run ids live in a namespace no writer run id (<destinationId>.<cycle>.<run>) can start with', () => {
    const id = previewRunId('vip-buyers', TEMPORAL_RUN);
    expect(id).toBe('preview_vip-buyers.0192f1a23b4c7d5e8f60718293a4b5c6');
    expect(isPreviewRunOf(id, 'vip-buyers')).toBe(true);
    expect(isPreviewRunOf(id, 'vip')).toBe(false);
    expect(isPreviewRunOf('vip-buyers.000001.abc', 'vip-buyers')).toBe(false);
    // The longest destination id still makes a valid run id.
    expect(isPreviewRunOf(previewRunId('d'.repeat(64), TEMPORAL_RUN), 'd'.repeat(64))).toBe(true);
  });
});

/** A workdir with writer runs of "preview" and "a", preview runs of "a" and "a-b", and an applied state of "a" at its run 1. */
async function fixture(root: string): Promise<LocalBlobStore> {
  const work = new LocalBlobStore(root);
  for (const run of ['a.000001.r1', 'a.000002.r2', 'preview.000001.r1', previewRunId('a', 'old'), previewRunId('a', 'older'), previewRunId('a-b', 'x')]) {
    await work.write(`runs/${run}/prepared.json`, '{}');
    await work.write(`runs/${run}/spill/snapshot/000000.lines`, 'x\n');
    await work.write(`runs/${run}/rejects/snapshot/000000.csv`, '1,2,email,email,invalid_email,,x\n');
    await work.write(`runs/${run}/rejects.csv`, 'row,line,column,type,reason,detail,value\n');
    await work.write(`runs/${run}/diff/000-064.add`, 'x\n');
    await work.write(`runs/${run}/diff/groups/000-064.json`, '{}');
  }
  const manifest: Manifest = {
    schema: 1,
    destinationId: 'a',
    version: '00000001-a.000001.r1',
    seq: 1,
    runId: 'a.000001.r1',
    baseVersion: null,
    audienceId: '1',
    committedAt: new Date().toISOString(),
    types: {},
  };
  const manifestKey = layout.manifest('a', manifest.version);
  await work.write(manifestKey, JSON.stringify(manifest));
  const pointer: Pointer = { schema: 1, version: manifest.version, runId: manifest.runId, manifestKey };
  await work.write(layout.current('a'), JSON.stringify(pointer));
  return work;
}

describe('preview run folders', () => {
  it('the writer\'s garbage collection never sees a preview run, whatever the destination is called', async () => {
    const root = join(dir, 'gc');
    const work = await fixture(root);
    expect(await collectRunGarbage(work, 'a', 0)).toMatchObject({ deletedRuns: 1 });
    expect(readdirSync(join(root, 'runs')).sort()).toEqual(['a.000001.r1', 'preview.000001.r1', previewRunId('a', 'old'), previewRunId('a', 'older'), previewRunId('a-b', 'x')].sort());
  });

  it('a preview beginning deletes only its destination\'s earlier previews; one ending keeps only its rejects files', async () => {
    const root = join(dir, 'own');
    const work = await fixture(root);
    const mine = previewRunId('a', TEMPORAL_RUN);
    await work.write(`runs/${mine}/prepared.json`, '{}');
    expect(await discardPreviewRuns(work, 'a', mine)).toEqual({ deletedRuns: 2, deletedObjects: 12 });
    expect(readdirSync(join(root, 'runs')).sort()).toEqual(['a.000001.r1', 'a.000002.r2', 'preview.000001.r1', mine, previewRunId('a-b', 'x')].sort());
    expect(await discardPreviewRuns(work, 'a', mine)).toEqual({ deletedRuns: 0, deletedObjects: 0 });

    await work.write(`runs/${mine}/rejects.csv`, 'row,line,column,type,reason,detail,value\n');
    await work.write(`runs/${mine}/rejects/snapshot/000000.csv`, '');
    await work.write(`runs/${mine}/diff/000-064.state`, 'x\n');
    const trimmed = await trimPreviewRun(work, 'a', mine);
    expect(trimmed).toEqual({ deletedObjects: 3, kept: [work.uriOf(`runs/${mine}/rejects.csv`)] });
    const left: string[] = [];
    for await (const o of work.list(`runs/${mine}/`)) left.push(o.key);
    expect(left).toEqual([`runs/${mine}/rejects.csv`]);
    // The applied state is untouched.
    expect(await work.exists(layout.current('a'))).toBe(true);
  });

  it('refuses to discard or trim anything but this destination\'s preview runs', async () => {
    const work = await fixture(join(dir, 'refuse'));
    await expect(trimPreviewRun(work, 'a', 'a.000001.r1')).rejects.toThrow(/not a preview run of destination "a"/);
    await expect(trimPreviewRun(work, 'a', previewRunId('a-b', 'x'))).rejects.toThrow(/not a preview run/);
    await expect(discardPreviewRuns(work, 'a', 'a.000002.r2')).rejects.toThrow(/not a preview run/);
    expect(await work.exists('runs/a.000002.r2/prepared.json')).toBe(true);
  });
});

describe('what a sync would send, from the diff\'s counts', () => {
  const totals = (adds: number, removes: number) => ({ input: 10, applied: 8, adds, removes, state: 10 });
  const diffs = [{ totals: { EMAIL_SHA256: totals(3, 1), PHONE_SHA256: totals(2, 0) } }, { totals: { EMAIL_SHA256: totals(1, 4) } }, { totals: {} }];

  it('mirror: every add and every remove, per type and in all', () => {
    expect(diffCounts(diffs, 'mirror')).toEqual({
      added: 6,
      removed: 5,
      byType: { EMAIL_SHA256: { input: 20, applied: 16, added: 4, removed: 5, after: 20 }, PHONE_SHA256: { input: 10, applied: 8, added: 2, removed: 0, after: 10 } },
    });
  });

  it('addOnly never removes', () => {
    const r = diffCounts(diffs, 'addOnly');
    expect(r).toMatchObject({ added: 6, removed: 0 });
    expect(Object.values(r.byType).map((t) => t.removed)).toEqual([0, 0]);
  });
});

describe('the rejects sample', () => {
  const rec = (row: number, extra: Partial<RejectRecord> = {}): RejectRecord => ({ row, line: row + 1, column: 'email', type: 'EMAIL_SHA256', reason: 'invalid_email', value: `bad${row}`, ...extra });

  it('reads the first n records, without values, across quoted newlines, commas and quotes, however the bytes are split', async () => {
    const records = [
      rec(1, { value: 'multi\nline, "quoted" value' }),
      rec(2, { column: null, type: null, reason: 'malformed_row', value: '', detail: 'row has 3 fields; the header has 2' }),
      rec(3, { column: 'phone', type: 'PHONE_SHA256', reason: 'invalid_phone', value: '"' }),
      ...Array.from({ length: 20 }, (_, i) => rec(10 + i)),
    ];
    const csv = rejectsToCsv([], true) + rejectsToCsv(records);
    for (const size of [1, 7, csv.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < csv.length; i += size) chunks.push(Buffer.from(csv.slice(i, i + size)));
      const sample = await readRejectsSample(Readable.from(chunks), 10);
      expect(sample).toHaveLength(10);
      expect(sample.slice(0, 3)).toEqual([
        { row: 1, line: 2, column: 'email', type: 'EMAIL_SHA256', reason: 'invalid_email', detail: null },
        { row: 2, line: 3, column: null, type: null, reason: 'malformed_row', detail: 'row has 3 fields; the header has 2' },
        { row: 3, line: 4, column: 'phone', type: 'PHONE_SHA256', reason: 'invalid_phone', detail: null },
      ]);
      expect(sample[9]!.row).toBe(16);
      expect(JSON.stringify(sample)).not.toMatch(/bad|quoted/);
    }
  });

  it('an empty rejects file (header only) and CRLF line ends', async () => {
    expect(await readRejectsSample(Readable.from([Buffer.from('row,line,column,type,reason,detail,value\n')]))).toEqual([]);
    const crlf = 'row,line,column,type,reason,detail,value\r\n4,5,email,email,invalid_email,,x\r\n';
    expect(await readRejectsSample(Readable.from([Buffer.from(crlf)]))).toEqual([{ row: 4, line: 5, column: 'email', type: 'email', reason: 'invalid_email', detail: null }]);
  });
});

describe('the dry run\'s summary', () => {
  const report: DryRunReport = {
    destinationId: 'vip-buyers',
    workflowId: 'audience-sync-preview:vip-buyers',
    syncMode: 'mirror',
    snapshot: { uri: 'file:///x/vip.csv', createdAt: '2026-12-03T09:00:00.000Z', bytes: 1234 },
    stop: null,
    applied: { version: '00000002-x', audienceId: '1800000000000001', total: 2400 },
    runId: 'preview_vip-buyers.abc',
    rows: 1202,
    added: 200,
    removed: 200,
    byType: { EMAIL_SHA256: { input: 1200, applied: 1200, added: 100, removed: 100, after: 1200 }, PHONE_SHA256: { input: 1200, applied: 1200, added: 100, removed: 100, after: 1200 } },
    rejected: { invalid_email: 1, invalid_phone: 1 },
    rejectsUris: ['file:///x/work/runs/preview_vip-buyers.abc/rejects.csv'],
    rejectsSample: [{ row: 1201, line: 1202, column: 'email', type: 'email', reason: 'invalid_email', detail: null }],
  };

  it('counts per type, rejects by reason, the rejects file and its first lines without values', () => {
    expect(formatDryRun(report)).toBe(
      [
        'destination   vip-buyers',
        'dry_run       audience-sync-preview:vip-buyers: nothing was sent to TikTok, nothing committed',
        'snapshot      file:///x/vip.csv (created 2026-12-03T09:00:00.000Z, 1234 bytes, 1202 rows)',
        'applied       version 00000002-x: 2400 ids in audience 1800000000000001',
        'sync_mode     mirror',
        'would_add     200 (EMAIL_SHA256 100, PHONE_SHA256 100)',
        'would_remove  200 (EMAIL_SHA256 100, PHONE_SHA256 100)',
        'ids_after     2400',
        'rejected      invalid_email 1, invalid_phone 1',
        'rejects       file:///x/work/runs/preview_vip-buyers.abc/rejects.csv',
        'first 1 rejects (the values are in the rejects file):',
        '  row 1201 (line 1202) column email (email): invalid_email',
        '',
      ].join('\n'),
    );
  });

  it('addOnly and a first sync say so; a stale snapshot shows where the sync would stop', () => {
    const addOnly = formatDryRun({ ...report, syncMode: 'addOnly', removed: 0, applied: { version: null, audienceId: null, total: 0 }, rejectsSample: [] });
    expect(addOnly).toMatch(/^would_remove {2}0 \(addOnly never removes\)$/m);
    expect(addOnly).toMatch(/^applied {7}none yet \(this would be the first sync\)$/m);
    const stale = formatDryRun({
      ...report,
      stop: { phase: 'stale_snapshot', message: 'snapshot is old', advice: 'export a fresh snapshot' },
      added: 0,
      removed: 0,
      byType: {},
      rejected: {},
      rejectsUris: [],
      rejectsSample: [],
    });
    expect(stale).toMatch(/^result {7}stale_snapshot$/m);
    expect(stale).not.toMatch(/would_add/);
  });
});
