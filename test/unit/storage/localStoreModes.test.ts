import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ABSENT_GENERATION, openBlobStore } from '../../../src/storage';

/*
 * Local objects hold raw or hashed identifiers (snapshot copies, rejects, spill, shards,
 * customer files, manifests): every file the store makes is 0600 and every folder 0700, even
 * under a permissive umask.
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function walk(dir: string, out: Array<{ path: string; dir: boolean }> = []): Array<{ path: string; dir: boolean }> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push({ path: p, dir: e.isDirectory() });
    if (e.isDirectory()) walk(p, out);
  }
  return out;
}

describe('local store file modes', () => {
  it('writes objects 0600 in folders 0700 (plain writes and compare-and-swap), whatever the umask', async () => {
    const base = mkdtempSync(join(tmpdir(), 'ttsync-modes-'));
    dirs.push(base);
    const root = join(base, 'work');
    const old = process.umask(0o022);
    try {
      const store = openBlobStore(root);
      await store.write('runs/dest.000001.ab/rejects/rejects.csv', 'row,reason\nnot-an-email,invalid_email\n');
      await store.write('runs/dest.000001.ab/shards/email/00.bin', Buffer.alloc(64, 7));
      await store.writeIfGeneration('applied/dest/pointer.json', '{"cycle":1}', ABSENT_GENERATION);
    } finally {
      process.umask(old);
    }
    const entries = walk(root);
    expect(entries.filter((e) => !e.dir).length).toBeGreaterThanOrEqual(3);
    const wrong = [{ path: root, dir: true }, ...entries]
      .map((e) => ({ ...e, mode: statSync(e.path).mode & 0o777 }))
      .filter((e) => e.mode !== (e.dir ? 0o700 : 0o600))
      .map((e) => `${relative(base, e.path)} ${e.mode.toString(8)}`);
    expect(wrong).toEqual([]);
  });
});
