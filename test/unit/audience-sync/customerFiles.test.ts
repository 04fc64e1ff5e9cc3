import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildFiles,
  headerOf,
  idsPerFile,
  planFiles,
  Stores,
  type BuiltFile,
  type DiffGroup,
} from '../../../src/audience-sync';
import { openBlobStore, type BlobStore } from '../../../src/storage';
import { digests, md5, sortUnique, writeDiffGroup } from './helpers';

let dir: string;
let store: BlobStore;
let stores: Stores;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ttsync-files-'));
  store = openBlobStore(dir);
  stores = new Stores((uri) => openBlobStore(uri));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytesOf = (f: BuiltFile) => readFile(fileURLToPath(f.uri));
const linesOfFile = async (f: BuiltFile) => (await bytesOf(f)).toString('latin1').split('\n').filter(Boolean);

describe('file plan', () => {
  const HEADER = 'Email_SHA256\n'.length;
  it('fills each file up to the id cap or the byte cap, whichever binds first', () => {
    expect(idsPerFile('EMAIL_SHA256', { maxIds: 500_000, maxBytes: 50_000_000, header: true })).toBe(500_000);
    // 250 MB would hold 3.8M lines; the id cap binds.
    expect(idsPerFile('EMAIL_SHA256', { maxIds: 500_000, maxBytes: 250_000_000, header: false })).toBe(500_000);
    // A cap of exactly header + 10 lines holds 10; one byte less holds 9.
    expect(idsPerFile('EMAIL_SHA256', { maxIds: 500_000, maxBytes: HEADER + 650, header: true })).toBe(10);
    expect(idsPerFile('EMAIL_SHA256', { maxIds: 500_000, maxBytes: HEADER + 649, header: true })).toBe(9);
    expect(idsPerFile('IDFA_MD5', { maxIds: 500_000, maxBytes: 'MAID_MD5\n'.length + 330, header: true })).toBe(10);
    expect(() => idsPerFile('EMAIL_SHA256', { maxIds: 5, maxBytes: 20, header: true })).toThrow(/cannot hold one/);
  });

  it('splits a total into full files and a remainder', () => {
    const plan = planFiles('EMAIL_SHA256', 1_200_001, { maxIds: 500_000, maxBytes: 250_000_000, header: true });
    expect(plan.map((p) => p.ids)).toEqual([500_000, 500_000, 200_001]);
    expect(plan[0]!.bytes).toBe(HEADER + 500_000 * 65);
    expect(planFiles('EMAIL_SHA256', 0, { maxIds: 10, maxBytes: 1e6, header: true })).toEqual([]);
  });

  it('names Help Center headers', () => {
    expect(headerOf('PHONE_SHA256')).toBe('Phone_SHA256');
    expect(headerOf('GAID_MD5')).toBe('MAID_MD5');
    expect(headerOf('IDFA_SHA256')).toBe('MAID_SHA256');
  });
});

describe('buildFiles', () => {
  it('hashes files of several types on MD5 threads passed from type to type, each MD5 equal to md5sum of the stored bytes', async () => {
    // Four files of at least 4 MiB (the MD5 thread's threshold) over three types: with two
    // lanes, the third type's files are hashed on a thread another type used first.
    const lists = {
      EMAIL_SHA256: { adds: digests(70_000, 'te'), removes: digests(66_000, 'tr') },
      PHONE_SHA256: { adds: digests(68_000, 'tp') },
      IDFA_SHA256: { adds: digests(67_000, 'ti') },
    };
    const group = await writeDiffGroup(store, 'lanes', lists);
    const files = await buildFiles(store, stores, 'lanes', [group], { maxIds: 500_000, maxBytes: 250_000_000, header: true }, async () => {});
    expect(files.map((f) => [f.action, f.type, f.ids])).toEqual([
      ['APPEND', 'EMAIL_SHA256', 70_000],
      ['APPEND', 'IDFA_SHA256', 67_000],
      ['APPEND', 'PHONE_SHA256', 68_000],
      ['REMOVE', 'EMAIL_SHA256', 66_000],
    ]);
    expect(files.every((f) => f.bytes >= 4 << 20)).toBe(true);
    const sums = execFileSync('md5sum', files.map((f) => fileURLToPath(f.uri)), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(files.map((f) => f.md5)).toEqual(sums);
  });

  it('honours the 500,000-id cap exactly and every MD5 equals md5sum of the stored bytes', async () => {
    const adds = digests(1_000_003, 'big');
    const group = await writeDiffGroup(store, 'big', { EMAIL_SHA256: { adds } });
    const files = await buildFiles(store, stores, 'big', [group], { maxIds: 500_000, maxBytes: 250_000_000, header: true }, async () => {});
    expect(files.map((f) => [f.action, f.type, f.calculateType, f.ids])).toEqual([
      ['APPEND', 'EMAIL_SHA256', 'EMAIL_SHA256', 500_000],
      ['APPEND', 'EMAIL_SHA256', 'EMAIL_SHA256', 500_000],
      ['APPEND', 'EMAIL_SHA256', 'EMAIL_SHA256', 3],
    ]);
    const sums = execFileSync('md5sum', files.map((f) => fileURLToPath(f.uri)), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(files.map((f) => f.md5)).toEqual(sums);
    // Header, then the ids in sorted order across files, each exactly once.
    let all: string[] = [];
    for (const f of files) {
      const lines = await linesOfFile(f);
      expect(lines[0]).toBe('Email_SHA256');
      expect(lines.length - 1).toBe(f.ids);
      expect((await bytesOf(f)).length).toBe(f.bytes);
      all = all.concat(lines.slice(1));
    }
    // One string compare: toEqual on a million-element array is slow to diff.
    expect(all.join('\n') === sortUnique([...adds]).join('\n')).toBe(true);
  }, 60_000);

  it('honours the byte cap exactly, one type a file, APPEND and REMOVE apart, no header when asked', async () => {
    const email = digests(1000, 'e');
    const maid = digests(700, 'm').map((d) => d.slice(0, 32));
    const gone = digests(300, 'g');
    const group = await writeDiffGroup(store, 'caps', { EMAIL_SHA256: { adds: email, removes: gone }, IDFA_MD5: { adds: maid } });
    const maxBytes = 65 * 128; // exactly 128 email lines, 252 MD5 lines
    const files = await buildFiles(store, stores, 'caps', [group], { maxIds: 500_000, maxBytes, header: false }, async () => {});
    const summary = files.map((f) => `${f.action} ${f.type} ${f.ids}`);
    expect(summary).toEqual([
      ...Array.from({ length: 7 }, () => 'APPEND EMAIL_SHA256 128'),
      'APPEND EMAIL_SHA256 104',
      'APPEND IDFA_MD5 252',
      'APPEND IDFA_MD5 252',
      'APPEND IDFA_MD5 196',
      'REMOVE EMAIL_SHA256 128',
      'REMOVE EMAIL_SHA256 128',
      'REMOVE EMAIL_SHA256 44',
    ]);
    for (const f of files) {
      expect(f.bytes).toBeLessThanOrEqual(maxBytes);
      const b = await bytesOf(f);
      expect(b.length).toBe(f.bytes);
      expect(md5(b)).toBe(f.md5);
    }
    expect(files[0]!.bytes).toBe(maxBytes);
    const ids = async (action: string, type: string) => (await Promise.all(files.filter((f) => f.action === action && f.type === type).map(linesOfFile))).flat();
    expect(await ids('APPEND', 'EMAIL_SHA256')).toEqual(sortUnique([...email]));
    expect(await ids('APPEND', 'IDFA_MD5')).toEqual(sortUnique([...maid]));
    expect(await ids('REMOVE', 'EMAIL_SHA256')).toEqual(sortUnique([...gone]));
  });

  it('is deterministic, and a resumed build skips finished files and produces the same list', async () => {
    const group = await writeDiffGroup(store, 'det', { PHONE_SHA256: { adds: digests(5000, 'p') } });
    const limits = { maxIds: 1000, maxBytes: 1e6, header: true };
    const first = await buildFiles(store, stores, 'det', [group], limits, async () => {});
    const again = await buildFiles(store, stores, 'det', [group], limits, async () => {});
    expect(again).toEqual(first);
    // Interrupt after two files, then resume from those.
    let saved: BuiltFile[] = [];
    await expect(
      buildFiles(store, stores, 'det', [group], limits, async (done) => {
        saved = [...done];
        if (done.length === 2) throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    const writes: number[] = [];
    const resumed = await buildFiles(store, stores, 'det', [group], limits, async (done) => void writes.push(done.length), saved);
    expect(resumed).toEqual(first);
    expect(writes).toEqual([3, 4, 5]);
  });

  it('refuses diff groups that do not cover every shard', async () => {
    const group = await writeDiffGroup(store, 'gap', { EMAIL_SHA256: { adds: digests(10) } });
    const partial: DiffGroup = { ...group, to: 128, shards: Object.fromEntries(Object.entries(group.shards).filter(([xx]) => parseInt(xx, 16) < 128)) };
    await expect(buildFiles(store, stores, 'gap', [partial], { maxIds: 10, maxBytes: 1e6, header: true }, async () => {})).rejects.toThrow(/do not cover shards 80, 81/);
  });
});
