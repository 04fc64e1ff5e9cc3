import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { msToTs } from '@temporalio/common/lib/time';
import { afterAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { takeAudienceLeases } from '../../../src/audience-sync/audienceLeases';
import { audienceSyncSchedules } from '../../../src/audience-sync/schedules';
import { claimSegment } from '../../../src/audience-sync/segmentClaims';
import type { CheckResult, DoctorRun } from '../../../src/cli/commands/doctor';
import { openBlobStore } from '../../../src/storage';
import { applySchedules } from '../../../src/temporal/schedules';
import { ScheduleIds } from '../../../src/temporal/workflowIds';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { BIN, ROOT } from '../../helpers/cli';
import { testEnv, uniqueId } from '../../helpers/temporal';
import { clientFor } from '../tiktok/helpers';

/*
 * `ttsync doctor` against the real dev server and the TikTok emulator, one planted fault per
 * problem class: the CLI is a separate process (the operator's), the workers of this file
 * poll their unique queues here, and the registry is this file's folder. Each test reads the
 * one check it planted a fault for from --json, and the exit code.
 */

const TOKEN_VAR = 'TTSYNC_TEST_DOCTOR_TOKEN';
const harness = useAudienceHarness({
  name: 'doctor',
  emulator: { processingDelay: 200 },
  tokenVar: TOKEN_VAR,
  segmentRegistry: true,
  destinations: { label: 'doctor test' },
});
const { taskQueue, queues, issueToken, newAdvertiser } = harness;
const registryDir = () => join(harness.dir, 'registry');
const scheduleIds: string[] = [];

afterAll(async () => {
  for (const id of scheduleIds) await harness.client.schedule.getHandle(id).delete().catch(() => undefined);
});

function writeConfig(config: DestinationConfigInput): string {
  const path = join(harness.dir, `${config.destinationId}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

interface Doctor {
  code: number | null;
  stdout: string;
  stderr: string;
  run: DoctorRun;
  /** The result of one check: of the deployment, or of the (only) destination. */
  check(name: string, subject?: string): CheckResult;
}

/** `ttsync doctor --json` as an operator runs it, without blocking this process (the workers poll here). */
function doctor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Doctor> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, 'doctor', '--json', '--task-queue', taskQueue, '--data-queue', queues.data, '--tiktok-queue', queues.tiktok, ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS,
          TEMPORAL_NAMESPACE: testEnv().TEMPORAL_NAMESPACE,
          TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl,
          TTSYNC_SEGMENT_REGISTRY: registryDir(),
          ...env,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let run: DoctorRun;
      try {
        run = JSON.parse(stdout) as DoctorRun;
      } catch {
        reject(new Error(`doctor printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
        return;
      }
      const subjects = [...new Set(run.results.map((r) => r.subject))].filter((s) => s !== 'deployment');
      resolve({
        code,
        stdout,
        stderr,
        run,
        check: (name, subject) => {
          const s = subject ?? (['temporal', 'search-attributes', 'poller-control', 'poller-data', 'poller-tiktok', 'tiktok-api', 'registry', 'notices', 'encryption'].includes(name) ? 'deployment' : subjects[0]);
          const r = run.results.find((x) => x.subject === s && x.check === name);
          if (!r) throw new Error(`no check ${s}/${name} in:\n${stdout}`);
          return r;
        },
      });
    });
  });
}

/** Every FAIL of a run, as `subject/check`. */
const failures = (d: Doctor): string[] => d.run.results.filter((r) => r.status === 'fail').map((r) => `${r.subject}/${r.check}`);

/** Every object of a store (a registry, a workdir), for "the doctor left nothing there". */
async function objectsOf(uri: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of openBlobStore(uri).list()) out.push(info.key);
  return out.sort();
}
const registryFiles = (): Promise<string[]> => objectsOf(registryDir());

async function healthyDestination(extra: Partial<DestinationConfigInput> = {}): Promise<{ config: DestinationConfigInput; path: string }> {
  const advertiserId = newAdvertiser();
  await issueToken(advertiserId);
  const config = harness.destination(advertiserId, extra);
  return { config, path: writeConfig(config) };
}

async function applySchedule(config: DestinationConfigInput, q = queues): Promise<void> {
  const [c] = await audienceSyncSchedules.load(writeConfig(config));
  // 24h intervals fire at midnight UTC: never during the test.
  await applySchedules(harness.client, audienceSyncSchedules, [c!], { cadence: '24h', taskQueue, queues: q });
  scheduleIds.push(ScheduleIds.audienceSync(config.destinationId));
}

describe('ttsync doctor', { timeout: 120_000 }, () => {
  it('all ok: exit 0; a missing schedule is info, and a fail only with --expect-schedules; a schedule on other queues fails', async () => {
    const { config, path } = await healthyDestination();
    const before = await registryFiles();

    const first = await doctor(['--config', path]);
    expect(failures(first), first.stdout).toEqual([]);
    expect(first.code, first.stderr).toBe(0);
    for (const name of ['temporal', 'search-attributes', 'poller-control', 'poller-data', 'poller-tiktok', 'registry']) expect(first.check(name).status, name).toBe('ok');
    expect(first.check('tiktok-api')).toMatchObject({ status: 'info', message: expect.stringContaining(harness.emu.apiBaseUrl) });
    for (const name of ['token', 'advertiser', 'audience', 'segment-claim', 'audience-lease', 'storage']) expect(first.check(name).status, name).toBe('ok');
    expect(first.check('audience').message).toMatch(/has 0 of 400 custom audiences/);
    // The notices path (its own checks are tested in test/integration/notices/doctor.test.ts): outbox
    // writable, and without any route this destination's alerts would reach nobody.
    expect(['ok', 'info']).toContain(first.check('notices').status);
    expect(first.check('encryption').status).toBe(process.env.TTSYNC_PAYLOAD_KEYS ? 'ok' : 'info');
    expect(first.check('alerts')).toMatchObject({ status: process.env.TTSYNC_NOTICE_EMAIL || process.env.TTSYNC_NOTICE_WEBHOOK ? 'ok' : 'info' });
    expect(first.check('schedule')).toMatchObject({ status: 'info', message: expect.stringContaining(`no schedule ${ScheduleIds.audienceSync(config.destinationId)}`) });
    // Read-only: no claim, no lease, no probe left behind.
    expect(await registryFiles()).toEqual(before);
    expect(await objectsOf(config.storage!.workdir!)).toEqual([]);

    const expecting = await doctor(['--config', path, '--expect-schedules']);
    expect(expecting.code).toBe(1);
    expect(failures(expecting)).toEqual([`${config.destinationId}/schedule`]);
    expect(expecting.check('schedule').advice).toMatch(/ttsync schedules apply --config .* --task-queue /);
    expect(expecting.stderr).toMatch(/doctor: 1 check failed/);

    await applySchedule(config);
    const scheduled = await doctor(['--config', path, '--expect-schedules']);
    expect(scheduled.code, scheduled.stdout).toBe(0);
    expect(scheduled.check('schedule')).toMatchObject({ status: 'ok', message: expect.stringContaining(`starts audienceSyncTick on "${taskQueue}"`) });

    // A paused schedule is a warning: the run still exits 0.
    await harness.client.schedule.getHandle(ScheduleIds.audienceSync(config.destinationId)).pause('doctor test');
    const paused = await doctor(['--config', path, '--expect-schedules']);
    expect(paused.code, paused.stdout).toBe(0);
    expect(paused.check('schedule')).toMatchObject({ status: 'warn', message: expect.stringContaining('is paused (doctor test)'), advice: expect.stringContaining('--unpause') });
    expect(paused.run).toMatchObject({ ok: true, counts: { warn: 1, fail: 0 } });

    // The same schedule applied for other activity queues: its syncs would wait for workers that are not there.
    await applySchedule(config, { data: 'elsewhere-data', tiktok: queues.tiktok });
    const stale = await doctor(['--config', path]);
    expect(stale.code).toBe(1);
    expect(stale.check('schedule')).toMatchObject({ status: 'fail', message: expect.stringContaining(`data queue is "elsewhere-data", not "${queues.data}"`) });
  });

  it('the text report: one line per check, the advice on the line, a summary', async () => {
    const { path } = await healthyDestination({ accessToken: `env:TTSYNC_DOCTOR_UNSET_${randomBytes(4).toString('hex').toUpperCase()}` });
    const text = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'doctor', '--config', path, '--task-queue', taskQueue, '--data-queue', queues.data, '--tiktok-queue', queues.tiktok], {
        cwd: ROOT,
        env: { ...process.env, TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: testEnv().TEMPORAL_NAMESPACE, TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl, TTSYNC_SEGMENT_REGISTRY: registryDir() },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(text.code).toBe(1);
    const lines = text.out.trimEnd().split('\n');
    expect(lines.find((l) => / token +FAIL +secret env:TTSYNC_DOCTOR_UNSET_\w+: environment variable \w+ is not set .* => provide the token/.test(l)), text.out).toBeDefined();
    expect(lines.find((l) => / advertiser +skip +not run: token did not pass$/.test(l)), text.out).toBeDefined();
    expect(lines.find((l) => / role +skip +not run: advertiser did not pass$/.test(l)), text.out).toBeDefined();
    // advertiser, role and audience wait on the token.
    expect(lines.at(-1)).toMatch(/^1 problem found: 1 config, \d+ checks: \d+ ok, \d+ info, 0 warn, 1 FAIL, 3 skipped$/);
  });

  it('unset token variable: token FAIL, the TikTok checks skipped', async () => {
    const varName = `TTSYNC_DOCTOR_UNSET_${randomBytes(4).toString('hex').toUpperCase()}`;
    const { path } = await healthyDestination({ accessToken: `env:${varName}` });
    const d = await doctor(['--config', path]);
    expect(d.code).toBe(1);
    expect(d.check('token')).toMatchObject({ status: 'fail', message: `secret env:${varName}: environment variable ${varName} is not set in the worker's environment` });
    expect(d.check('advertiser').status).toBe('skip');
    expect(d.check('audience').status).toBe('skip');
    expect(failures(d)).toHaveLength(1);
  });

  it('revoked token: token FAIL with the reauthorization advice', async () => {
    const advertiserId = newAdvertiser();
    const varName = 'TTSYNC_TEST_DOCTOR_REVOKED';
    const { access_token } = await harness.control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiserId] });
    await harness.control('POST', 'tokens/revoke', { access_token });
    const config = harness.destination(advertiserId, { accessToken: `env:${varName}` });
    const d = await doctor(['--config', writeConfig(config)], { [varName]: access_token });
    expect(d.code).toBe(1);
    expect(d.check('token')).toMatchObject({ status: 'fail', message: expect.stringContaining('code 40105') });
    expect(d.check('token').advice).toContain(`ttsync audience reauthorized ${config.destinationId}`);
    expect(d.stdout).not.toContain(access_token);
  });

  it('advertiser not in the token: advertiser FAIL (PermissionDenied) while the token itself is valid', async () => {
    const mine = newAdvertiser();
    await issueToken(mine);
    const config = harness.destination(newAdvertiser());
    const d = await doctor(['--config', writeConfig(config)]);
    expect(d.code).toBe(1);
    expect(d.check('token').status).toBe('ok');
    expect(d.check('advertiser')).toMatchObject({ status: 'fail', message: expect.stringContaining('code 40001') });
    expect(d.check('advertiser').advice).toMatch(/lacks advertiser \d+/);
    expect(d.check('audience').status).toBe('skip');
  });

  it('audience cap: warn from 380, FAIL at 400 for a create destination', async () => {
    const { config, path } = await healthyDestination();
    const tiktok = clientFor(harness.emu, process.env[TOKEN_VAR]);
    const plant = async (n: number) => {
      for (let i = 0; i < n; i++) await tiktok.createSegmentAudience({ advertiserId: config.advertiserId, name: `planted ${i} ${randomBytes(3).toString('hex')}` });
    };
    await plant(385);
    const near = await doctor(['--config', path]);
    expect(near.code, near.stdout).toBe(0);
    expect(near.check('audience')).toMatchObject({ status: 'warn', message: expect.stringContaining('has 385 of 400 custom audiences') });
    await plant(15);
    const full = await doctor(['--config', path]);
    expect(full.code).toBe(1);
    expect(full.check('audience')).toMatchObject({ status: 'fail', message: expect.stringContaining('has 400 of 400 custom audiences: the cap is reached') });
    expect(full.check('audience').advice).toMatch(/delete audiences/);
    // A destination whose audience exists (it holds its lease) needs no new slot: only a recreate would fail.
    await takeAudienceLeases(openBlobStore(registryDir()), { advertiserId: config.advertiserId, destinationId: config.destinationId, audiences: [{ kind: 'id', value: '7777777777' }] }, new Date());
    const own = await doctor(['--config', path]);
    expect(own.code, own.stdout).toBe(0);
    expect(own.check('audience')).toMatchObject({ status: 'warn', message: expect.stringContaining("this destination's audience 7777777777 exists, but recreating it would fail") });
    expect(own.check('audience-lease')).toMatchObject({ status: 'ok', message: 'this destination holds the writer lease on audience 7777777777' });
  });

  it('a segment claimed for another advertiser, and an audience leased by another destination: FAIL each, nothing written', async () => {
    const registry = openBlobStore(registryDir());
    const owner = newAdvertiser();
    const segment = uniqueId('doctor-segment');
    await claimSegment(registry, { destinationId: 'doctor-owner', advertiserId: owner, sourceSegmentId: segment, separateCopy: false, audienceName: 'ttsync doctor owner' }, new Date());

    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const name = `doctor leased ${randomBytes(3).toString('hex')}`;
    await clientFor(harness.emu, process.env[TOKEN_VAR]).createSegmentAudience({ advertiserId, name });
    await takeAudienceLeases(registry, { advertiserId, destinationId: 'doctor-holder', audiences: [{ kind: 'name', value: name }] }, new Date());
    const config = harness.destination(advertiserId, { sourceSegmentId: segment, action: 'append', audienceName: name });
    const before = await registryFiles();

    const d = await doctor(['--config', writeConfig(config)]);
    expect(d.code).toBe(1);
    expect(d.check('audience')).toMatchObject({ status: 'ok', message: expect.stringContaining(`the audience named "${name}" is `) });
    expect(d.check('segment-claim')).toMatchObject({ status: 'fail', message: expect.stringContaining(`is already synced to advertiser ${owner} by destination "doctor-owner"`) });
    expect(d.check('segment-claim').advice).toContain('ttsync audience release doctor-owner');
    expect(d.check('audience-lease')).toMatchObject({ status: 'fail', message: expect.stringContaining(`the audience named "${name}" of advertiser ${advertiserId} is written by destination "doctor-holder"`) });
    expect(d.check('audience-lease').advice).toContain('ttsync audience release doctor-holder');
    expect(failures(d).sort()).toEqual([`${config.destinationId}/audience-lease`, `${config.destinationId}/segment-claim`]);
    expect(await registryFiles()).toEqual(before);
  });

  it('unwritable storage: a workdir under a file is a storage FAIL; an unreachable registry fails the registry and skips the conflict checks', async () => {
    const blocker = join(harness.dir, `not-a-folder-${randomBytes(3).toString('hex')}`);
    writeFileSync(blocker, 'a file where a folder should be\n');
    const { path } = await healthyDestination({ storage: { workdir: join(blocker, 'work') } });
    const d = await doctor(['--config', path]);
    expect(d.code).toBe(1);
    expect(d.check('storage')).toMatchObject({ status: 'fail', message: expect.stringContaining(`the workdir ${join(blocker, 'work')} cannot be written`) });
    expect(failures(d)).toHaveLength(1);

    const badRegistry = join(blocker, 'registry');
    const r = await doctor(['--config', path, '--registry', badRegistry]);
    expect(r.check('registry')).toMatchObject({ status: 'fail', message: expect.stringContaining(`the registry ${badRegistry} (--registry) cannot be written`) });
    expect(r.check('segment-claim').status).toBe('skip');
    expect(r.check('audience-lease').status).toBe('skip');
  });

  it('missing search attributes: a namespace without them fails, with the command that registers them', async () => {
    const namespace = uniqueId('doctor-ns');
    await harness.client.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // A new namespace reaches the frontend's cache within seconds.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await harness.client.connection.workflowService.describeNamespace({ namespace }).then(
        () => true,
        () => false,
      );
      if (ready || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const { path } = await healthyDestination();
    const d = await doctor(['--config', path], { TEMPORAL_NAMESPACE: namespace });
    expect(d.code).toBe(1);
    expect(d.check('search-attributes')).toMatchObject({ status: 'fail', message: expect.stringContaining(`namespace "${namespace}" lacks the search attributes DestinationId, AdvertiserId, AudienceId, Lifecycle, SyncState`) });
    expect(d.check('search-attributes').advice).toContain(`temporal operator search-attribute create --namespace ${namespace} --name DestinationId --type Keyword`);
    // Nobody polls this file's queues in that namespace either.
    expect(d.check('poller-control').status).toBe('fail');

    const missing = await doctor(['--config', path], { TEMPORAL_NAMESPACE: uniqueId('no-such-namespace') });
    expect(missing.check('search-attributes')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^namespace "no-such-namespace-\w+" does not exist/) });
  });

  it('no worker on a queue: that queue FAILs, the others pass', async () => {
    const { path } = await healthyDestination();
    const nobody = uniqueId('doctor-nobody-polls');
    const d = await doctor(['--config', path, '--data-queue', nobody]);
    expect(d.code).toBe(1);
    expect(d.check('poller-data')).toMatchObject({ status: 'fail', message: `no worker polls activity tasks of the data queue "${nobody}": work sent there waits` });
    expect(d.check('poller-data').advice).toContain('--data-queue');
    expect(d.check('poller-control').status).toBe('ok');
    expect(d.check('poller-tiktok').status).toBe('ok');
  });

  it('a check that hangs is a FAIL after --timeout, and the others still run', async () => {
    const { path } = await healthyDestination();
    await harness.control('POST', 'faults', { latency: '10s', latencyShare: 1, seed: 1 });
    try {
      const t0 = Date.now();
      const d = await doctor(['--config', path, '--timeout', '3s']);
      expect(d.code).toBe(1);
      expect(d.check('token')).toMatchObject({ status: 'fail', message: 'no answer within 3s' });
      expect(d.check('storage').status).toBe('ok');
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await harness.control('POST', 'faults', { latency: 0, latencyShare: 0 });
    }
  });

  it('append to an audience id TikTok does not have: audience FAIL; a storage.snapshot not there yet: warn', async () => {
    const snapshot = join(harness.dir, `not-exported-yet-${randomBytes(3).toString('hex')}.csv`);
    const { config, path } = await healthyDestination({ action: 'append', audienceId: '1234567890123', storage: { workdir: join(harness.dir, 'append-work'), snapshot } });
    const d = await doctor(['--config', path]);
    expect(d.code).toBe(1);
    expect(d.check('audience')).toMatchObject({ status: 'fail', message: `audience 1234567890123 does not exist in advertiser ${config.advertiserId}` });
    expect(d.check('snapshot')).toMatchObject({ status: 'warn', message: `storage.snapshot ${snapshot} does not exist (yet)` });
    expect(failures(d)).toEqual([`${config.destinationId}/audience`]);
  });

  it("role: read through the Business Center, Admin ok, Analyst FAIL with the advice; outside any Business Center it is unverified (info), since a read of the advertiser proves no role", async () => {
    const admin = await healthyDestination();
    harness.emu.control.setRoles({ [admin.config.advertiserId]: 'ADMIN' });
    const ok = await doctor(['--config', admin.path]);
    expect(ok.check('role')).toMatchObject({ status: 'ok', message: expect.stringContaining('role Ad Account Admin (read through Business Center') });

    const analyst = await healthyDestination();
    harness.emu.control.setRoles({ [analyst.config.advertiserId]: 'ANALYST' });
    const weak = await doctor(['--config', analyst.path]);
    expect(weak.code).toBe(1);
    // The advertiser itself is readable: only the role check can tell.
    expect(weak.check('advertiser').status).toBe('ok');
    expect(weak.check('role')).toMatchObject({ status: 'fail', message: expect.stringContaining('role Ad Account Analyst') });
    expect(weak.check('role').advice).toMatch(/Ad Account Operator or Ad Account Admin/);
    expect(failures(weak)).toEqual([`${analyst.config.destinationId}/role`]);

    const outside = await healthyDestination();
    harness.emu.control.setRoles({ [admin.config.advertiserId]: null, [analyst.config.advertiserId]: null });
    const unverified = await doctor(['--config', outside.path]);
    expect(unverified.code).toBe(0);
    expect(unverified.check('role')).toMatchObject({ status: 'info', message: expect.stringContaining('role unverified') });
    expect(unverified.check('role').advice).toMatch(/Ad Account Operator or Ad Account Admin/);
  });

  it('a folder of configs: every destination checked, invalid configs exit 2 and check nothing', async () => {
    const folder = join(harness.dir, `set-${randomBytes(3).toString('hex')}`);
    mkdirSync(folder);
    const a = await healthyDestination();
    const b = await healthyDestination();
    writeFileSync(join(folder, 'a.json'), JSON.stringify(a.config));
    writeFileSync(join(folder, 'b.json'), JSON.stringify(b.config));
    const d = await doctor(['--config', folder]);
    // issueToken put the last token in the variable: a's advertiser is not in it.
    expect(d.check('advertiser', a.config.destinationId).status).toBe('fail');
    expect(d.check('advertiser', b.config.destinationId).status).toBe('ok');

    writeFileSync(join(folder, 'c.json'), JSON.stringify({ ...b.config, destinationId: 'Not A Slug' }));
    const bad = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'doctor', '--config', folder], { cwd: ROOT, env: process.env });
      let stderr = '';
      child.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/c\.json:\n {2}\$\.destinationId: must be a slug/);
    expect(bad.stderr).toMatch(/nothing was checked/);
  });
});
