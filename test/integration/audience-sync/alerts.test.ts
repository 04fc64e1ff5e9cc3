import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { reauthorizedSignal, recreateAudienceSignal, snapshotLandedSignal, syncNowSignal, updateConfigUpdate } from '../../../src/audience-sync/messages';
import { createNoticeService } from '../../../src/notices';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { cliAgainstTestServer } from '../../helpers/cli';
import { headerOf, startMailpit, type Mailpit } from '../../helpers/mailpit';
import { range } from '../../helpers/syntheticPeople';
import { testEnv, uniqueId } from '../../helpers/temporal';
import { tiktokApi } from '../../helpers/tiktokDirect';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhookReceiver';

/*
 * Alerts end to end: each state that needs a person is planted for real (dev server, real
 * workers, the TikTok emulator over HTTP, local storage), entered and then cleared, and the
 * test counts what arrived: one message on entering and one on clearing, in Mailpit (SMTP,
 * the destination's own contacts) or at a loopback webhook (the deployment's default route).
 * Expected keys, Message-IDs, subjects and UI links are computed here from the documented
 * rules, not by the code under test.
 */

let mailpit: Mailpit;
let receiver: WebhookReceiver;
const UI = 'http://ui.example:8233';

const harness = useAudienceHarness({
  name: 'alerts',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: 'TTSYNC_TEST_ALERTS_TOKEN',
  destinations: { label: 'alerts', identifiers: { identifiers: { email: 'email' } } },
  segmentRegistry: true,
  beforeWorkers: async () => {
    [mailpit, receiver] = await Promise.all([startMailpit(), startWebhookReceiver()]);
  },
  notices: () => ({
    service: () =>
      createNoticeService({
        storeUri: join(harness.dir, 'notices'),
        // Destinations without contacts of their own: the deployment's webhook.
        defaultRoute: { webhook: { url: receiver.url } },
        smtp: { url: mailpit.smtpUrl, from: 'ttsync alerts <alerts@ttsync.example>' },
        uiBaseUrl: UI,
        namespace: testEnv().TEMPORAL_NAMESPACE,
      }),
  }),
});
afterAll(async () => {
  await mailpit?.stop();
  await receiver?.stop();
});
const { issueToken, newAdvertiser, destination, start } = harness;
const cli = (args: string[]) => cliAgainstTestServer(args);

const email = (i: number): string => `member${i}@example.net`;
function writeCsv(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email', ...ids.map(email)].join('\n') + '\n');
  return `file://${path}`;
}
/** 2,000 emails: about 1,400 matched at the emulator's 70%, enough to target. */
const ENOUGH = range(0, 2000);
const OPS = 'oncall@ops.example';

interface Arrived {
  key: string;
  dedupeId: string;
  subject: string;
  text: string;
  to: string[];
}

/** Everything that arrived for a destination, by email and by webhook. */
async function arrived(destinationId: string): Promise<{ mail: Arrived[]; hooks: Arrived[] }> {
  const prefix = `audience-sync/${destinationId}/`;
  const mail: Arrived[] = [];
  for (const m of await mailpit.list()) {
    const h = await mailpit.headers(m.ID);
    const key = headerOf(h, 'X-Ttsync-Idempotency-Key') ?? '';
    if (!key.startsWith(prefix)) continue;
    const full = await mailpit.message(m.ID);
    mail.push({ key, dedupeId: headerOf(h, 'Message-ID') ?? '', subject: full.Subject, text: full.Text, to: full.To.map((t) => t.Address) });
  }
  const hooks = receiver.received
    .filter((r) => r.status < 300 && String(r.headers['idempotency-key'] ?? '').startsWith(prefix))
    .map((r) => {
      const b = r.body as { key: string; subject: string; text: string };
      return { key: b.key, dedupeId: String(r.headers['idempotency-key']), subject: b.subject, text: b.text, to: [] };
    });
  return { mail, hooks };
}

/** Waits until `n` notices of the destination arrived on `channel`, then returns them all. */
async function waitForArrivals(destinationId: string, channel: 'mail' | 'hooks', n: number, timeoutMs = 30_000): Promise<Arrived[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await arrived(destinationId))[channel];
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The documented key of an alert event: destination, the first run's id, the alert's number and state, the event. */
const keyOf = (destinationId: string, epoch: string, seq: number, state: string, kind: 'entered' | 'cleared'): string => `audience-sync/${destinationId}/${epoch}/${seq}-${state}/${kind}`;
const messageIdOf = (key: string): string => `<${createHash('sha256').update(key).digest('hex').slice(0, 40)}@notices.ttsync>`;
const firstRunOf = (destinationId: string): string => harness.started.find((s) => s.workflowId === `audience-sync:${destinationId}`)!.firstRunId;

/**
 * The destination's notices are exactly the pair for `state` (alert number `seq`): entered
 * then cleared, with the documented keys, ids, subjects and UI link.
 */
async function expectPair(destinationId: string, channel: 'mail' | 'hooks', state: string, seq = 1, advice?: RegExp): Promise<void> {
  const got = await waitForArrivals(destinationId, channel, 2);
  const other = (await arrived(destinationId))[channel === 'mail' ? 'hooks' : 'mail'];
  expect(other).toEqual([]);
  const epoch = firstRunOf(destinationId);
  const entered = keyOf(destinationId, epoch, seq, state, 'entered');
  const cleared = keyOf(destinationId, epoch, seq, state, 'cleared');
  expect(got.map((a) => a.key).sort()).toEqual([cleared, entered].sort());
  const e = got.find((a) => a.key === entered)!;
  const c = got.find((a) => a.key === cleared)!;
  expect(e.subject).toBe(`[ttsync] audience ${destinationId}: ${state} entered`);
  expect(c.subject).toBe(`[ttsync] audience ${destinationId}: ${state} cleared`);
  expect(e.text).toContain(`Destination ${destinationId} (advertiser `);
  expect(e.text).toContain(`entered ${state} at `);
  expect(e.text).toMatch(advice ?? /Advice: \S/);
  expect(c.text).toContain(`left ${state}`);
  const link = `${UI}/namespaces/${testEnv().TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(`audience-sync:${destinationId}`)}`;
  expect(e.text).toContain(`Temporal UI: ${link}`);
  expect(c.text).toContain(`Temporal UI: ${link}`);
  if (channel === 'mail') {
    expect(e.dedupeId).toBe(messageIdOf(entered));
    expect(c.dedupeId).toBe(messageIdOf(cleared));
    expect(e.to).toEqual([OPS]);
  } else {
    expect(e.dedupeId).toBe(entered);
    expect(c.dedupeId).toBe(cleared);
  }
}

const finish = async (h: WorkflowHandle): Promise<void> => {
  await h.terminate('alerts test done');
};

describe('alerts: each state that needs a person, entered and cleared, gives one message each way', { timeout: 120_000 }, () => {
  it('stale_snapshot (email, the destination\'s contacts): two stale cycles announce it once; a fresh export clears it', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv, { readinessWindow: '1h', alerts: { email: [OPS] } });
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-old1.csv`, ENOUGH), createdAt: old } });
    expect((await waitForStatus(h, cycleDone(1))).phase).toBe('stale_snapshot');
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-old2.csv`, ENOUGH), createdAt: old } });
    expect((await waitForStatus(h, cycleDone(2))).phase).toBe('stale_snapshot');
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-fresh.csv`, ENOUGH) } });
    expect((await waitForStatus(h, cycleDone(3))).phase).toBe('synced');
    await expectPair(config.destinationId, 'mail', 'stale_snapshot', 1, /Advice: export a fresh snapshot/);
    await finish(h);
  });

  it('a receiver down when an alert is posted: the next cycle posts it again under the same key, and it arrives once', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv, { readinessWindow: '1h', alerts: { webhook: { url: `${receiver.url}?outage` } } });
    const entered = (): string => keyOf(config.destinationId, firstRunOf(config.destinationId), 1, 'stale_snapshot', 'entered');
    const tries = () => receiver.received.filter((r) => r.headers['idempotency-key'] === entered());
    // Every attempt of the first cycle's activity (5) meets a receiver that is down.
    receiver.answerNext(503, 503, 503, 503, 503);
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-old1.csv`, ENOUGH), createdAt: old } });
    expect((await waitForStatus(h, cycleDone(1))).phase).toBe('stale_snapshot');
    const deadline = Date.now() + 60_000;
    while (tries().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tries().map((r) => r.status)).toEqual([503, 503, 503, 503, 503]);
    // The next cycle (stale again: nothing new to announce) posts it again, and now it arrives.
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-old2.csv`, ENOUGH), createdAt: old } });
    expect((await waitForStatus(h, cycleDone(2), 90_000)).phase).toBe('stale_snapshot');
    await waitForArrivals(config.destinationId, 'hooks', 1);
    expect(tries().map((r) => r.status)).toEqual([503, 503, 503, 503, 503, 204]);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-fresh.csv`, ENOUGH) } });
    expect((await waitForStatus(h, cycleDone(3))).phase).toBe('synced');
    await expectPair(config.destinationId, 'hooks', 'stale_snapshot', 1, /Advice: export a fresh snapshot/);
    await finish(h);
  });

  it('error (webhook, the deployment default): a missing export fails two cycles, announced once; a good one clears it', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv);
    const missing = `file://${join(harness.dir, 'no-such-export.csv')}`;
    const h = await start({ config, snapshot: { uri: missing } });
    expect((await waitForStatus(h, cycleDone(1))).phase).toBe('error');
    await h.signal(syncNowSignal, { snapshot: { uri: missing } });
    expect((await waitForStatus(h, cycleDone(2))).phase).toBe('error');
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}.csv`, ENOUGH) } });
    expect((await waitForStatus(h, cycleDone(3))).phase).toBe('synced');
    await expectPair(config.destinationId, 'hooks', 'error', 1, /What happened: \S+: .*no-such-export\.csv/);
    await finish(h);
  });

  it('too_small_to_target: 1,200 emails (about 840 matched) announce it; 2,000 clear it', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv, { alerts: { email: [OPS] } });
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-1.csv`, range(0, 1200)) } });
    expect((await waitForStatus(h, cycleDone(1))).phase).toBe('too_small_to_target');
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-2.csv`, ENOUGH) } });
    expect((await waitForStatus(h, cycleDone(2))).phase).toBe('synced');
    await expectPair(config.destinationId, 'mail', 'too_small_to_target', 1, /Advice: .*5,000 phones or 10,000 emails/);
    await finish(h);
  });

  it('reauthorization_required: a revoked token parks the cycle and is announced while it waits; a new token and "reauthorized" clear it', async () => {
    const adv = newAdvertiser();
    const token = await issueToken(adv);
    await harness.control('POST', 'tokens/revoke', { access_token: token });
    const config = destination(adv, { alerts: { email: [OPS] } });
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}.csv`, ENOUGH) } });
    await waitForStatus(h, (s) => s.phase === 'reauthorization_required');
    // Announced during the park, before anyone acted.
    const during = await waitForArrivals(config.destinationId, 'mail', 1);
    expect(during.map((a) => a.key)).toEqual([keyOf(config.destinationId, firstRunOf(config.destinationId), 1, 'reauthorization_required', 'entered')]);
    await issueToken(adv);
    await h.signal(reauthorizedSignal);
    expect((await waitForStatus(h, cycleDone(1))).phase).toBe('synced');
    await expectPair(config.destinationId, 'mail', 'reauthorization_required', 1, /Advice: update the secret env:TTSYNC_TEST_ALERTS_TOKEN/);
    await finish(h);
  });

  it('processing_overdue: TikTok processing past maxProcessingWait is announced once, and cleared when it is done', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const config = destination(adv, { maxProcessingWait: '1s', alerts: { email: [OPS] } });
    await harness.control('POST', 'config', { processingDelay: 3000 });
    try {
      const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}.csv`, ENOUGH) } });
      expect((await waitForStatus(h, cycleDone(1))).phase).toBe('synced');
      await expectPair(config.destinationId, 'mail', 'processing_overdue', 1, /Advice: check the audience in TikTok Ads Manager/);
      await finish(h);
    } finally {
      await harness.control('POST', 'config', { processingDelay: 300 });
    }
  });

  it('audience_missing: an audience deleted in TikTok is announced; recreateAudience clears it', async () => {
    const adv = newAdvertiser();
    const token = await issueToken(adv);
    const config = destination(adv, { alerts: { email: [OPS] } });
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-1.csv`, ENOUGH) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.phase).toBe('synced');
    await tiktokApi(harness.emu, token, 'dmp/custom_audience/delete/', { advertiser_id: adv, custom_audience_ids: [s1.audienceId!] });
    await h.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-2.csv`, range(0, 2100)) } });
    expect((await waitForStatus(h, cycleDone(2))).phase).toBe('audience_missing');
    await h.signal(recreateAudienceSignal);
    expect((await waitForStatus(h, cycleDone(3))).phase).toBe('synced');
    await expectPair(config.destinationId, 'mail', 'audience_missing', 1, /Advice: .*recreateAudience/);
    await finish(h);
  });

  it('segment_conflict: a second advertiser on the same segment is announced; a separate copy clears it', async () => {
    const [adv1, adv2] = [newAdvertiser(), newAdvertiser()];
    await issueToken(adv1, adv2);
    const segment = uniqueId('alerts-segment');
    const owner = destination(adv1, { sourceSegmentId: segment });
    const ho = await start({ config: owner, snapshot: { uri: writeCsv(`${owner.destinationId}.csv`, ENOUGH) } });
    expect((await waitForStatus(ho, cycleDone(1))).phase).toBe('synced');
    const second = destination(adv2, { sourceSegmentId: segment, alerts: { email: [OPS] } });
    const h2 = await start({ config: second, snapshot: { uri: writeCsv(`${second.destinationId}.csv`, ENOUGH) } });
    expect((await waitForStatus(h2, cycleDone(1))).phase).toBe('segment_conflict');
    await h2.executeUpdate(updateConfigUpdate, { args: [{ ...second, separateCopy: true }] });
    await h2.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${second.destinationId}-2.csv`, ENOUGH) } });
    expect((await waitForStatus(h2, cycleDone(2))).phase).toBe('synced');
    await expectPair(second.destinationId, 'mail', 'segment_conflict', 1, /Advice: .*separateCopy/);
    // The owner never needed a person: nothing for it.
    expect(await arrived(owner.destinationId)).toEqual({ mail: [], hooks: [] });
    await finish(ho);
    await finish(h2);
  });

  it('audience_conflict: a second destination on a leased audience is announced; retiring the first clears it', async () => {
    const adv = newAdvertiser();
    await issueToken(adv);
    const first = destination(adv);
    const hf = await start({ config: first, snapshot: { uri: writeCsv(`${first.destinationId}.csv`, ENOUGH) } });
    const sf = await waitForStatus(hf, cycleDone(1));
    expect(sf.phase).toBe('synced');
    const second = destination(adv, { action: 'append', audienceId: sf.audienceId!, alerts: { email: [OPS] } });
    const hs = await start({ config: second, snapshot: { uri: writeCsv(`${second.destinationId}.csv`, ENOUGH) } });
    expect((await waitForStatus(hs, cycleDone(1))).phase).toBe('audience_conflict');
    // The first destination retires: its workflow ends and its lease is released.
    await finish(hf);
    const released = await cli(['audience', 'release', first.destinationId, '--registry', join(harness.dir, 'registry')]);
    expect(released.code).toBe(0);
    await hs.signal(syncNowSignal, { snapshot: { uri: writeCsv(`${second.destinationId}-2.csv`, ENOUGH) } });
    expect((await waitForStatus(hs, cycleDone(2))).phase).toBe('synced');
    await expectPair(second.destinationId, 'mail', 'audience_conflict', 1, new RegExp(`Advice: destination "${first.destinationId}"`));
    await finish(hs);
  });
});
