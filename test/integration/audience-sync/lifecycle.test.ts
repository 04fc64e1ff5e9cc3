import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leasesHeldBy, segmentClaimKey } from '../../../src/audience-sync';
import { openBlobStore } from '../../../src/storage';
import { addChangeBatchSignal, audienceSyncStatusQuery, recreateAudienceSignal, syncNowSignal, updateConfigUpdate } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { createAudienceDirect, tiktokApi } from '../../helpers/tiktokDirect';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { range, sortedDigests } from '../../helpers/syntheticPeople';
import { uniqueId } from '../../helpers/temporal';

/*
 * The audience lifecycle beyond one destination's happy path, end to end (dev server,
 * control + data + TikTok workers, the emulator over HTTP, local storage in a temp dir):
 * the two-advertiser rule across destinations; file paths that expire before the edit; an
 * audience deleted in TikTok; append/replace to an audience found by name.
 */

const harness = useAudienceHarness({
  name: 'life',
  // File paths live 4 s here (TikTok: 24 h), so a processing wait can outlive them.
  emulator: { processingDelay: 300, matchRate: 1, fileTtl: '4s' },
  tokenVar: 'TTSYNC_TEST_LIFECYCLE_TOKEN',
  destinations: { label: 'lifecycle', identifiers: { identifiers: { email: 'email' } } },
  segmentRegistry: true,
});
const { issueToken, newAdvertiser, destination, start, audienceIds, callSeq, callsSince } = harness;

const email = (i: number): string => `member${i}@example.net`;
const expectedDigests = (ids: number[]): string[] => sortedDigests(ids.map(email));

/** A one-column CSV export of people `ids`; returns its file:// URI. */
function writeCsv(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email', ...ids.map(email)].join('\n') + '\n');
  return `file://${path}`;
}

describe('audience lifecycle on the dev server, TikTok emulator over HTTP', { timeout: 120_000 }, () => {
  it('two advertisers, one segment: the second destination is refused before any TikTok call; a separate copy with its own name syncs', async () => {
    const [adv1, adv2] = [newAdvertiser(), newAdvertiser()];
    await issueToken(adv1, adv2);
    const segment = uniqueId('shared-segment');
    const owner = destination(adv1, { sourceSegmentId: segment });
    const ho = await start({ config: owner, snapshot: { uri: writeCsv(`${owner.destinationId}.csv`, range(0, 1100)) } });
    const so = await waitForStatus(ho, cycleDone(1));
    expect(so.phase).toBe('synced');

    // Same segment, another advertiser, not a separate copy: refused, nothing sent to TikTok.
    const seq = await callSeq();
    const second = destination(adv2, { sourceSegmentId: segment });
    const h2 = await start({ config: second, snapshot: { uri: writeCsv(`${second.destinationId}.csv`, range(0, 1100)) } });
    const refused = await waitForStatus(h2, cycleDone(1));
    expect(refused.phase).toBe('segment_conflict');
    expect(refused.lastError?.type).toBe('SegmentConflict');
    expect(refused.lastError?.message).toContain(`already synced to advertiser ${adv1} by destination "${owner.destinationId}"`);
    expect(refused.advice).toMatch(/separateCopy: true/);
    expect(refused.audienceId).toBeNull();
    expect(await callsSince(seq)).toEqual([]);

    // A separate copy that repeats the owner's name is refused too.
    await h2.executeUpdate(updateConfigUpdate, { args: [{ ...second, separateCopy: true, audienceName: owner.audienceName }] });
    await h2.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${second.destinationId}-2.csv`, range(0, 1100)) } });
    const sameName = await waitForStatus(h2, cycleDone(2));
    expect(sameName.phase).toBe('segment_conflict');
    expect(sameName.lastError?.message).toMatch(/must have its own audienceName/);
    expect(await callsSince(seq)).toEqual([]);

    // With its own name it is an independent copy in the second advertiser.
    await h2.executeUpdate(updateConfigUpdate, { args: [{ ...second, separateCopy: true }] });
    await h2.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${second.destinationId}-3.csv`, range(0, 1100)) } });
    const copied = await waitForStatus(h2, cycleDone(3));
    expect(copied.phase).toBe('synced');
    expect(copied.audienceId).not.toBe(so.audienceId);
    expect(await audienceIds(copied.audienceId!)).toEqual(expectedDigests(range(0, 1100)));

    // The registry holds both claims, owner first; the owner's later cycles still pass.
    const registry = JSON.parse(readFileSync(join(harness.dir, 'registry', segmentClaimKey(segment)), 'utf8')) as { claims: { destinationId: string; advertiserId: string; separateCopy: boolean }[] };
    expect(registry.claims.map((c) => [c.destinationId, c.advertiserId, c.separateCopy])).toEqual([
      [owner.destinationId, adv1, false],
      [second.destinationId, adv2, true],
    ]);
    await ho.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${owner.destinationId}-2.csv`, range(0, 1200)) } });
    expect((await waitForStatus(ho, cycleDone(2))).phase).toBe('synced');
    expect(existsSync(join(harness.dir, 'registry'))).toBe(true);
    await ho.terminate('test done');
    await h2.terminate('test done');
  });

  it('run folders: after each commit only those the applied state references and the last storage.keepRuns stay', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    config.storage = { ...config.storage, keepRuns: 1 };
    const runs = (): string[] => readdirSync(join(harness.dir, config.destinationId, 'work', 'runs')).sort();
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-1.csv`, range(0, 1100)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');
    // A small change: most shards of the new state are still run 1's lists, so run 1 stays.
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-2.csv`, range(0, 1110)) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.phase).toBe('synced');
    expect(runs()).toEqual([s1.lastSync!.runId, s2.lastSync!.runId].sort());
    // Everyone replaced: runs 1 and 2 hold nothing the state needs and are not the last one.
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-3.csv`, range(3000, 4100)) } });
    const s3 = await waitForStatus(h, cycleDone(3));
    expect(s3.phase).toBe('synced');
    expect(runs()).toEqual([s3.lastSync!.runId]);
    expect(existsSync(new URL(s3.lastSync!.rejectsUris[0]!))).toBe(true);
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(range(3000, 4100)));
    // The applied state still reads: the next diff against it is exact.
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-4.csv`, range(3000, 4200)) } });
    const s4 = await waitForStatus(h, cycleDone(4));
    expect(s4.lastSync).toMatchObject({ added: 100, removed: 0 });
    expect(await audienceIds(s4.audienceId!)).toEqual(expectedDigests(range(3000, 4200)));
    await h.terminate('test done');
  });

  it('file paths expire during a long processing wait: the unsent files are uploaded again and the edit retried, nothing rebuilt', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-1.csv`, range(0, 1100)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');

    // Someone else's edit keeps the audience processing for 12 s: the files this cycle uploads
    // in its first seconds are past their 4 s when the edit may go.
    const audience = harness.emu.state.audiences.get(s1.audienceId!);
    expect(audience).toBeDefined();
    audience!.processingUntil = Date.now() + 12_000;
    const seq = await callSeq();
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-2.csv`, range(0, 1300)) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastError).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(s2.lastSync).toMatchObject({ added: 200, removed: 0, files: 1 });
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(range(0, 1300)));
    const calls = (await callsSince(seq)).filter((c) => c.path.includes('file/upload') || c.path.includes('custom_audience/update'));
    expect(calls.map((c) => `${c.path.includes('upload') ? 'upload' : 'update'}:${c.code}`)).toEqual(['upload:0', 'update:40910', 'upload:0', 'update:0']);
    // The same built file went up twice: the run built one file.
    expect(readdirSync(join(harness.dir, config.destinationId, 'work', 'runs', s2.lastSync!.runId, 'files'))).toHaveLength(1);
    await h.terminate('test done');
  });

  it('audience deleted in TikTok: audience_missing holds every cycle; recreateAudience sends the whole applied state plus what is pending to a new audience', async () => {
    const advertiserId = newAdvertiser();
    const token = await issueToken(advertiserId);
    const config = destination(advertiserId);
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-1.csv`, range(0, 1100)) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');
    const gone = s1.audienceId!;
    await tiktokApi(harness.emu, token, 'dmp/custom_audience/delete/', { advertiser_id: advertiserId, custom_audience_ids: [gone] });

    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-2.csv`, range(0, 1200)) } });
    const missing = await waitForStatus(h, cycleDone(2));
    expect(missing.phase).toBe('audience_missing');
    expect(missing.lastError?.type).toBe('AudienceNotFound');
    expect(missing.advice).toContain(`audience ${gone} no longer exists`);
    expect(missing.advice).toContain('recreateAudience');

    // Parked: neither a new batch nor syncNow starts a cycle (nothing reaches TikTok).
    const seq = await callSeq();
    await h.signal(addChangeBatchSignal, { enters: { uri: writeCsv(`${config.destinationId}-enters.csv`, range(1200, 1250)) } });
    await h.signal(syncNowSignal);
    await new Promise((r) => setTimeout(r, 800));
    expect(await h.query(audienceSyncStatusQuery)).toMatchObject({ phase: 'audience_missing', cycles: 2, pendingBatches: 1 });
    expect(await callsSince(seq)).toEqual([]);

    await h.signal(recreateAudienceSignal);
    const s3 = await waitForStatus(h, (s) => cycleDone(3)(s) && s.pendingBatches === 0);
    expect(s3.phase).toBe('synced');
    expect(s3.lastError).toBeNull();
    expect(s3.audienceId).not.toBeNull();
    expect(s3.audienceId).not.toBe(gone);
    // The applied state (the last committed snapshot: 0..1099) plus the batch, all APPENDed.
    const want = [...range(0, 1100), ...range(1200, 1250)];
    expect(s3.lastSync).toMatchObject({ kind: 'changes', added: want.length, removed: 0 });
    expect(await audienceIds(s3.audienceId!)).toEqual(expectedDigests(want));
    // The writer lease moved with it: the new audience is this destination's, the gone one nobody's.
    const leases = await leasesHeldBy(openBlobStore(join(harness.dir, 'registry')), config.destinationId);
    expect(leases.map((l) => l.lease.audience)).toEqual([{ kind: 'id', value: s3.audienceId }]);

    // And on from there as usual: the next snapshot is a diff against the new audience.
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-3.csv`, range(0, 1200)) } });
    const s4 = await waitForStatus(h, cycleDone(4));
    expect(s4.phase).toBe('synced');
    expect(s4.audienceId).toBe(s3.audienceId);
    expect(s4.lastSync).toMatchObject({ added: 100, removed: 50 });
    expect(await audienceIds(s4.audienceId!)).toEqual(expectedDigests(range(0, 1200)));
    await h.terminate('test done');
  });

  it('append/replace without audienceId find the audience by name and never create one; a missing one parks before any upload', async () => {
    const advertiserId = newAdvertiser();
    const token = await issueToken(advertiserId);
    const name = `outside made ${uniqueId('aud')}`;
    const existing = await createAudienceDirect(harness.emu, token, advertiserId, name, expectedDigests(range(5000, 6000)));

    // replace: the found audience ends up equal to the snapshot (its outside members go).
    const replace = destination(advertiserId, { action: 'replace', audienceName: name });
    const seq = await callSeq();
    const hr = await start({ config: replace, snapshot: { uri: writeCsv(`${replace.destinationId}.csv`, range(0, 1100)) } });
    const sr = await waitForStatus(hr, cycleDone(1));
    expect(sr.phase).toBe('synced');
    expect(sr.audienceId).toBe(existing);
    expect(await audienceIds(existing)).toEqual(expectedDigests(range(0, 1100)));
    const calls = await callsSince(seq);
    expect(calls.filter((c) => c.path.includes('custom_audience/create'))).toEqual([]);
    await hr.terminate('test done');

    // append to a name nobody has: audience_missing, nothing uploaded, no audience created.
    const append = destination(advertiserId, { action: 'append' });
    const seq2 = await callSeq();
    const ha = await start({ config: append, snapshot: { uri: writeCsv(`${append.destinationId}.csv`, range(0, 1100)) } });
    const sa = await waitForStatus(ha, cycleDone(1));
    expect(sa.phase).toBe('audience_missing');
    expect(sa.lastError?.message).toContain(`has no audience named "${String(append.audienceName)}"`);
    expect(sa.advice).toMatch(/create the audience in TikTok under its configured name/);
    expect((await callsSince(seq2)).map((c) => c.path).filter((p) => !p.includes('custom_audience/list'))).toEqual([]);

    // The operator makes it in TikTok and signals: found by name, APPENDed (its members stay).
    const made = await createAudienceDirect(harness.emu, token, advertiserId, String(append.audienceName), expectedDigests(range(7000, 8000)));
    await ha.signal(recreateAudienceSignal);
    await ha.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${append.destinationId}-2.csv`, range(0, 1100)) } });
    // The recreate and the snapshot may run as one cycle or two: wait for the snapshot's.
    const sa2 = await waitForStatus(ha, (s) => s.currentRunId === null && s.lastSync?.kind === 'snapshot');
    expect(sa2.phase).toBe('synced');
    expect(sa2.audienceId).toBe(made);
    expect(await audienceIds(made)).toEqual(expectedDigests([...range(0, 1100), ...range(7000, 8000)]));
    await ha.terminate('test done');
  });
});
