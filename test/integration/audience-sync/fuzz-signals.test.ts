import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { FUZZ_SEED } from '../../helpers/fuzz';
import { pad, range } from '../../helpers/syntheticPeople';

/*
 * Signals and updates sent from outside (the Temporal UI and CLI let anyone send any JSON) to
 * a running audience sync on the dev server, fuzzed with fast-check: malformed syncNow,
 * snapshotLanded and addChangeBatch payloads are ignored with a logged warning (the run
 * records the ignore-malformed-signals marker), malformed updateConfig is refused by its
 * validator. The workflow never fails, no workflow task fails, and it still syncs afterwards.
 */

const TOKEN_VAR = 'TTSYNC_TEST_FUZZ_SIGNALS_TOKEN';
const harness = useAudienceHarness({ name: 'fuzz-signals', emulator: { processingDelay: 100, matchRate: 1 }, tokenVar: TOKEN_VAR, destinations: { label: 'fuzz test' } });
const workflowIds: string[] = [];
afterAll(async () => {
  for (const id of workflowIds) await harness.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
});

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => `user${i}@example.com,(212) 201-${pad(i, 4)}`)].join('\n') + '\n');
  return `file://${path}`;
}

/** Payloads that are wrong in shape: any JSON that is not an object, objects with wrong field types, near misses. */
const malformedInputObject = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)),
  fc.record({ uri: fc.oneof(fc.integer(), fc.constant(''), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })) }),
  fc.record({ uri: fc.constant('file:///tmp/x.csv'), format: fc.string({ maxLength: 6 }).filter((s) => s !== 'csv' && s !== 'ndjson') }),
  fc.record({ uri: fc.constant('file:///tmp/x.csv'), createdAt: fc.constantFrom('yesterday', '', 42) }),
);
const malformed = {
  syncNow: fc.oneof(fc.jsonValue({ maxDepth: 1 }).filter((v) => v !== null && (typeof v !== 'object' || Array.isArray(v))), fc.record({ snapshot: malformedInputObject }), fc.record({ onCadence: fc.string() })),
  snapshotLanded: fc.oneof(fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)), fc.record({ snapshot: malformedInputObject }), fc.constant({})),
  addChangeBatch: fc.oneof(fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)), fc.record({ enters: malformedInputObject }), fc.constant({}), fc.record({ exits: fc.constant({ uri: 'file:///x' }), users: fc.constantFrom(-1, 1.5, 'many') })),
  updateConfig: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ destinationId: fc.string(), advertiserId: fc.string() })),
};

describe('malformed signals and updates, fuzzed, on a running audience sync', { timeout: 180_000 }, () => {
  it('ignores malformed signals with a warning, refuses malformed updates, never fails, and syncs afterwards', async () => {
    const advertiser = harness.newAdvertiser();
    await harness.issueToken(advertiser);
    const config = harness.destination(advertiser);
    workflowIds.push(WorkflowIds.audienceSync(config.destinationId));
    const handle = await harness.start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, range(0, 600)) } }, DEFAULT_TIMING);
    await waitForStatus(handle, cycleDone(1));

    let sent = 0;
    let refusedUpdates = 0;
    for (const [signal, arb] of Object.entries(malformed)) {
      for (const payload of fc.sample(arb, { seed: FUZZ_SEED, numRuns: 8 })) {
        if (signal === 'updateConfig') {
          await handle.executeUpdate('updateConfig', { args: [payload] }).then(
            () => undefined,
            (err: unknown) => {
              expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
              refusedUpdates += 1;
            },
          );
        } else {
          await handle.signal(signal, payload);
        }
        sent += 1;
      }
    }
    expect(sent).toBe(32);
    expect(refusedUpdates).toBe(8);

    // Still alive, still answering, and a valid request still syncs.
    const before = await waitForStatus(handle, (s) => s.currentRunId === null);
    expect(before.phase).toBe('synced');
    expect(before.lastError?.type).not.toBe('InvalidInput');
    await handle.signal('snapshotLanded', { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, range(100, 700)) } });
    const after = await waitForStatus(handle, cycleDone(before.cycles + 1), 90_000);
    expect(after.phase).toBe('synced');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect((await harness.audienceIds(after.audienceId!)).length).toBe(1200);

    // Every run since the start: no workflow task failed, and the ignore marker was recorded.
    let markers = 0;
    let taskFailures = 0;
    let runId: string | undefined = (await handle.describe()).runId;
    const seen = new Set<string>();
    while (runId && !seen.has(runId)) {
      seen.add(runId);
      const history: Awaited<ReturnType<ReturnType<typeof harness.client.workflow.getHandle>['fetchHistory']>> = await harness.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      for (const e of history.events ?? []) {
        if (e.workflowTaskFailedEventAttributes) taskFailures += 1;
        const details = Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((p) => p?.payloads ?? []);
        if (details.some((p) => new TextDecoder().decode(p.data ?? new Uint8Array()).includes('ignore-malformed-signals'))) markers += 1;
      }
      const first: { continuedExecutionRunId?: string | null } | null | undefined = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      runId = first?.continuedExecutionRunId ?? undefined;
    }
    expect(taskFailures).toBe(0);
    expect(markers).toBeGreaterThan(0);
  });
});
