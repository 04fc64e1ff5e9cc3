import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudienceDataErrorTypes } from '../../../src/audience-sync/failures';
import { createAudienceDataActivities, type AudienceDataActivities, type AudienceDataDeps, type DiffShardsResult, type PrepareResult } from '../../../activities/audience-sync/data';
import type { BuiltFile } from '../../../src/audience-sync';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { createGcsClient, openBlob, openBlobStore, type BlobStore } from '../../../src/storage';
import { startFakeGcs, type FakeGcs } from '../../helpers/fakeGcs';
import { rejectionOf } from '../../helpers/rejection';

/*
 * The data plane's activities run in MockActivityEnvironment (real activity context:
 * heartbeats, cancellation, heartbeatDetails on retry) against the local store and a real
 * fake-gcs-server. Expected digests are computed here from the normalized values with
 * node:crypto, independently of src/identifiers.
 */

const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** Person i: raw cells as an export would have them, and the normalized values TikTok hashes. */
function person(i: number) {
  return {
    raw: { email: `  User${i}@Example.COM `, phone: `(212) 201-${pad(i, 4)}`, idfa: `6D92078A-8246-4BA4-AE5B-${pad(i, 12)}` },
    normalized: { email: `user${i}@example.com`, phone: `1212201${pad(i, 4)}`, idfa: `6d92078a-8246-4ba4-ae5b-${pad(i, 12)}` },
  };
}

/** Expected digest sets per identifier type for a set of people. */
function expected(ids: Iterable<number>): Record<string, string[]> {
  const out: Record<string, string[]> = { EMAIL_SHA256: [], PHONE_SHA256: [], IDFA_SHA256: [] };
  for (const i of ids) {
    const p = person(i).normalized;
    out.EMAIL_SHA256!.push(sha(p.email));
    out.PHONE_SHA256!.push(sha(p.phone));
    out.IDFA_SHA256!.push(sha(p.idfa));
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** A CSV snapshot of people `ids`, plus the bad rows every snapshot carries. */
function snapshotCsv(ids: number[]): { text: string; badLines: { line: number; reason: string }[] } {
  const lines = ['email,phone,idfa'];
  for (const i of ids) {
    const r = person(i).raw;
    lines.push(`${r.email},${r.phone},${r.idfa}`);
  }
  const badLines: { line: number; reason: string }[] = [];
  const bad = (row: string, reason: string) => {
    lines.push(row);
    badLines.push({ line: lines.length, reason });
  };
  bad(`not-an-email,,`, 'invalid_email');
  bad(`,123,`, 'invalid_phone');
  bad(`,,00000000-0000-0000-0000-000000000000`, 'zeroed_maid');
  bad(`"broken"x,,`, 'malformed_row');
  return { text: lines.join('\n') + '\n', badLines };
}

interface Backend {
  name: string;
  setup(): Promise<{ workdir: string; deps: Omit<AudienceDataDeps, 'tuning'>; put(name: string, text: string | Buffer): Promise<string>; cleanup(): Promise<void> }>;
}

let gcs: FakeGcs | undefined;
const BUCKET = 'ttsync-audience';

const backends: Backend[] = [
  {
    name: 'local folder',
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), 'ttsync-aud-'));
      const inputs = openBlobStore(join(dir, 'inputs'));
      return {
        workdir: join(dir, 'work'),
        deps: { openStore: (uri) => openBlobStore(uri) },
        put: async (name, text) => (await inputs.write(name, text), inputs.uriOf(name)),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'GCS (fake-gcs-server)',
    async setup() {
      if (!gcs) {
        gcs = await startFakeGcs();
        await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
      }
      const endpoint = gcs.endpoint;
      const prefix = `t-${Math.random().toString(36).slice(2, 10)}`;
      const open = (uri: string) => openBlobStore(uri, { gcs: { apiEndpoint: endpoint, projectId: 'test' } });
      const inputs = open(`gs://${BUCKET}/${prefix}/inputs`);
      return {
        workdir: `gs://${BUCKET}/${prefix}/work`,
        deps: { openStore: open },
        put: async (name, text) => (await inputs.write(name, text), inputs.uriOf(name)),
        cleanup: async () => {},
      };
    },
  },
];

afterAll(async () => {
  await gcs?.stop();
});

function configFor(workdir: string, extra: Partial<DestinationConfigInput> = {}): DestinationConfigInput {
  return {
    destinationId: 'shop-vips',
    advertiserId: '7000000000001',
    audienceName: 'Shop VIPs audience',
    action: 'create',
    identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' },
    defaultCountry: 'US',
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: 'seg-vips',
    storage: { workdir },
    ...extra,
  };
}

// Expected failures (conflicts, missing objects) would otherwise be logged as warnings.
const QUIET = { logger: new DefaultLogger('ERROR') };

/** Runs one activity in a fresh mock context (optionally resuming from heartbeat details). */
async function run<A extends unknown[], R>(fn: (...a: A) => Promise<R>, args: A, heartbeatDetails?: unknown): Promise<R> {
  const env = new MockActivityEnvironment(heartbeatDetails === undefined ? {} : { heartbeatDetails }, QUIET);
  return env.run(fn, ...args);
}

const GROUPS: [number, number][] = [
  [0, 64],
  [64, 128],
  [128, 200],
  [200, 256],
];

/** load → prepare → diff (4 groups) → build; returns what a workflow would carry. */
async function sync(acts: AudienceDataActivities, config: DestinationConfigInput, runId: string, prepare: () => Promise<PrepareResult>) {
  const base = await run(acts.loadAppliedState, [{ config }]);
  const prepared = await prepare();
  const diffs = [];
  for (const [from, to] of GROUPS) diffs.push(await run(acts.diffShards, [{ config, runId, baseVersion: base.version, from, to }]));
  const built = await run(acts.buildCustomerFiles, [{ config, runId, diffUris: diffs.map((d) => d.summaryUri) }]);
  return { base, prepared, diffs, built };
}

/** Digests in the built files of one action, per type (header rows dropped). */
async function digestsIn(files: BuiltFile[], action: 'APPEND' | 'REMOVE', open: (uri: string) => BlobStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const f of files.filter((x) => x.action === action)) {
    const { key, store } = openBlob(f.uri, {});
    const s = open(store.uri);
    const bytes = await s.readBuffer(key);
    expect(createHash('md5').update(bytes).digest('hex')).toBe(f.md5);
    expect(bytes.length).toBe(f.bytes);
    const lines = bytes.toString('latin1').split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/_SHA256$/);
    expect(lines.length - 1).toBe(f.ids);
    (out[f.type] ??= []).push(...lines.slice(1));
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

for (const backend of backends) {
  describe(`audience data plane on ${backend.name}`, () => {
    let ctx: Awaited<ReturnType<Backend['setup']>>;
    let acts: AudienceDataActivities;
    beforeAll(async () => {
      ctx = await backend.setup();
      acts = createAudienceDataActivities({ ...ctx.deps, tuning: { maxBufferBytes: 64 * 1024, readerPieceBytes: 16 * 1024 } });
    });
    afterAll(async () => {
      await ctx?.cleanup();
    });

    it('first snapshot, second snapshot (enters APPENDed, exits REMOVEd, unchanged not rebuilt), commit, idempotent re-commit', async () => {
      const config = configFor(`${ctx.workdir}/mirror`);
      const first = range(0, 1200);
      const snap1 = snapshotCsv(first);
      const uri1 = await ctx.put('snap1.csv', snap1.text);

      const r1 = await sync(acts, config, 'run-1', () => run(acts.prepareSnapshot, [{ config, runId: 'run-1', snapshot: { uri: uri1 } }]));
      expect(r1.base.version).toBeNull();
      const p1 = r1.prepared.snapshot!;
      expect(p1.rows).toBe(1204);
      expect(p1.counts.types.EMAIL_SHA256).toEqual({ accepted: 1200, prehashed: 0, empty: 2, rejected: { invalid_email: 1 } });
      expect(p1.counts.types.PHONE_SHA256).toEqual({ accepted: 1200, prehashed: 0, empty: 2, rejected: { invalid_phone: 1 } });
      expect(p1.counts.types.IDFA_SHA256).toEqual({ accepted: 1200, prehashed: 0, empty: 2, rejected: { zeroed_maid: 1 } });
      expect(p1.counts.rowsRejected).toEqual({ malformed_row: 1 });
      expect(p1.rejected).toBe(4);
      expect(Date.parse(p1.createdAt)).toBeGreaterThan(Date.now() - 600_000);

      // The rejects file lists each bad row with its reason (and the raw value, for the user to fix).
      const { store: rs, key: rk } = openBlob(p1.rejectsUri);
      const rejects = (await ctx.deps.openStore(rs.uri).readBuffer(rk)).toString('utf8').trim().split('\n');
      expect(rejects[0]).toBe('row,line,column,type,reason,detail,value');
      expect(rejects.slice(1).map((l) => l.split(',').slice(1, 5).filter((_, k) => k !== 1 && k !== 2).join(' '))).toEqual(
        snap1.badLines.map((b) => `${b.line} ${b.reason}`),
      );
      expect(rejects[1]).toContain('not-an-email');

      const want1 = expected(first);
      expect(r1.built.removeIds).toBe(0);
      expect(await digestsIn(r1.built.files, 'APPEND', ctx.deps.openStore)).toEqual(want1);
      expect(r1.built.files.map((f) => f.calculateType).sort()).toEqual(['EMAIL_SHA256', 'IDFA_SHA256', 'PHONE_SHA256']);

      const c1 = await run(acts.commitAppliedState, [{ config, runId: 'run-1', baseVersion: null, audienceId: '9001', diffUris: r1.diffs.map((d) => d.summaryUri) }]);
      expect(c1.alreadyCommitted).toBe(false);
      expect(c1.counts).toEqual({ EMAIL_SHA256: 1200, PHONE_SHA256: 1200, IDFA_SHA256: 1200 });
      const again = await run(acts.commitAppliedState, [{ config, runId: 'run-1', baseVersion: null, audienceId: '9001', diffUris: r1.diffs.map((d) => d.summaryUri) }]);
      expect(again).toEqual({ ...c1, alreadyCommitted: true });
      const loaded = await run(acts.loadAppliedState, [{ config }]);
      expect(loaded).toMatchObject({ version: c1.version, audienceId: '9001', total: 3600 });

      // Second snapshot: 100 exits (0..99), 150 enters (1200..1349), the rest unchanged.
      const second = range(100, 1350);
      const uri2 = await ctx.put('snap2.csv', snapshotCsv(second).text);
      const r2 = await sync(acts, config, 'run-2', () => run(acts.prepareSnapshot, [{ config, runId: 'run-2', snapshot: { uri: uri2 } }]));
      expect(r2.base.version).toBe(c1.version);
      expect(await digestsIn(r2.built.files, 'APPEND', ctx.deps.openStore)).toEqual(expected(range(1200, 1350)));
      expect(await digestsIn(r2.built.files, 'REMOVE', ctx.deps.openStore)).toEqual(expected(range(0, 100)));
      expect(r2.built).toMatchObject({ appendIds: 450, removeIds: 300 });
      const c2 = await run(acts.commitAppliedState, [{ config, runId: 'run-2', baseVersion: c1.version, audienceId: '9001', diffUris: r2.diffs.map((d) => d.summaryUri) }]);
      expect(c2.counts).toEqual({ EMAIL_SHA256: 1250, PHONE_SHA256: 1250, IDFA_SHA256: 1250 });

      // The same snapshot again: nothing to send.
      const r3 = await sync(acts, config, 'run-3', () => run(acts.prepareSnapshot, [{ config, runId: 'run-3', snapshot: { uri: uri2 } }]));
      expect(r3.built.files).toEqual([]);
    });

    it('addOnly: a second snapshot appends its enters and removes nobody', async () => {
      const config = configFor(`${ctx.workdir}/addonly`, { syncMode: 'addOnly' });
      const u1 = await ctx.put('a1.csv', snapshotCsv(range(0, 300)).text);
      const r1 = await sync(acts, config, 'a-1', () => run(acts.prepareSnapshot, [{ config, runId: 'a-1', snapshot: { uri: u1 } }]));
      const c1 = await run(acts.commitAppliedState, [{ config, runId: 'a-1', baseVersion: null, audienceId: null, diffUris: r1.diffs.map((d) => d.summaryUri) }]);
      const u2 = await ctx.put('a2.csv', snapshotCsv(range(200, 400)).text);
      const r2 = await sync(acts, config, 'a-2', () => run(acts.prepareSnapshot, [{ config, runId: 'a-2', snapshot: { uri: u2 } }]));
      expect(r2.built.removeIds).toBe(0);
      expect(r2.built.files.every((f) => f.action === 'APPEND')).toBe(true);
      expect(await digestsIn(r2.built.files, 'APPEND', ctx.deps.openStore)).toEqual(expected(range(300, 400)));
      const c2 = await run(acts.commitAppliedState, [{ config, runId: 'a-2', baseVersion: c1.version, audienceId: null, diffUris: r2.diffs.map((d) => d.summaryUri) }]);
      expect(c2.counts.EMAIL_SHA256).toBe(400);
    });

    it('the row index keeps the snapshot as a clone made by the store (no byte of it written from here), and the next sync reads its gone lines there', async () => {
      // Every write of the work store is seen: the lines object must not be one of them.
      const written: string[] = [];
      const watched = createAudienceDataActivities({
        openStore: (uri) => {
          const store = ctx.deps.openStore(uri);
          const write = store.write.bind(store);
          store.write = (key, data, options) => (written.push(key), write(key, data, options));
          return store;
        },
        tuning: { maxBufferBytes: 64 * 1024, readerPieceBytes: 16 * 1024 },
      });
      const config = configFor(`${ctx.workdir}/clone`);
      const snap1 = snapshotCsv(range(0, 500)).text;
      const u1 = await ctx.put('c1.csv', snap1);
      const r1 = await sync(watched, config, 'c-1', () => run(watched.prepareSnapshot, [{ config, runId: 'c-1', snapshot: { uri: u1 } }]));
      const c1 = await run(watched.commitAppliedState, [{ config, runId: 'c-1', baseVersion: null, audienceId: null, diffUris: r1.diffs.map((d) => d.summaryUri) }]);
      expect(written.some((k) => k.endsWith('rowindex.json'))).toBe(true);
      expect(written.filter((k) => k.endsWith('rowindex.lines'))).toEqual([]);
      const work = ctx.deps.openStore(config.storage!.workdir!);
      expect((await work.readBuffer('runs/c-1/rowindex.lines')).toString('latin1')).toBe(snap1);
      const meta = JSON.parse((await work.readBuffer('runs/c-1/rowindex.json')).toString('utf8')) as { linesGeneration?: string };
      expect(meta.linesGeneration).toBe((await work.stat('runs/c-1/rowindex.lines')).generation);
      // The next snapshot drops 0-99: their ids come from the clone's lines, and are removed.
      const u2 = await ctx.put('c2.csv', snapshotCsv(range(100, 600)).text);
      const r2 = await sync(watched, config, 'c-2', () => run(watched.prepareSnapshot, [{ config, runId: 'c-2', snapshot: { uri: u2 } }]));
      expect(r2.prepared.snapshot!.rowIndex).toMatchObject({ kept: expect.any(Number) as number, gone: 100 });
      expect(await digestsIn(r2.built.files, 'REMOVE', ctx.deps.openStore)).toEqual(expected(range(0, 100)));
      expect(await digestsIn(r2.built.files, 'APPEND', ctx.deps.openStore)).toEqual(expected(range(500, 600)));
      await run(watched.commitAppliedState, [{ config, runId: 'c-2', baseVersion: c1.version, audienceId: null, diffUris: r2.diffs.map((d) => d.summaryUri) }]);
    });

    it('change batch: enters not yet held are APPENDed, exits REMOVEd', async () => {
      const config = configFor(`${ctx.workdir}/changes`);
      const u1 = await ctx.put('c0.csv', snapshotCsv(range(0, 200)).text);
      const r1 = await sync(acts, config, 'c-1', () => run(acts.prepareSnapshot, [{ config, runId: 'c-1', snapshot: { uri: u1 } }]));
      const c1 = await run(acts.commitAppliedState, [{ config, runId: 'c-1', baseVersion: null, audienceId: null, diffUris: r1.diffs.map((d) => d.summaryUri) }]);
      // Enters 150..249 (150..199 already held), exits 0..49 as NDJSON.
      const enters = await ctx.put('enters.csv', snapshotCsv(range(150, 250)).text);
      const exits = await ctx.put(
        'exits.ndjson',
        range(0, 50)
          .map((i) => JSON.stringify(person(i).raw))
          .join('\n'),
      );
      const r2 = await sync(acts, config, 'c-2', () => run(acts.prepareChangeBatch, [{ config, runId: 'c-2', enters: { uri: enters }, exits: { uri: exits } }]));
      expect(r2.prepared.kind).toBe('changes');
      expect(r2.prepared.exits?.rows).toBe(50);
      expect(await digestsIn(r2.built.files, 'APPEND', ctx.deps.openStore)).toEqual(expected(range(200, 250)));
      expect(await digestsIn(r2.built.files, 'REMOVE', ctx.deps.openStore)).toEqual(expected(range(0, 50)));
      const c2 = await run(acts.commitAppliedState, [{ config, runId: 'c-2', baseVersion: c1.version, audienceId: null, diffUris: r2.diffs.map((d) => d.summaryUri) }]);
      expect(c2.counts.PHONE_SHA256).toBe(200);
    });

    it('resumes prepare from a heartbeat checkpoint: the result equals a clean run', async () => {
      const config = configFor(`${ctx.workdir}/resume`);
      const uri = await ctx.put('resume.csv', snapshotCsv(range(0, 3000)).text);
      const clean = await sync(acts, config, 'clean', () => run(acts.prepareSnapshot, [{ config, runId: 'clean', snapshot: { uri } }]));

      // Attempt 1: cancelled after its third checkpoint.
      const env = new MockActivityEnvironment({}, QUIET);
      const beats: unknown[] = [];
      env.on('heartbeat', (d: unknown) => {
        if ((d as { current: unknown } | undefined)?.current) beats.push(d);
        if (beats.length === 3) env.cancel();
      });
      await rejectionOf(env.run(acts.prepareSnapshot, { config, runId: 'resumed', snapshot: { uri } }), CancelledFailure);
      const saved = beats[2] as { current: { spillParts: number[]; seq: number; position: { byteOffset: number } } };
      expect(saved.current.position.byteOffset).toBeGreaterThan(0);
      // Junk where the next part would go (a write after the checkpoint): it must not count.
      const work = ctx.deps.openStore(`${ctx.workdir}/resume`);
      await work.write(`runs/resumed/spill/snapshot/${pad(saved.current.seq, 6)}.lines`, 'garbage\n');

      // Attempt 2 starts from the heartbeat details, as a retry after a worker crash would.
      const resumedBeats: unknown[] = [];
      const env2 = new MockActivityEnvironment({ heartbeatDetails: saved }, QUIET);
      env2.on('heartbeat', (d: unknown) => resumedBeats.push(d));
      const prepared: PrepareResult = await env2.run(acts.prepareSnapshot, { config, runId: 'resumed', snapshot: { uri } });
      const resumed = await sync(acts, config, 'resumed', () => Promise.resolve(prepared));
      expect(resumed.prepared.snapshot!.counts).toEqual(clean.prepared.snapshot!.counts);
      expect(resumed.prepared.snapshot!.rejected).toBe(clean.prepared.snapshot!.rejected);
      const strip = (files: BuiltFile[]) => files.map(({ uri: _u, ...f }) => f);
      expect(strip(resumed.built.files)).toEqual(strip(clean.built.files));
      expect(resumed.diffs.map((d) => d.totals)).toEqual(clean.diffs.map((d) => d.totals));
      const rejectsOf = async (u: string) => {
        const { store, key } = openBlob(u);
        return (await ctx.deps.openStore(store.uri).readBuffer(key)).toString();
      };
      expect(await rejectsOf(resumed.prepared.snapshot!.rejectsUri)).toBe(await rejectsOf(clean.prepared.snapshot!.rejectsUri));
      // It did not read the object from the start again: fewer checkpoints than the clean run.
      expect(resumedBeats.length).toBeGreaterThan(0);
    });

    it('commit is a compare-and-swap: of two runs diffed on the same base, one wins and the other gets AppliedStateConflict', async () => {
      const config = configFor(`${ctx.workdir}/cas`);
      const ua = await ctx.put('cas-a.csv', snapshotCsv(range(0, 100)).text);
      const ub = await ctx.put('cas-b.csv', snapshotCsv(range(50, 150)).text);
      const a = await sync(acts, config, 'cas-a', () => run(acts.prepareSnapshot, [{ config, runId: 'cas-a', snapshot: { uri: ua } }]));
      const b = await sync(acts, config, 'cas-b', () => run(acts.prepareSnapshot, [{ config, runId: 'cas-b', snapshot: { uri: ub } }]));
      const results = await Promise.allSettled([
        run(acts.commitAppliedState, [{ config, runId: 'cas-a', baseVersion: null, audienceId: null, diffUris: a.diffs.map((d) => d.summaryUri) }]),
        run(acts.commitAppliedState, [{ config, runId: 'cas-b', baseVersion: null, audienceId: null, diffUris: b.diffs.map((d) => d.summaryUri) }]),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const failure = lost[0]!.reason as ApplicationFailure;
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure.type).toBe(AudienceDataErrorTypes.conflict);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toMatch(/another run committed first/);
      const state = await run(acts.loadAppliedState, [{ config }]);
      expect(state.version).toBe((won[0] as PromiseFulfilledResult<{ version: string }>).value.version);
    });

    it('resumes diff from a heartbeat checkpoint: the group summary equals a clean run', async () => {
      const config = configFor(`${ctx.workdir}/diff-resume`);
      const uri = await ctx.put('diff-resume.csv', snapshotCsv(range(0, 2000)).text);
      await run(acts.prepareSnapshot, [{ config, runId: 'dr', snapshot: { uri } }]);
      // Small steps: a few shards each, so the group heartbeats many times.
      const small = createAudienceDataActivities({ ...ctx.deps, diffReadBudgetBytes: 8 * 1024 });
      const input = { config, runId: 'dr', baseVersion: null, from: 0, to: 256 };
      const read = async (u: string) => {
        const { store, key } = openBlob(u);
        return JSON.parse((await ctx.deps.openStore(store.uri).readBuffer(key)).toString()) as unknown;
      };
      const clean = await run(small.diffShards, [input]);
      const cleanSummary = await read(clean.summaryUri);

      const env = new MockActivityEnvironment({}, QUIET);
      const beats: { next: number }[] = [];
      env.on('heartbeat', (d: { next: number }) => {
        beats.push(d);
        if (beats.length === 3) env.cancel();
      });
      await rejectionOf(env.run(small.diffShards, input), CancelledFailure);
      const saved = beats[2]!;
      expect(saved.next).toBeGreaterThan(0);
      expect(saved.next).toBeLessThan(256);
      const env2 = new MockActivityEnvironment({ heartbeatDetails: saved }, QUIET);
      const firstBeats: number[] = [];
      env2.on('heartbeat', (d: { next: number }) => firstBeats.push(d.next));
      const resumed: DiffShardsResult = await env2.run(small.diffShards, input);
      // It started where the checkpoint was, not at shard 0.
      expect(firstBeats[0]).toBeGreaterThan(saved.next);
      expect(resumed.totals).toEqual(clean.totals);
      expect(await read(resumed.summaryUri)).toEqual(cleanSummary);
      expect(clean.totals.EMAIL_SHA256).toEqual({ input: 2000, applied: 0, adds: 2000, removes: 0, state: 2000 });
    });

    it('inspectSnapshot reports size and age against the readiness window', async () => {
      const config = configFor(`${ctx.workdir}/inspect`, { readinessWindow: '36h' });
      const uri = await ctx.put('inspect.csv', 'email\na@example.com\n');
      const fresh = await run(acts.inspectSnapshot, [{ config, snapshot: { uri } }]);
      expect(fresh).toMatchObject({ uri, bytes: 20, stale: false });
      expect(fresh.ageMs).toBeLessThan(600_000);
      const old = new Date(Date.now() - 37 * 3_600_000).toISOString();
      const stale = await run(acts.inspectSnapshot, [{ config, snapshot: { uri, createdAt: old } }]);
      expect(stale).toMatchObject({ createdAt: old, stale: true });
    });

    it('fails without retry on a missing snapshot, a binary file, and a bad config', async () => {
      const config = configFor(`${ctx.workdir}/errors`);
      const missing = await rejectionOf(run(acts.prepareSnapshot, [{ config, runId: 'e-1', snapshot: { uri: `${ctx.workdir}/nope.csv` } }]), ApplicationFailure);
      expect(missing).toMatchObject({ type: AudienceDataErrorTypes.missingObject, nonRetryable: true });
      const bin = await ctx.put('binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0xff, 0xfe, 10]));
      const binary = await rejectionOf(run(acts.prepareSnapshot, [{ config, runId: 'e-2', snapshot: { uri: bin } }]), ApplicationFailure);
      expect(binary).toMatchObject({ type: AudienceDataErrorTypes.unreadableSnapshot, nonRetryable: true });
      const bad = await rejectionOf(run(acts.prepareSnapshot, [{ config: { ...config, advertiserId: 'abc' }, runId: 'e-3', snapshot: { uri: bin } }]), ApplicationFailure);
      expect(bad).toMatchObject({ type: AudienceDataErrorTypes.badConfig, nonRetryable: true });
      expect(bad.message).toMatch(/advertiserId/);
    });
  });
}

describe('prepare of a 1M-row snapshot', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ttsync-aud-1m-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const ROWS = 1_000_000;
  let file = '';
  beforeAll(async () => {
    file = join(dir, 'big.csv');
    const out = createWriteStream(file);
    out.write('email,idfa\n');
    let buf = '';
    for (let i = 0; i < ROWS; i++) {
      buf += `User${i}@Example${i % 1000}.com,6D92078A-8246-4BA4-AE5B-${pad(i, 12)}\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
    out.end(buf);
    await once(out, 'finish');
  });

  /** Prepares the snapshot in this process and returns the RSS growth in MiB. */
  async function prepareGrowth(runId: string, rowIndexMaxBytes: number): Promise<number> {
    const acts = createAudienceDataActivities({ openStore: (uri) => openBlobStore(uri), tuning: { maxBufferBytes: 16 << 20, rowIndexMaxBytes } });
    const config = configFor(join(dir, `work-${runId}`), { identifiers: { email: 'email', idfa: 'idfa' } });
    const env = new MockActivityEnvironment({}, QUIET);
    const base = process.memoryUsage().rss;
    let peak = base;
    let beats = 0;
    env.on('heartbeat', () => {
      beats++;
      peak = Math.max(peak, process.memoryUsage().rss);
    });
    const t0 = Date.now();
    const r: PrepareResult = await env.run(acts.prepareSnapshot, { config, runId, snapshot: { uri: file } });
    const ms = Date.now() - t0;
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = (peak - base) / 1048576;
    console.log(`prepare 1M rows (2M ids), row index ${rowIndexMaxBytes ? 'on' : 'off'}: ${ms} ms, ${beats} heartbeats, RSS growth ${growth.toFixed(0)} MiB`);
    expect(r.snapshot!.rows).toBe(ROWS);
    expect(r.snapshot!.counts.types.EMAIL_SHA256?.accepted).toBe(ROWS);
    expect(r.snapshot!.counts.types.IDFA_SHA256?.accepted).toBe(ROWS);
    return growth;
  }

  // The growth without the index, once measured (the bound of the next test builds on it).
  let streaming = 120;

  it('streams it with bounded memory: RSS growth stays far below the digest volume', async () => {
    // 2M ids are 130 MB as stored lines and well over 200 MB as JS strings; without the row
    // index prepare holds one 16 MiB spill buffer (two while one is written) plus a reader
    // piece (the rest is garbage not yet collected).
    const growth = await prepareGrowth('big', 0);
    expect(growth).toBeLessThan(120);
    streaming = Math.max(growth, 40);
  }, 60_000);

  it('with the row index, memory grows by the index table (28 bytes a line), not by the snapshot\'s lines: those are copied to storage as they are read', async () => {
    // The lines (52 MiB here) would not fit in the slack: 24 MiB for the queue of the lines
    // object's write (8 MiB) and the garbage collector's timing.
    expect(await prepareGrowth('big-indexed', 256 << 20)).toBeLessThan(streaming + (ROWS * 28) / 1048576 + 24);
  }, 60_000);
});
