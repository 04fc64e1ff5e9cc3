import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { testTemporal, uniqueId } from '../../helpers/temporal';

/*
 * An audience destination that names an events destination: each snapshot it commits is
 * signalled to that destination's eventsExport (by the kernel's cross-lifecycle contract,
 * never by importing events export), whose audience trigger sends the enters and exits.
 * The events workflow is started by its type name, as another lifecycle would.
 */

const TOKEN_VAR = 'TTSYNC_TEST_NOTIFY_TOKEN';
const EVENTS_TOKEN_VAR = 'TTSYNC_TEST_NOTIFY_EVENTS_TOKEN';
const harness = useAudienceHarness({ name: 'notify', emulator: { processingDelay: 200 }, tokenVar: TOKEN_VAR, advertiserPrefix: '73', destinations: { identifiers: { identifiers: { email: 'email' } } } });
const eventsQueue = uniqueId('notify-events');
let native: NativeConnection | undefined;
let eventsWorker: RunningWorkers | undefined;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

beforeAll(async () => {
  native = await NativeConnection.connect({ address: testTemporal().address });
  eventsWorker = await createWorkers({
    temporal: testTemporal(),
    connection: native,
    roles: ['tiktok'],
    taskQueues: { tiktok: uniqueId('notify-tiktok') },
    events: { taskQueue: eventsQueue },
    shutdownGraceTime: '1s',
    activityDeps: { eventsExport: { tiktokEnv: { TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl, TIKTOK_TIMEOUT_MS: 5000 } } },
  });
});
afterAll(async () => {
  eventsWorker?.shutdown();
  await eventsWorker?.done;
  await native?.close();
  delete process.env[EVENTS_TOKEN_VAR];
});

function snapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email', ...ids.map((i) => `member${i}@example.com`)].join('\n') + '\n');
  return `file://${path}`;
}

describe('audience sync notifying events destinations', () => {
  it('turns the enters and exits of each committed snapshot into events', { timeout: 180_000 }, async () => {
    const advertiser = harness.newAdvertiser();
    await harness.issueToken(advertiser);
    const pixel = randomBytes(10).toString('hex').toUpperCase();
    const { access_token } = await harness.control<{ access_token: string }>('POST', 'event-source-tokens', { event_source_id: pixel, advertiser_id: advertiser });
    process.env[EVENTS_TOKEN_VAR] = access_token;
    const eventsId = uniqueId('vip-events').toLowerCase();
    const events = await harness.client.workflow.start('eventsExport', {
      taskQueue: harness.taskQueue,
      workflowId: WorkflowIds.eventsExport(eventsId),
      args: [
        {
          config: {
            destinationId: eventsId,
            source: 'web',
            eventSourceId: pixel,
            accessToken: `env:${EVENTS_TOKEN_VAR}`,
            input: { kind: 'audienceTrigger', keyColumn: 'email', on: ['enter', 'exit'] },
            event: { custom: 'VipMembership' },
            identifiers: { email: 'email' },
            storage: { workdir: join(harness.dir, 'events-work') },
          },
          queues: { data: harness.queues.data, events: eventsQueue },
        },
      ],
    });
    const audience = harness.destination(advertiser, { notifyEventsDestinations: [eventsId] });
    const first = Array.from({ length: 1200 }, (_, i) => i);
    const h = await harness.start({ config: audience, snapshot: { uri: snapshot('s1.csv', first) } });
    await waitForStatus(h, cycleDone(1), 90_000);
    const eventsStatus = () => harness.client.workflow.getHandle(events.workflowId).query<{ runs: number; currentRunId: string | null; lastRun: { sent: number; changes?: { enters: number; exits: number; baseline: boolean } } | null }>('eventsExportStatus');
    const untilRuns = async (n: number) => {
      for (let i = 0; ; i++) {
        const s = await eventsStatus();
        if (s.runs >= n && s.currentRunId === null && s.lastRun) return s;
        if (i > 600) throw new Error(`events runs never reached ${n}: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    expect((await untilRuns(1)).lastRun).toMatchObject({ sent: 0, changes: { enters: 1200, exits: 0, baseline: true } });

    // Five leave (0-4), five join (1200-1204).
    const second = [...first.slice(5), 1200, 1201, 1202, 1203, 1204];
    await h.signal(snapshotLandedSignal, { snapshot: { uri: snapshot('s2.csv', second) } });
    await waitForStatus(h, cycleDone(2), 90_000);
    expect((await untilRuns(2)).lastRun).toMatchObject({ sent: 10, changes: { enters: 5, exits: 5, baseline: false } });
    const source = await harness.control<{ events: Array<{ payload: { event: string; user: { email: string[] } } }> }>('GET', `event-sources/${pixel}`);
    expect(source.events.map((e) => e.payload.user.email[0]).sort()).toEqual([0, 1, 2, 3, 4, 1200, 1201, 1202, 1203, 1204].map((i) => sha(`member${i}@example.com`)).sort());
    expect(source.events.every((e) => e.payload.event === 'VipMembership')).toBe(true);
    await events.terminate('test done');
  });
});
