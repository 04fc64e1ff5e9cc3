import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudienceDataActivities, type AudienceDataActivities, type PrepareResult } from '../../../activities/audience-sync/data';
import { ManifestSchema, PreparedRunSchema, SpillPartSchema, type BuiltFile } from '../../../src/audience-sync';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { openBlob, openBlobStore, readJsonObject, type BlobStore } from '../../../src/storage';

/*
 * Stored formats across an upgrade: digest lists were hex lines ("digest\n") before they
 * became records (raw digest bytes). A workdir written by the older version (its applied
 * state, or a prepared run in flight) must diff to the same customer files. The older
 * objects are written here by hand from digests computed with node:crypto, not by ttsync.
 */

const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const TYPES = ['EMAIL_SHA256', 'IDFA_SHA256', 'PHONE_SHA256'] as const;

function normalized(i: number): Record<(typeof TYPES)[number], string> {
  return { EMAIL_SHA256: `user${i}@example.com`, PHONE_SHA256: `1212201${pad(i, 4)}`, IDFA_SHA256: `6d92078a-8246-4ba4-ae5b-${pad(i, 12)}` };
}

function expected(ids: number[]): Record<string, string[]> {
  const out: Record<string, string[]> = { EMAIL_SHA256: [], PHONE_SHA256: [], IDFA_SHA256: [] };
  for (const i of ids) for (const t of TYPES) out[t]!.push(sha(normalized(i)[t]));
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

function snapshotCsv(ids: number[]): string {
  return ['email,phone,idfa', ...ids.map((i) => `User${i}@Example.com,(212) 201-${pad(i, 4)},6D92078A-8246-4BA4-AE5B-${pad(i, 12)}`)].join('\n') + '\n';
}

const QUIET = { logger: new DefaultLogger('ERROR') };
const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, args: A): Promise<R> => new MockActivityEnvironment({}, QUIET).run(fn, ...args);

async function digestsIn(files: BuiltFile[], action: 'APPEND' | 'REMOVE'): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const f of files.filter((x) => x.action === action)) {
    const { store, key } = openBlob(f.uri, {});
    const bytes = await openBlobStore(store.uri).readBuffer(key);
    expect(createHash('md5').update(bytes).digest('hex')).toBe(f.md5);
    (out[f.type] ??= []).push(...bytes.toString('latin1').split('\n').filter(Boolean).slice(1));
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

describe('audience data plane reads the hex-line lists of earlier versions', () => {
  let dir: string;
  let acts: AudienceDataActivities;
  let inputs: BlobStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ttsync-formats-'));
    inputs = openBlobStore(join(dir, 'inputs'));
    // Small spill parts: several parts per run, and several lists per object.
    acts = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { maxBufferBytes: 16 * 1024, readerPieceBytes: 8 * 1024 } });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const configFor = (destinationId: string): DestinationConfigInput => ({
    destinationId,
    advertiserId: '7000000000001',
    audienceName: `formats ${destinationId}`,
    action: 'create',
    identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' },
    defaultCountry: 'US',
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: destinationId,
    storage: { workdir: join(dir, 'work') },
  });

  async function sync(config: DestinationConfigInput, runId: string, prepare: () => Promise<PrepareResult>) {
    const base = await run(acts.loadAppliedState, [{ config }]);
    await prepare();
    const diffs = [];
    for (const [from, to] of [
      [0, 100],
      [100, 256],
    ] as const)
      diffs.push(await run(acts.diffShards, [{ config, runId, baseVersion: base.version, from, to }]));
    const built = await run(acts.buildCustomerFiles, [{ config, runId, diffUris: diffs.map((d) => d.summaryUri) }]);
    const commit = await run(acts.commitAppliedState, [{ config, runId, baseVersion: base.version, audienceId: '1', diffUris: diffs.map((d) => d.summaryUri) }]);
    return { built, commit };
  }

  const snapshot = async (name: string, ids: number[]) => ({ uri: (await inputs.write(name, snapshotCsv(ids)), inputs.uriOf(name)) });

  it('diffs against an applied state of hex lines, then against a state mixing both forms', async () => {
    const config = configFor('legacy-state');
    const work = openBlobStore(join(dir, 'work'));
    // The applied state an earlier version committed for people 0..299: per type, one
    // object of hex lines, the shards' sorted lists one after another; no "format" keys.
    const old = expected(range(0, 300));
    const types: Record<string, { count: number; shards: Record<string, { uri: string; start: number; count: number }> }> = {};
    for (const t of TYPES) {
      const key = `runs/legacy/diff/000-256.state-${t}`;
      const ids = old[t]!;
      await work.write(key, ids.map((d) => `${d}\n`).join(''));
      const shards: Record<string, { uri: string; start: number; count: number }> = {};
      ids.forEach((d, i) => {
        const s = (shards[d.slice(0, 2)] ??= { uri: work.uriOf(key), start: i * 65, count: 0 });
        s.count++;
      });
      types[t] = { count: ids.length, shards };
    }
    const version = '00000001-legacy';
    const manifestKey = `audiences/legacy-state/manifests/${version}.json`;
    await work.write(
      manifestKey,
      JSON.stringify({ schema: 1, destinationId: 'legacy-state', version, seq: 1, runId: 'legacy', baseVersion: null, audienceId: '1', committedAt: new Date().toISOString(), types }),
    );
    await work.write('audiences/legacy-state/CURRENT', JSON.stringify({ schema: 1, version, runId: 'legacy', manifestKey }));

    const snap = await snapshot('s2.csv', range(100, 400));
    const r2 = await sync(config, 'run-2', () => run(acts.prepareSnapshot, [{ config, runId: 'run-2', snapshot: snap }]));
    expect(await digestsIn(r2.built.files, 'APPEND')).toEqual(expected(range(300, 400)));
    expect(await digestsIn(r2.built.files, 'REMOVE')).toEqual(expected(range(0, 100)));
    expect(r2.commit.counts).toEqual({ EMAIL_SHA256: 300, PHONE_SHA256: 300, IDFA_SHA256: 300 });

    // The new manifest: changed shards as records, unchanged ones still the hex lines they were.
    const m = await readJsonObject(work, `audiences/legacy-state/manifests/${r2.commit.version}.json`, ManifestSchema);
    const forms = Object.values(m.types).flatMap((t) => Object.values(t!.shards).map((s) => s.format ?? 'lines'));
    expect(forms).toContain('records');

    // Mixed forms diff to nothing when nothing changed, and to the change when something did.
    const r3 = await sync(config, 'run-3', () => run(acts.prepareSnapshot, [{ config, runId: 'run-3', snapshot: snap }]));
    expect(r3.built.files).toEqual([]);
    const r4 = await sync(config, 'run-4', async () => run(acts.prepareSnapshot, [{ config, runId: 'run-4', snapshot: await snapshot('s4.csv', range(150, 400)) }]));
    expect(await digestsIn(r4.built.files, 'REMOVE')).toEqual(expected(range(100, 150)));
    expect(r4.built.appendIds).toBe(0);
  }, 120_000);

  it('diffs a prepared run whose spill parts are hex lines (prepared by the earlier version, diffed after the upgrade)', async () => {
    const config = configFor('legacy-spill');
    const work = openBlobStore(join(dir, 'work'));
    const ids = range(0, 500);
    const snap = await snapshot('s1.csv', ids);
    await run(acts.prepareSnapshot, [{ config, runId: 'spill-run', snapshot: snap }]);
    // Rewrite every part as the earlier version wrote it: the same digests as hex lines, no format.
    const prepared = await readJsonObject(work, 'runs/spill-run/prepared.json', PreparedRunSchema);
    const parts = prepared.sets.snapshot!;
    expect(parts.length).toBeGreaterThan(1);
    for (const [i, part] of parts.entries()) {
      expect(part.format).toBe('records');
      const bytes = await work.readBuffer(part.key);
      const offsets: number[] = [0];
      const text: string[] = [];
      for (let slot = 0; slot + 1 < part.offsets.length; slot++) {
        const width = 32; // every type of this mapping is SHA-256
        for (let at = part.offsets[slot]!; at < part.offsets[slot + 1]!; at += width) text.push(`${bytes.toString('hex', at, at + width)}\n`);
        offsets.push(((part.offsets[slot + 1]! / width) * 65) | 0);
      }
      await work.write(part.key, text.join(''));
      parts[i] = SpillPartSchema.parse({ key: part.key, ids: part.ids, offsets });
    }
    await work.write('runs/spill-run/prepared.json', JSON.stringify(prepared));
    const r = await sync(config, 'spill-run', async () => ({}) as PrepareResult);
    expect(await digestsIn(r.built.files, 'APPEND')).toEqual(expected(ids));
    expect(r.commit.counts).toEqual({ EMAIL_SHA256: 500, PHONE_SHA256: 500, IDFA_SHA256: 500 });
  }, 120_000);
});
