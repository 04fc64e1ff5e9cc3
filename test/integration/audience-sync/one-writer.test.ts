import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { syncNowSignal } from '../../../src/audience-sync/messages';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { audienceSync } from '../../../workflows/index';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { createAudienceDirect } from '../../helpers/tiktokDirect';
import { cliAgainstTestServer } from '../../helpers/cli';
import { range, sortedDigests } from '../../helpers/syntheticPeople';

/*
 * Exactly one writer per TikTok audience, whatever an operator types: a workflow under an id
 * that is not its destination's fails before any activity, and a second destination that
 * reaches for an audience another destination writes parks in audience_conflict before any
 * TikTok call, until the first is retired and released. Real workers on the dev server, the
 * emulator over HTTP, the registry in a temp folder.
 */

const harness = useAudienceHarness({
  name: 'writer',
  emulator: { processingDelay: 200, matchRate: 1 },
  tokenVar: 'TTSYNC_TEST_WRITER_TOKEN',
  destinations: { label: 'writer', identifiers: { identifiers: { email: 'email' } } },
  segmentRegistry: true,
});
const { control, issueToken, newAdvertiser, destination, start, callSeq, callsSince } = harness;

const email = (i: number): string => `writer${i}@example.org`;

function writeCsv(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email', ...ids.map(email)].join('\n') + '\n');
  return `file://${path}`;
}

/** What the emulator holds for an audience and every edit it took. */
async function audienceRecord(audienceId: string): Promise<{ ids: string[]; history: unknown[] }> {
  const a = await control<{ ids: string[]; history: unknown[] }>('GET', `audiences/${audienceId}`);
  return { ids: [...a.ids].sort(), history: a.history };
}

const cli = (args: string[]) => cliAgainstTestServer(args);

describe('one writer per TikTok audience', { timeout: 120_000 }, () => {
  it('a workflow started under another id fails at once and leaves the live audience as it was', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv);
    const h = await start({ config, snapshot: { uri: writeCsv('newer.csv', range(0, 1200)) } });
    const s = await waitForStatus(h, cycleDone(1));
    expect(s.phase).toBe('synced');
    const audienceId = s.audienceId!;
    const before = await audienceRecord(audienceId);
    expect(before.ids).toEqual(sortedDigests(range(0, 1200).map(email)));
    const seq = await callSeq();

    // What the operator typed into the UI's start form: the same destination, an older export, another id.
    const wrongId = `${WorkflowIds.audienceSync(config.destinationId)}-dup`;
    const dup = await harness.client.workflow.start(audienceSync, {
      taskQueue: harness.taskQueue,
      workflowId: wrongId,
      args: [{ config, snapshot: { uri: writeCsv('older.csv', range(600, 1800)) }, queues: harness.queues, timing: DEFAULT_TIMING }],
    });
    const err = await dup.result().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('WrongWorkflowId');
    expect(cause?.message).toContain(`must run as workflow id "${WorkflowIds.audienceSync(config.destinationId)}", not "${wrongId}"`);
    expect(cause?.message).toContain('ttsync audience sync --config');

    // Nothing ran: no activity in its history, no TikTok call, the audience and its edits unchanged.
    const events = (await dup.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(await callsSince(seq)).toEqual([]);
    expect(await audienceRecord(audienceId)).toEqual(before);
    // The real writer still reports the newer snapshot, and it is the truth.
    expect((await waitForStatus(h, cycleDone(1))).appliedSnapshot?.uri).toContain('newer.csv');
  });

  it('two destinations on one audience: the second parks in audience_conflict without a TikTok call, and proceeds once the first is released', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const first = destination(adv);
    const hf = await start({ config: first, snapshot: { uri: writeCsv(`${first.destinationId}.csv`, range(0, 1100)) } });
    const sf = await waitForStatus(hf, cycleDone(1));
    expect(sf.phase).toBe('synced');
    const audienceId = sf.audienceId!;
    const before = await audienceRecord(audienceId);

    // Same audience by id, from a destination with a name, segment and workdir of its own.
    const second = destination(adv, { action: 'append', audienceId });
    const seq = await callSeq();
    const secondSnapshot = { uri: writeCsv(`${second.destinationId}.csv`, range(5000, 5100)) };
    const hs = await start({ config: second, snapshot: secondSnapshot });
    const ss = await waitForStatus(hs, cycleDone(1));
    expect(ss.phase).toBe('audience_conflict');
    expect(ss.lastError?.type).toBe('AudienceConflict');
    expect(ss.lastError?.message).toContain(`destination "${first.destinationId}"`);
    expect(ss.advice).toContain(`ttsync audience release ${first.destinationId}`);
    expect(await callsSince(seq)).toEqual([]);
    expect(await audienceRecord(audienceId)).toEqual(before);

    // Release is refused while the first destination's workflow runs: it would take its lease back.
    const refused = await cli(['audience', 'release', first.destinationId, '--registry', join(harness.dir, 'registry')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is still running');

    // Retired: its workflow ends, then one command releases the lease and the segment claim, and says so.
    await hf.terminate('retired in the one-writer test');
    const released = await cli(['audience', 'release', first.destinationId, '--registry', join(harness.dir, 'registry')]);
    expect(released.code).toBe(0);
    expect(released.stdout).toContain(`released the lease on audience ${audienceId} of advertiser ${adv}`);
    expect(released.stdout).toContain(`released the claim on segment "${first.sourceSegmentId}"`);
    const again = await cli(['audience', 'release', first.destinationId, '--registry', join(harness.dir, 'registry')]);
    expect(again.stdout).toContain('holds nothing in the registry');

    await hs.signal(syncNowSignal, { snapshot: secondSnapshot });
    const after = await waitForStatus(hs, cycleDone(2));
    expect(after.phase).toBe('synced');
    expect(after.audienceId).toBe(audienceId);
    expect((await audienceRecord(audienceId)).ids).toEqual(sortedDigests([...range(0, 1100), ...range(5000, 5100)].map(email)));
  });

  it('two destinations appending by one literal name: the second is refused before it looks the name up', async () => {
    const adv = newAdvertiser();
    const token = await issueToken(adv);
    const name = `outside audience ${adv}`;
    const audienceId = await createAudienceDirect(harness.emu, token, adv, name, sortedDigests(range(9000, 9100).map(email)));
    const p = destination(adv, { action: 'append', audienceName: name });
    const sp = await waitForStatus(await start({ config: p, snapshot: { uri: writeCsv(`${p.destinationId}.csv`, range(0, 1000)) } }), cycleDone(1));
    expect(sp.phase).toBe('synced');
    expect(sp.audienceId).toBe(audienceId);
    const before = await audienceRecord(audienceId);

    const q = destination(adv, { action: 'append', audienceName: name });
    const seq = await callSeq();
    const sq = await waitForStatus(await start({ config: q, snapshot: { uri: writeCsv(`${q.destinationId}.csv`, range(2000, 2010)) } }), cycleDone(1));
    expect(sq.phase).toBe('audience_conflict');
    expect(sq.lastError?.message).toContain(`the audience named "${name}"`);
    expect(sq.advice).toContain(`ttsync audience release ${p.destinationId}`);
    expect(await callsSince(seq)).toEqual([]);
    expect(await audienceRecord(audienceId)).toEqual(before);
  });
});
