import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { defaultWorkflowBundlePath } from '../../../src/worker';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { headerOf, startMailpit, type Mailpit } from '../../helpers/mailpit';
import { range } from '../../helpers/syntheticPeople';
import { testEnv } from '../../helpers/temporal';

/*
 * A worker SIGKILLed in the middle of delivering an alert loses nothing. The workflow runs
 * here; the data activities (which post notices) run in a child process
 * (test/fixtures/audience-worker.ts) whose delivery hangs at a chosen point, seen on its
 * stdout, where the test kills it and starts another:
 *  - after the notice was written to the outbox and before any channel sent it: the retried
 *    activity delivers it, once;
 *  - after Mailpit accepted it and before the outbox recorded that: the retry sends it again,
 *    with the same Message-ID and idempotency header, so the receiver can drop the copy.
 * The notice activity's start-to-close timeout (timing.noticeTimeout) is short, so Temporal
 * retries within seconds of the kill.
 */

const TOKEN_VAR = 'TTSYNC_TEST_ALERTS_CRASH_TOKEN';
const TIMING = { cadence: '1h', pollInitial: '100ms', pollMax: '1s', heartbeatTimeout: '2s', tiktokCallTimeout: '5s', noticeTimeout: '4s' };
const OPS = 'oncall@ops.example';

let mailpit: Mailpit;
let script: string;
const children = new Set<ChildProcessLines>();
beforeAll(async () => {
  script = compileFixture('audience-worker');
  mailpit = await startMailpit();
}, 60_000);
afterEach(async () => {
  for (const c of children) await c.stop('SIGKILL');
  children.clear();
});
afterAll(async () => {
  await mailpit?.stop();
});

const harness = useAudienceHarness({
  name: 'alerts-crash',
  emulator: { processingDelay: 300, matchRate: 0.7 },
  tokenVar: TOKEN_VAR,
  destinations: { label: 'alerts crash', identifiers: { identifiers: { email: 'email' } } },
  controlOnly: { workflowBundlePath: defaultWorkflowBundlePath() },
});
const { newAdvertiser, destination, queues } = harness;
const start = (input: Parameters<typeof harness.start>[0]) => harness.start(input, TIMING);

const email = (i: number): string => `member${i}@example.net`;
function writeCsv(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email', ...ids.map(email)].join('\n') + '\n');
  return `file://${path}`;
}

/** A data + TikTok worker process posting notices to Mailpit through the outbox in <temp dir>/notices. */
async function startChild(token: string, hold?: 'before' | 'after'): Promise<ChildProcessLines> {
  const env = testEnv();
  const child = await spawnFixture(script, {
    TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE,
    TEMPORAL_CONFIG_FILE: env.TEMPORAL_CONFIG_FILE,
    TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl,
    TIKTOK_QPS: '1000',
    TIKTOK_MAX_ATTEMPTS: '2',
    TIKTOK_TIMEOUT_MS: '5000',
    [TOKEN_VAR]: token,
    TTSYNC_FIXTURE_QUEUES: JSON.stringify(queues),
    TTSYNC_NOTICES: join(harness.dir, 'notices'),
    TTSYNC_SMTP_URL: mailpit.smtpUrl,
    TTSYNC_SMTP_FROM: 'ttsync alerts <alerts@ttsync.example>',
    TTSYNC_UI_URL: 'http://ui.example:8233',
    ...(hold ? { TTSYNC_FIXTURE_HOLD_NOTICE: hold } : {}),
  });
  children.add(child);
  return child;
}
async function kill(child: ChildProcessLines): Promise<void> {
  await child.stop('SIGKILL');
  children.delete(child);
}

const messageIdOf = (key: string): string => `<${createHash('sha256').update(key).digest('hex').slice(0, 40)}@notices.ttsync>`;
const digestOf = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Message-IDs of the mail in Mailpit whose idempotency header is `key`. */
async function copiesOf(key: string): Promise<string[]> {
  const ids: string[] = [];
  for (const m of await mailpit.list()) {
    const h = await mailpit.headers(m.ID);
    if (headerOf(h, 'X-Ttsync-Idempotency-Key') === key) ids.push(headerOf(h, 'Message-ID') ?? '');
  }
  return ids;
}
async function waitForCopies(key: string, n: number, timeoutMs = 45_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids = await copiesOf(key);
    if (ids.length >= n || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('alerts survive a worker SIGKILLed mid-delivery', { timeout: 150_000 }, () => {
  it('killed after the notice was written, before it was sent: the retry delivers it, exactly once; the clearing notice follows', async () => {
    const adv = newAdvertiser();
    const token = await harness.issueToken(adv);
    const config = destination(adv, { readinessWindow: '1h', alerts: { email: [OPS] } });
    const first = await startChild(token, 'before');
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-old.csv`, range(0, 2000)), createdAt: old } });
    const epoch = harness.started.at(-1)!.firstRunId;
    const entered = `audience-sync/${config.destinationId}/${epoch}/1-stale_snapshot/entered`;
    const cleared = `audience-sync/${config.destinationId}/${epoch}/1-stale_snapshot/cleared`;

    const [, heldKey] = (await first.waitForLine(/^notice-held (\S+)$/, 60_000)) as unknown as [string, string];
    expect(heldKey).toBe(entered);
    // Written to the outbox, sent nowhere yet.
    expect(existsSync(join(harness.dir, 'notices', 'notices', `${digestOf(entered)}.json`))).toBe(true);
    expect(await copiesOf(entered)).toEqual([]);
    await kill(first);

    await startChild(token);
    expect(await waitForCopies(entered, 1)).toEqual([messageIdOf(entered)]);
    expect((await waitForStatus(h, cycleDone(1), 60_000)).phase).toBe('stale_snapshot');

    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeCsv(`${config.destinationId}-fresh.csv`, range(0, 2000)) } });
    expect((await waitForStatus(h, cycleDone(2), 60_000)).phase).toBe('synced');
    expect(await waitForCopies(cleared, 1)).toEqual([messageIdOf(cleared)]);
    // Still one of each: nothing lost, nothing doubled.
    expect(await copiesOf(entered)).toEqual([messageIdOf(entered)]);
    expect(existsSync(join(harness.dir, 'notices', 'deliveries', digestOf(entered), 'email.json'))).toBe(true);
    await h.terminate('alerts crash test done');
  });

  it('killed after the SMTP server accepted it, before the outbox recorded it: the resend carries the same Message-ID', async () => {
    const adv = newAdvertiser();
    const token = await harness.issueToken(adv);
    const config = destination(adv, { readinessWindow: '1h', alerts: { email: [OPS] } });
    const first = await startChild(token, 'after');
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const h = await start({ config, snapshot: { uri: writeCsv(`${config.destinationId}-old.csv`, range(0, 2000)), createdAt: old } });
    const epoch = harness.started.at(-1)!.firstRunId;
    const entered = `audience-sync/${config.destinationId}/${epoch}/1-stale_snapshot/entered`;

    const [, sentKey] = (await first.waitForLine(/^notice-sent (\S+)$/, 60_000)) as unknown as [string, string];
    expect(sentKey).toBe(entered);
    await kill(first);
    expect(await copiesOf(entered)).toEqual([messageIdOf(entered)]);
    expect(existsSync(join(harness.dir, 'notices', 'deliveries', digestOf(entered), 'email.json'))).toBe(false);

    await startChild(token);
    // The retry sent it again (the outbox could not know it had gone out): same Message-ID.
    const copies = await waitForCopies(entered, 2);
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(new Set(copies)).toEqual(new Set([messageIdOf(entered)]));
    expect((await waitForStatus(h, cycleDone(1), 60_000)).phase).toBe('stale_snapshot');
    // Recorded now: a later sweep or retry sends nothing more.
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(harness.dir, 'notices', 'deliveries', digestOf(entered), 'email.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(harness.dir, 'notices', 'deliveries', digestOf(entered), 'email.json'))).toBe(true);
    await h.terminate('alerts crash test done');
  });
});
