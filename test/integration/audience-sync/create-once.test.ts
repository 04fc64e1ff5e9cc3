import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';

/*
 * TikTok's audience create has no idempotency key, and it can take effect after the client
 * gave up on it. Over HTTP against the emulator, with the first create of a destination
 * (and only that one) made late or cut off by a fault rule: TikTok ends up holding exactly
 * one audience for the destination, with exactly the snapshot's digests.
 *
 * The client waits 1 s for an answer; the late create is held 8 s and then handled, so the
 * activity's retry (1 s backoff) lists the audiences before the late one exists, finds none,
 * and creates again: the race that made two audiences before creates were marked.
 */

const CREATE = 'dmp/custom_audience/create/';
const CLIENT_TIMEOUT_MS = 1000;
const LATE_MS = 8000;

const harness = useAudienceHarness({
  name: 'create-once',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: 'TTSYNC_TEST_CREATE_ONCE_TOKEN',
  advertiserPrefix: '74',
  tiktokTimeoutMs: CLIENT_TIMEOUT_MS,
});
const { control, issueToken, newAdvertiser, destination, start, audienceIds, callSeq, callsSince } = harness;

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`)].join('\n') + '\n');
  return `file://${path}`;
}

/** The advertiser's audiences in the emulator, as TikTok holds them. */
function audiencesOf(advertiserId: string): { id: string; name: string }[] {
  return [...harness.emu.state.audiences.values()].filter((a) => a.advertiserId === advertiserId).map((a) => ({ id: a.id, name: a.name }));
}

/** The marker, computed here from its definition (sha256 of destination id and token), not by the code under test. */
const markerOf = (destinationId: string, token: string): string => `ttsync-${createHash('sha256').update(`${destinationId}\n${token}`).digest('hex').slice(0, 12)}`;

describe('an audience create answered late or cut off makes exactly one audience', { timeout: 180_000 }, () => {
  it('a create answered after the client gave up: the retry creates, the late one lands, the next cycle deletes it; one audience, exact', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const { destinationId } = config;
    const seq0 = await callSeq();
    await control('POST', 'faults', { rules: [{ endpoint: CREATE, match: { advertiser_id: advertiserId }, latency: LATE_MS, times: 1 }] });
    try {
      const first = range(0, 1200);
      const h = await start({ config, snapshot: { uri: writeSnapshot(`${destinationId}-1.csv`, first) } });
      const s1 = await waitForStatus(h, cycleDone(1), 90_000);
      expect(s1.lastError).toBeNull();
      expect(s1.phase).toBe('synced');
      const kept = s1.audienceId!;
      const token = s1.audienceCreate!.token;
      const marker = markerOf(destinationId, token);
      // The create's outcome was uncertain (a retried attempt): strays are looked for.
      expect(s1.audienceCreate).toMatchObject({ token, audienceId: kept });
      expect(s1.audienceCreate!.checkUntil).toBeDefined();

      // The late create lands on its own time (the call log has it once it was handled): TikTok
      // held two audiences with the marker, unless this cycle's own check already found it.
      const createsDone = async (): Promise<number> => (await callsSince(seq0)).filter((c) => c.path === CREATE && c.code === 0).length;
      const deadline = Date.now() + 60_000;
      while ((await createsDone()) < 2) {
        if (Date.now() > deadline) throw new Error('the late create never landed');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(audiencesOf(advertiserId).every((a) => a.name === `${String(config.audienceName)} ${marker}`)).toBe(true);

      // The next cycle deletes it before it sends anything; it writes only the audience it adopted.
      const second = range(100, 1300);
      await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${destinationId}-2.csv`, second) } });
      const s2 = await waitForStatus(h, cycleDone(2), 90_000);
      expect(s2.lastError).toBeNull();
      expect(s2.audienceId).toBe(kept);
      expect(s2.audienceCreate?.straysDeleted).toHaveLength(1);
      expect(s2.audienceCreate?.straysDeleted?.[0]).not.toBe(kept);
      expect(audiencesOf(advertiserId)).toEqual([{ id: kept, name: `${String(config.audienceName)} ${marker}` }]);
      expect(await audienceIds(kept)).toEqual(expectedDigests(second));

      const calls = (await callsSince(seq0)).filter((c) => c.path === CREATE || c.path === 'dmp/custom_audience/delete/');
      // Two creates reached TikTok (the late one and the retry), one delete; edits went to the kept audience only.
      expect(calls.filter((c) => c.path === CREATE).map((c) => c.code)).toEqual([0, 0]);
      expect(calls.filter((c) => c.path === 'dmp/custom_audience/delete/').map((c) => c.code)).toEqual([0]);
    } finally {
      await control('POST', 'faults', { rules: [] });
    }
  });

  it('a create whose connection was cut after it took effect: the retry finds it by its marker and adopts it; one create, one audience, exact', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const { destinationId } = config;
    const seq0 = await callSeq();
    await control('POST', 'faults', { rules: [{ endpoint: CREATE, match: { advertiser_id: advertiserId }, dropAfter: true, times: 1 }] });
    try {
      const first = range(2000, 3200);
      const h = await start({ config, snapshot: { uri: writeSnapshot(`${destinationId}-1.csv`, first) } });
      const s1 = await waitForStatus(h, cycleDone(1), 90_000);
      expect(s1.lastError).toBeNull();
      expect(s1.phase).toBe('synced');
      const held = audiencesOf(advertiserId);
      expect(held).toEqual([{ id: s1.audienceId, name: `${String(config.audienceName)} ${markerOf(destinationId, s1.audienceCreate!.token)}` }]);
      expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));
      const creates = (await callsSince(seq0)).filter((c) => c.path === CREATE);
      // Only the one create, whose answer was lost; the retry adopted what it made.
      expect(creates.map((c) => c.outcome)).toEqual(['injected_drop_after']);
      expect(s1.audienceCreate?.straysDeleted).toBeUndefined();

      // The next cycle's check finds nothing to delete, and the audience follows the new snapshot.
      const second = range(2100, 3300);
      await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${destinationId}-2.csv`, second) } });
      const s2 = await waitForStatus(h, cycleDone(2), 90_000);
      expect(s2.lastError).toBeNull();
      expect(audiencesOf(advertiserId).map((a) => a.id)).toEqual([s1.audienceId]);
      expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(second));
    } finally {
      await control('POST', 'faults', { rules: [] });
    }
  });
});
