import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { requestEventsExport, waitForEventsRun } from '../../../src/events-export/client';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { createWorkers, defaultWorkflowBundlePath, type RunningWorkers } from '../../../src/worker';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { temporalClient, testEnv, testTemporal, uniqueId } from '../../helpers/temporal';
import { emulatorControl, emulatorFor } from '../tiktok/helpers';

/*
 * A worker SIGKILLed in the middle of a 200,000-event export, then a new one started: every
 * event reaches the emulator with exactly one event_id per row, each counted once after
 * TikTok's dedup, and the batches acknowledged before the kill are not sent again (only
 * those in flight at the kill may be). The data and events activities run in a child process
 * (test/fixtures/events-worker.ts, from dist/); the workflow runs here from the built bundle.
 */

const N = 200_000;
const TOKEN_VAR = 'TTSYNC_TEST_EVENTS_CRASH_TOKEN';
const ADV = '7100000000000000003';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let emu: RunningEmulator;
let dir: string;
let client: Client;
let native: NativeConnection;
let control: RunningWorkers;
let script: string;
const children = new Set<ChildProcessLines>();
const taskQueue = uniqueId('events-crash-control');
const queues = { data: uniqueId('events-crash-data'), tiktok: uniqueId('events-crash-tiktok'), events: uniqueId('events-crash-events') };

beforeAll(async () => {
  script = compileFixture('events-worker');
  emu = await emulatorFor({ eventLogLimit: 400_000 });
  dir = mkdtempSync(join(tmpdir(), 'ttsync-events-crash-'));
  const temporal = testTemporal();
  client = await temporalClient(temporal);
  native = await NativeConnection.connect({ address: temporal.address });
  control = await createWorkers({ temporal, connection: native, roles: ['control'], taskQueues: { control: taskQueue }, workflowBundlePath: defaultWorkflowBundlePath(), shutdownGraceTime: '1s' });
});

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  control?.shutdown();
  await control?.done;
  await native?.close();
  await client?.connection.close();
  await emu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env[TOKEN_VAR];
});

async function worker(): Promise<ChildProcessLines> {
  const c = await spawnFixture(script, {
    ...testEnv(),
    TTSYNC_FIXTURE_QUEUES: JSON.stringify(queues),
    TTSYNC_FIXTURE_WORKDIR: join(dir, 'work'),
    TTSYNC_FIXTURE_API: emu.apiBaseUrl,
  });
  children.add(c);
  return c;
}

describe('events export crash', () => {
  it('resumes from the ledger after SIGKILL: every event once, no event under two ids', { timeout: 600_000 }, async () => {
    const pixel = randomBytes(10).toString('hex').toUpperCase();
    const { access_token } = await emulatorControl<{ access_token: string }>(emu, 'POST', 'event-source-tokens', { event_source_id: pixel, advertiser_id: ADV });
    process.env[TOKEN_VAR] = access_token;
    const path = join(dir, 'big.csv');
    const ts = new Date(Date.now() - 3_600_000).toISOString();
    const out = createWriteStream(path);
    out.write('ts,email,order\n');
    const expectedIds = new Set<string>();
    for (let i = 0; i < N; i++) {
      const row = [ts, `buyer${i}@example.com`, `o-${i}`];
      if (!out.write(`${row.join(',')}\n`)) await once(out, 'drain');
      expectedIds.add(sha(`ttsync-event-id/v1\u0000file\u0000${pixel}\u0000${sha(row.map((c) => `${c}\u0000`).join(''))}`).slice(0, 32));
    }
    out.end();
    await once(out, 'finish');

    const first = await worker();
    const destinationId = `crash-${Date.now().toString(36)}`;
    const config = {
      destinationId,
      source: 'web' as const,
      eventSourceId: pixel,
      accessToken: `env:${TOKEN_VAR}`,
      input: { kind: 'files' as const },
      event: { standard: 'Purchase' },
      eventTimeField: 'ts',
      identifiers: { email: 'email' },
      properties: { order_id: 'order' },
    };
    const req = await requestEventsExport(client, { config, input: { uri: pathToFileURL(path).href }, taskQueue, queues, timing: { cadence: '1h', heartbeatTimeout: '3s' } });
    try {
      // Killed once a fifth of the batches are acknowledged, with others in flight.
      await first.waitForLine(/^acked \d+$/, 240_000);
      for (;;) {
        if (first.lines.filter((l) => l.startsWith('acked ')).length >= 40) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await first.stop('SIGKILL');
      children.delete(first);
      const ackedBeforeKill = new Set(first.lines.filter((l) => l.startsWith('acked ')).map((l) => Number(l.slice(6))));
      expect(ackedBeforeKill.size).toBeLessThan(200);

      const second = await worker();
      const { status, ok } = await waitForEventsRun(client, destinationId, req.requestId, { timeoutMs: 400_000, pollMs: 500 });
      expect(ok, JSON.stringify(status.lastError)).toBe(true);
      expect(status.lastRun).toMatchObject({ events: N, sent: N, batches: 200 });
      // The new worker skipped every batch the first one had acknowledged.
      const resent = second.lines.filter((l) => l.startsWith('acked ')).map((l) => Number(l.slice(6))).filter((b) => ackedBeforeKill.has(b));
      expect(resent).toEqual([]);

      const source = await emulatorControl<{ received: number; deduplicated: number; events: Array<{ eventId: string; deduplicated: boolean }> }>(emu, 'GET', `event-sources/${pixel}?limit=400000`);
      const kept = source.events.filter((e) => !e.deduplicated).map((e) => e.eventId);
      expect(kept.length).toBe(N);
      expect(new Set(kept)).toEqual(expectedIds);
      // Only batches in flight at the kill were sent twice: at most 4 lanes of one batch each.
      expect(source.deduplicated).toBeLessThanOrEqual(4 * 1000);
      expect(source.received).toBe(N + source.deduplicated);
    } finally {
      await client.workflow.getHandle(WorkflowIds.eventsExport(destinationId)).terminate('test done').catch(() => undefined);
    }
  });
});
