import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRetention } from '../../../src/retention/client';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../../../src/retention/synthetic';
import { openBlobStore } from '../../../src/storage';
import { defaultWorkflowBundlePath } from '../../../src/worker';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { expectedPartition } from '../../helpers/retentionExpected';
import { testClient, testEnv, uniqueId, withWorkers } from '../../helpers/temporal';

/*
 * A data worker SIGKILLed in the middle of a partition, then another one started: the run
 * ends with exactly the expected result and one version of each partition. The workflow runs
 * here (control worker, prebuilt bundle); the data activities run in a child process
 * (test/fixtures/retention-worker.ts) whose read of one partition stops at a chosen byte, and
 * the test kills it when the child says so, never after a guessed sleep.
 */

let dir: string;
let client: Client;
let script: string;
const children = new Set<ChildProcessLines>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-retention-crash-'));
  script = compileFixture('retention-worker');
  client = await testClient();
});
afterEach(async () => {
  for (const c of [...children]) await c.stop('SIGKILL');
  children.clear();
});
afterAll(async () => {
  await client?.connection.close();
  rmSync(dir, { recursive: true, force: true });
});

async function child(dataQueue: string, extra: Record<string, string> = {}): Promise<ChildProcessLines> {
  const c = await spawnFixture(script, { ...testEnv(), TTSYNC_FIXTURE_DATA_QUEUE: dataQueue, ...extra });
  children.add(c);
  return c;
}

describe('retention crash safety', { timeout: 240_000 }, () => {
  it('a worker killed mid-partition, then restarted, ends with the same result and one version of each partition', async () => {
    const root = join(dir, 'ds');
    const gen = await generateSyntheticDataset(openBlobStore(root), { start: '2026-01-01', days: 20, rowsPerDay: 300, seed: 11 });
    const originals = new Map(gen.recordsKeys.map((k) => [k, readFileSync(join(root, k), 'utf8')]));
    const watchedKey = 'date=2026-01-10/';
    const size = Buffer.byteLength(originals.get(`records/${watchedKey}part-0000.csv`)!);
    const datasetId = uniqueId('crash');
    const config = { ...syntheticDatasetConfig(datasetId, root, join(root, 'audit')), parallelism: 1 };
    const dataQueue = uniqueId('ret-crash-data');

    await withWorkers(
      async ({ taskQueue }) => {
        const first = await child(dataQueue, { TTSYNC_FIXTURE_WATCH: watchedKey, TTSYNC_FIXTURE_STALL_AT: String(Math.floor(size / 2)) });
        const h = await startRetention(client, { config, asOf: '2026-09-01', taskQueue, queues: { data: dataQueue }, timing: { heartbeatTimeout: '2s' } });
        await first.waitForLine(new RegExp(`^stalled .*${watchedKey}`), 120_000);
        // Half of the partition was read and anonymized in memory; nothing of it is in place.
        expect(readFileSync(join(root, `records/${watchedKey}part-0000.csv`), 'utf8')).toBe(originals.get(`records/${watchedKey}part-0000.csv`));
        await first.stop('SIGKILL');
        children.delete(first);

        const second = await child(dataQueue, { TTSYNC_FIXTURE_WATCH: watchedKey });
        const r = await h.result();
        expect(second.lines.some((l) => l.startsWith(`read records/${watchedKey}`) || l.includes(watchedKey))).toBe(true);
        let expected = 0;
        for (const [k, text] of originals) {
          const want = expectedPartition(text, '2026-09-01');
          expected += want.anonymized;
          expect(readFileSync(join(root, k), 'utf8'), k).toBe(want.text);
          expect(readdirSync(join(root, k, '..'))).toEqual(['part-0000.csv']);
        }
        expect(r).toMatchObject({ changed: true, rowsAnonymized: expected, objectsScanned: 20 });
        expect(readdirSync(join(root, 'audit', datasetId))).not.toContain('staging');
      },
      { workflowBundlePath: defaultWorkflowBundlePath() },
    );
  });
});
