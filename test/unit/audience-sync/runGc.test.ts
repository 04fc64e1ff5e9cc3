import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestSchema, collectRunGarbage, layout, runsReferencedBy, type Manifest, type Pointer } from '../../../src/audience-sync';
import { LocalBlobStore } from '../../../src/storage';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-rungc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (n: number): string => `dest.${String(n).padStart(6, '0')}.r${n}`;

/** Runs 1..6 of `dest` written oldest first, one of another destination, and an applied state of run 6 that still points into runs 1 and 4. */
async function fixture(root: string): Promise<LocalBlobStore> {
  const work = new LocalBlobStore(root);
  await work.write('runs/destination-two.000001.x/prepared.json', '{}');
  await work.write('runs/c-2/prepared.json', '{}');
  for (let n = 1; n <= 6; n++) {
    await work.write(`runs/${run(n)}/prepared.json`, '{}');
    await work.write(`runs/${run(n)}/diff/000-064.state`, 'x\n');
    await work.write(`runs/${run(n)}/files/append-EMAIL_SHA256-0001.csv`, 'x\n');
  }
  const state = (n: number) => ({ uri: work.uriOf(`runs/${run(n)}/diff/000-064.state`), start: 0, count: 1 });
  const manifest: Manifest = {
    schema: 1,
    destinationId: 'dest',
    version: `00000006-${run(6)}`,
    seq: 6,
    runId: run(6),
    baseVersion: null,
    audienceId: '1',
    committedAt: new Date().toISOString(),
    types: { EMAIL_SHA256: { count: 3, shards: { '00': state(1), '01': state(4), '02': { uri: 'gs://elsewhere/runs/dest.000002.r2/x', start: 0, count: 1 } } } },
  };
  const manifestKey = layout.manifest('dest', manifest.version);
  await work.write(manifestKey, JSON.stringify(manifest));
  const pointer: Pointer = { schema: 1, version: manifest.version, runId: manifest.runId, manifestKey };
  await work.write(layout.current('dest'), JSON.stringify(pointer));
  return work;
}

describe('garbage collection of run folders', () => {
  it('keeps the runs the applied state references and the last N; deletes the rest, folders included; a repeat deletes nothing', async () => {
    const root = join(dir, 'a');
    const work = await fixture(root);
    const manifest = ManifestSchema.parse(JSON.parse((await work.readBuffer(layout.manifest('dest', `00000006-${run(6)}`))).toString('utf8')));
    // The gs:// list of another store is not this workdir's run 2.
    expect([...runsReferencedBy(work, manifest)].sort()).toEqual([run(1), run(4), run(6)]);
    // Runs 2, 3 and 5 go whole (3 objects each); runs 1 and 4 keep only the list the state reads (2 objects each go).
    expect(await collectRunGarbage(work, 'dest', 1)).toEqual({ keptRuns: 3, deletedRuns: 3, trimmedRuns: 2, deletedObjects: 13, deletedManifests: 0 });
    expect(readdirSync(join(root, 'runs')).sort()).toEqual(['c-2', 'destination-two.000001.x', run(1), run(4), run(6)].sort());
    expect(await collectRunGarbage(work, 'dest', 1)).toEqual({ keptRuns: 3, deletedRuns: 0, trimmedRuns: 0, deletedObjects: 0, deletedManifests: 0 });
    // The applied run stays whole; the others keep the state lists and nothing else.
    const objects = async (n: number) => {
      const keys: string[] = [];
      for await (const o of work.list(`runs/${run(n)}/`)) keys.push(o.key.slice(`runs/${run(n)}/`.length));
      return keys.sort();
    };
    expect(await objects(6)).toEqual(['diff/000-064.state', 'files/append-EMAIL_SHA256-0001.csv', 'prepared.json']);
    expect(await objects(1)).toEqual(['diff/000-064.state']);
    expect(await objects(4)).toEqual(['diff/000-064.state']);
    // Another destination's runs are not touched.
    expect(existsSync(join(root, 'runs', 'destination-two.000001.x', 'prepared.json'))).toBe(true);
  });

  it('keeps the objects a layered row index reads: its base run\'s table and lines, its layers\' runs', async () => {
    const root = join(dir, 'e');
    const work = await fixture(root);
    // Run 6's index: a layer of run 5 over a table base of run 2 (rowIndexLayers.ts).
    for (const name of ['rowindex.json', 'rowindex.table', 'rowindex.lines', 'rowindex.extra']) await work.write(`runs/${run(2)}/${name}`, 'x');
    for (const name of ['rowindex.json', 'rowindex.bin', 'rowindex.gone', 'rowindex.extra']) await work.write(`runs/${run(5)}/${name}`, 'x');
    const key = layout.manifest('dest', `00000006-${run(6)}`);
    const manifest = ManifestSchema.parse(JSON.parse((await work.readBuffer(key)).toString('utf8')));
    await work.write(key, JSON.stringify({ ...manifest, rowIndex: { key: `runs/${run(6)}/rowindex.json`, runs: [run(2), run(5)] } }));
    // Written after run 2, run 3 is the one recent run kept besides those named.
    await work.write(`runs/${run(3)}/prepared.json`, '{}');
    expect(await collectRunGarbage(work, 'dest', 1)).toMatchObject({ deletedRuns: 0 });
    expect(await collectRunGarbage(work, 'dest', 0)).toMatchObject({ deletedRuns: 1 });
    expect(readdirSync(join(root, 'runs')).filter((r) => r.startsWith('dest.')).sort()).toEqual([run(1), run(2), run(4), run(5), run(6)]);
    for (const name of ['rowindex.json', 'rowindex.table', 'rowindex.lines', 'rowindex.extra']) expect(existsSync(join(root, 'runs', run(2), name))).toBe(true);
    for (const name of ['rowindex.json', 'rowindex.bin', 'rowindex.gone', 'rowindex.extra']) expect(existsSync(join(root, 'runs', run(5), name))).toBe(true);
    // Runs 2 and 5 are kept for their index objects only: their lists (the state reads none there), customer files and summaries go.
    for (const n of [2, 5]) {
      expect(existsSync(join(root, 'runs', run(n), 'diff', '000-064.state'))).toBe(false);
      expect(existsSync(join(root, 'runs', run(n), 'files', 'append-EMAIL_SHA256-0001.csv'))).toBe(false);
      expect(existsSync(join(root, 'runs', run(n), 'prepared.json'))).toBe(false);
    }
    // A run the index does not name keeps no rowindex object it happens to hold.
    await work.write(`runs/${run(4)}/rowindex.json`, 'x');
    expect(await collectRunGarbage(work, 'dest', 0)).toMatchObject({ trimmedRuns: 1, deletedObjects: 1 });
    expect(existsSync(join(root, 'runs', run(4), 'rowindex.json'))).toBe(false);
    expect(existsSync(join(root, 'runs', run(4), 'diff', '000-064.state'))).toBe(true);
  });

  it('keepRuns counts the most recently written runs; without an applied state nothing is deleted', async () => {
    const work = await fixture(join(dir, 'b'));
    expect(await collectRunGarbage(work, 'dest', 2)).toMatchObject({ keptRuns: 4, deletedRuns: 2 });
    expect(readdirSync(join(dir, 'b', 'runs')).filter((r) => r.startsWith('dest.')).sort()).toEqual([run(1), run(4), run(5), run(6)]);
    const empty = new LocalBlobStore(join(dir, 'c'));
    await empty.write(`runs/${run(1)}/prepared.json`, '{}');
    expect(await collectRunGarbage(empty, 'dest', 0)).toEqual({ keptRuns: 0, deletedRuns: 0, trimmedRuns: 0, deletedObjects: 0, deletedManifests: 0 });
  });

  it('deletes old manifests: keeps the applied one, newer ones (never committed) and keepRuns before it', async () => {
    const root = join(dir, 'd');
    const work = await fixture(root);
    // Manifests of runs 1..5 before the applied one (run 6), and one of a run 7 that never committed.
    for (const n of [1, 2, 3, 4, 5, 7]) await work.write(layout.manifest('dest', `0000000${n}-${run(n)}`), '{}');
    await work.write(layout.manifest('destination-two', `00000001-${run(1)}`), '{}');
    expect(await collectRunGarbage(work, 'dest', 2)).toMatchObject({ deletedManifests: 3 });
    const left = (d: string) => readdirSync(join(root, 'audiences', d, 'manifests')).sort();
    expect(left('dest')).toEqual([`00000004-${run(4)}.json`, `00000005-${run(5)}.json`, `00000006-${run(6)}.json`, `00000007-${run(7)}.json`]);
    expect(left('destination-two')).toEqual([`00000001-${run(1)}.json`]);
    expect(await collectRunGarbage(work, 'dest', 2)).toMatchObject({ deletedManifests: 0 });
  });
});
