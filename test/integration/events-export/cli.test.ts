import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventsDestinationConfigInput } from '../../../src/events-export/config';
import { cliAgainstTestServer } from '../../helpers/cli';
import { useEventsHarness } from '../../helpers/eventsHarness';

/*
 * `ttsync events export|status` as an operator runs them: the compiled CLI against the test
 * dev server, the workers of this file on unique queues, the emulator over HTTP.
 */

const h = useEventsHarness({ name: 'events-cli' });
const ADV = '7100000000000000002';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('ttsync events', () => {
  it('exports a file with --wait --json and shows the status', { timeout: 120_000 }, async () => {
    const pixel = randomBytes(10).toString('hex').toUpperCase();
    await h.sourceToken(pixel, ADV, 'TTSYNC_TEST_CLI_EVENTS_TOKEN');
    const destinationId = `cli-${Date.now().toString(36)}`;
    const config: EventsDestinationConfigInput = {
      destinationId,
      source: 'web',
      eventSourceId: pixel,
      accessToken: 'env:TTSYNC_TEST_CLI_EVENTS_TOKEN',
      input: { kind: 'files' },
      event: { standard: 'AddToCart' },
      eventTimeField: 'ts',
      identifiers: { email: 'email' },
    };
    const cfgPath = join(h.dir, 'events.json');
    writeFileSync(cfgPath, JSON.stringify(config));
    const csv = join(h.dir, 'cart.csv');
    const ts = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(csv, `ts,email\n${ts},a@example.com\n${ts},b@example.com\n${ts},broken\n`);
    const queues = ['--task-queue', h.taskQueue, '--data-queue', h.queues.data, '--events-queue', h.queues.events];
    const r = await cliAgainstTestServer(['events', 'export', '--config', cfgPath, '--file', csv, '--wait', '--json', ...queues]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ destinationId, ok: true, phase: 'exported', sent: 2, rejected: { invalid_email: 1 }, batches: 1, requests: 1, error: null });
    expect((summary.rejectsUris as string[])[0]).toMatch(/^file:\/\/.*rejects\.csv$/);
    expect(r.stdout).not.toContain('a@example.com');
    const inspected = await h.source(pixel);
    expect(inspected.events.map((e) => (e.payload.user as { email: string[] }).email[0]).sort()).toEqual([sha('a@example.com'), sha('b@example.com')].sort());

    const st = await cliAgainstTestServer(['events', 'status', `events-export:${destinationId}`, '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ destinationId, phase: 'exported', runs: 1, lastRun: { sent: 2 } });
    const text = await cliAgainstTestServer(['events', 'status', destinationId]);
    expect(text.stdout).toContain(`destination ${destinationId} (web ${pixel}): exported`);
    h.started.push(`events-export:${destinationId}`);
  });

  it('applies a Schedule whose tick exports the config\'s input through the one workflow', { timeout: 120_000 }, async () => {
    const pixel = randomBytes(10).toString('hex').toUpperCase();
    await h.sourceToken(pixel, ADV, 'TTSYNC_TEST_SCHEDULED_EVENTS_TOKEN');
    const destinationId = `sched-${Date.now().toString(36)}`;
    const csv = join(h.dir, 'scheduled.csv');
    writeFileSync(csv, `ts,email\n${new Date(Date.now() - 60_000).toISOString()},s@example.com\n`);
    const cfgPath = join(h.dir, 'scheduled.json');
    writeFileSync(
      cfgPath,
      JSON.stringify({ destinationId, source: 'web', eventSourceId: pixel, accessToken: 'env:TTSYNC_TEST_SCHEDULED_EVENTS_TOKEN', input: { kind: 'files', uri: `file://${csv}` }, event: { standard: 'Search' }, eventTimeField: 'ts', identifiers: { email: 'email' } }),
    );
    const queues = ['--task-queue', h.taskQueue, '--data-queue', h.queues.data, '--events-queue', h.queues.events];
    // The quick data steps' timeout goes into the workflow's timing (the scheduled runs below run with it).
    const apply = ['schedules', 'apply', '--lifecycle', 'events-export', '--config', cfgPath, '--cadence', '1h', '--data-step-timeout', '3m', '--json', ...queues];
    const applied = await cliAgainstTestServer(apply);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout).changes).toEqual([{ destinationId, scheduleId: `events-export-schedule:${destinationId}`, outcome: 'created' }]);
    const again = await cliAgainstTestServer(apply);
    expect(JSON.parse(again.stdout).changes[0].outcome).toBe('unchanged');
    const schedule = h.client.schedule.getHandle(`events-export-schedule:${destinationId}`);
    expect(((await schedule.describe()).action.args?.[0] as { timing?: unknown }).timing).toEqual({ cadence: '1h', dataStepTimeout: '3m' });
    try {
      await schedule.trigger();
      h.started.push(`events-export:${destinationId}`);
      for (let i = 0; ; i++) {
        const inspected = await h.source(pixel);
        if (inspected.received === 1) {
          expect((inspected.events[0]!.payload.user as { email: string[] }).email).toEqual([sha('s@example.com')]);
          break;
        }
        if (i > 300) throw new Error('the scheduled export did not arrive');
        await new Promise((r) => setTimeout(r, 200));
      }
      // The schedule again, the file unchanged: skipped (past TikTok's 48 h window it would count twice).
      const status = () => h.client.workflow.getHandle(`events-export:${destinationId}`).query<{ runs: number; answered: unknown[]; lastInput?: { uri: string } }>('eventsExportStatus');
      const answeredAfter = async (n: number) => {
        for (let i = 0; ; i++) {
          const s = await status();
          if (s.answered.length >= n) return s;
          if (i > 300) throw new Error(`the tick was not answered: ${JSON.stringify(s)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      await answeredAfter(1);
      await schedule.trigger();
      expect(await answeredAfter(2)).toMatchObject({ runs: 1, lastInput: { uri: `file://${csv}` } });
      expect((await h.source(pixel)).received).toBe(1);
      writeFileSync(csv, `ts,email\n${new Date(Date.now() - 30_000).toISOString()},t@example.com\n`);
      await schedule.trigger();
      expect(await answeredAfter(3)).toMatchObject({ runs: 2 });
      expect((await h.source(pixel)).received).toBe(2);
    } finally {
      await schedule.delete();
    }
  });

  it('doctor checks an events destination: the events queue, token, workdir, input and schedule', { timeout: 120_000 }, async () => {
    const destinationId = `doc-${Date.now().toString(36)}`;
    const cfgPath = join(h.dir, 'doctor.json');
    const missing = join(h.dir, 'not-yet.csv');
    writeFileSync(
      cfgPath,
      JSON.stringify({ destinationId, source: 'offline', eventSourceId: '1616318632825', accessToken: 'env:TTSYNC_TEST_DOCTOR_TOKEN', input: { kind: 'files', uri: `file://${missing}` }, event: { standard: 'Purchase' }, eventTimeField: 'ts', identifiers: { email: 'email' }, storage: { workdir: join(h.dir, 'doctor-work') } }),
    );
    const queues = ['--task-queue', h.taskQueue, '--data-queue', h.queues.data, '--tiktok-queue', h.tiktokQueue, '--events-queue', h.queues.events];
    const run = async (env: NodeJS.ProcessEnv) => {
      const r = await cliAgainstTestServer(['doctor', '--lifecycle', 'events-export', '--config', cfgPath, '--json', ...queues], { env });
      const out = JSON.parse(r.stdout) as { ok: boolean; results: Array<{ subject: string; check: string; status: string; message: string }> };
      return { code: r.code, out, status: Object.fromEntries(out.results.map((x) => [`${x.subject}/${x.check}`, x.status])) };
    };
    const bad = await run({ TTSYNC_TEST_DOCTOR_TOKEN: '' });
    expect(bad.code).toBe(1);
    expect(bad.status).toMatchObject({ 'deployment/poller-events': 'ok', [`${destinationId}/token`]: 'fail', [`${destinationId}/storage`]: 'ok', [`${destinationId}/input`]: 'warn', [`${destinationId}/schedule`]: 'info' });
    const good = await run({ TTSYNC_TEST_DOCTOR_TOKEN: 'a-token-value-for-the-doctor' });
    expect(good.code).toBe(0);
    expect(good.status[`${destinationId}/token`]).toBe('ok');
    expect(JSON.stringify(good.out)).not.toContain('a-token-value-for-the-doctor');
  });

  it('ttsync rerun resets a run that failed on a missing file once the file is there', { timeout: 120_000 }, async () => {
    const pixel = randomBytes(10).toString('hex').toUpperCase();
    await h.sourceToken(pixel, ADV, 'TTSYNC_TEST_RERUN_EVENTS_TOKEN');
    const destinationId = `rerun-${Date.now().toString(36)}`;
    const cfgPath = join(h.dir, 'rerun.json');
    const late = join(h.dir, 'late.csv');
    writeFileSync(cfgPath, JSON.stringify({ destinationId, source: 'web', eventSourceId: pixel, accessToken: 'env:TTSYNC_TEST_RERUN_EVENTS_TOKEN', input: { kind: 'files' }, event: { standard: 'Lead' }, eventTimeField: 'ts', identifiers: { email: 'email' } }));
    const queues = ['--task-queue', h.taskQueue, '--data-queue', h.queues.data, '--events-queue', h.queues.events];
    const failed = await cliAgainstTestServer(['events', 'export', '--config', cfgPath, '--file', late, '--wait', '--json', ...queues]);
    h.started.push(`events-export:${destinationId}`);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ ok: false, phase: 'error', error: { type: 'StorageObjectMissing' } });
    writeFileSync(late, `ts,email\n${new Date(Date.now() - 60_000).toISOString()},late@example.com\n`);
    const r = await cliAgainstTestServer(['rerun', `events-export:${destinationId}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; ; i++) {
      const inspected = await h.source(pixel);
      if (inspected.received === 1) {
        expect((inspected.events[0]!.payload.user as { email: string[] }).email).toEqual([sha('late@example.com')]);
        break;
      }
      if (i > 300) throw new Error(`the re-run did not send the event: ${r.stdout}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  });

  it('refuses a bad config naming the file and the JSON path, and starts nothing', async () => {
    const cfgPath = join(h.dir, 'bad.json');
    writeFileSync(cfgPath, JSON.stringify({ destinationId: 'bad-one', source: 'offline', eventSourceId: 'A1T8T4UYGVIQA8ORZMX9', accessToken: 'env:X', input: { kind: 'files' }, event: { custom: 'Mine' }, eventTimeField: 'ts', identifiers: { email: 'email' } }));
    const r = await cliAgainstTestServer(['events', 'export', '--config', cfgPath, '--file', join(h.dir, 'x.csv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(cfgPath);
    expect(r.stderr).toContain('$.eventSourceId');
    expect(r.stderr).toContain('$.event.custom');
  });
});
