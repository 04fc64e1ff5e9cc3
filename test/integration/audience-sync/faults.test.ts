import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';
import { runHistories } from '../../helpers/workflowHistory';
/*
 * TikTok answering a large share of requests with 40100 (throttled), 50000 (system error),
 * HTTP 503 and dropped connections, on every endpoint: a first sync and a second snapshot
 * sync still converge to exactly the expected set. The emulator's faults come from a seeded
 * PRNG, two draws per request, so which request numbers fail is fixed by the seed (1: all
 * four kinds within the first 12 requests, two in a row at the 7th); the call log proves
 * they were hit. Any seed converges; it only changes how long Temporal's backoff takes.
 */

// 32% of requests fail before TikTok executes them.
const FAULTS = { throttle: 0.1, error: 0.08, http503: 0.08, drop: 0.06, seed: 1 };

// The harness gives the TikTok client two attempts, so two faults in a row reach Temporal's retry policy too.
const harness = useAudienceHarness({
  name: 'faults',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: 'TTSYNC_TEST_FAULTS_TOKEN',
  advertiserPrefix: '73',
});
const { control, issueToken, newAdvertiser, destination, start, audienceIds, callSeq, callsSince } = harness;

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => ` ${person(i).raw.email} ,${person(i).raw.phone}`)].join('\n') + '\n');
  return `file://${path}`;
}

/** The highest attempt each activity type needed, over every run of the workflow (following continue-as-new). */
async function attemptsByActivity(workflowId: string, firstRunId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for await (const history of runHistories(harness.client, workflowId, firstRunId)) {
    const typeOf = new Map<string, string>();
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
        out[type] = Math.max(out[type] ?? 0, started.attempt ?? 1);
      }
    }
  }
  return out;
}

describe('audience sync against a faulty TikTok', { timeout: 120_000 }, () => {
  it('with 40100, 50000, 503 and dropped connections injected, a first and a second snapshot sync converge to the exact set', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    // 3,000 ids at 500 a file: 6 uploads in the first sync, more requests to fail.
    const config = destination(advertiserId, { maxIdsPerFile: 500 });
    const { destinationId } = config;
    const seq0 = await callSeq();
    let workflowId = '';
    let firstRunId = '';
    // Set (and restart the PRNG) only now: the faults fall on this test's requests.
    await control('POST', 'faults', FAULTS);
    try {
      const first = range(0, 1500);
      const h = await start({ config, snapshot: { uri: writeSnapshot(`${destinationId}-1.csv`, first) } });
      ({ workflowId, firstRunId } = harness.started.at(-1)!);
      const s1 = await waitForStatus(h, cycleDone(1), 90_000);
      expect(s1.lastError).toBeNull();
      expect(s1.phase).toBe('synced');
      expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));
      expect(s1.lastSync).toMatchObject({ added: 3000, removed: 0, files: 6 });

      // Second snapshot: 100 people leave, 300 arrive.
      const second = range(100, 1800);
      await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${destinationId}-2.csv`, second) } });
      const s2 = await waitForStatus(h, cycleDone(2), 90_000);
      expect(s2.lastError).toBeNull();
      expect(s2.phase).toBe('synced');
      expect(s2.audienceId).toBe(s1.audienceId);
      expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
      expect(s2.lastSync).toMatchObject({ added: 600, removed: 200 });
      await h.terminate('test done');
    } finally {
      await control('POST', 'faults', { throttle: 0, error: 0, http503: 0, drop: 0 });
    }

    const calls = await callsSince(seq0);
    const injected = calls.filter((c) => c.outcome.startsWith('injected_'));
    const byKind = (kind: string) => injected.filter((c) => c.outcome === `injected_${kind}`).length;
    // Not vacuous: every kind of fault was hit, and a substantial share of all requests failed.
    expect({ throttle: byKind('throttle') > 0, error: byKind('error') > 0, http503: byKind('http503') > 0, drop: byKind('drop') > 0 }).toEqual({
      throttle: true,
      error: true,
      http503: true,
      drop: true,
    });
    expect(injected.length / calls.length).toBeGreaterThan(0.15);
    expect(injected.filter((c) => c.outcome === 'injected_throttle').every((c) => c.code === 40100)).toBe(true);
    expect(injected.filter((c) => c.outcome === 'injected_error').every((c) => c.code === 50000)).toBe(true);
    expect(injected.filter((c) => c.outcome === 'injected_http503').every((c) => c.httpStatus === 503)).toBe(true);
    // The writes were among the failed requests too.
    const failedPaths = new Set(injected.map((c) => c.path));
    expect(failedPaths.has('dmp/custom_audience/file/upload/')).toBe(true);
    expect(failedPaths.size).toBeGreaterThanOrEqual(3);
    // Faults got past the client's own retries, and Temporal's retry of the activity (the
    // upload resuming from its heartbeat) took over.
    expect((await attemptsByActivity(workflowId, firstRunId)).uploadCustomerFiles).toBeGreaterThan(1);
    // Faults are injected before TikTok executes anything, so a retried edit never lands
    // while the audience processes its previous copy: no 40002 "not editable".
    expect(calls.filter((c) => c.code === 40002)).toEqual([]);
    // One audience: a create retried after a failure did not make a second one.
    const state = await control<{ audiences: { advertiser_id: string }[] }>('GET', 'state');
    expect(state.audiences.filter((a) => a.advertiser_id === advertiserId)).toHaveLength(1);
  });
});
