import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTikTokAudienceActivities, type CustomerFileRef, type TikTokTarget } from '../../../activities/audience-sync/tiktok';
import type { RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, digests, emulatorFor, fileOf, emulatorControl } from '../tiktok/helpers';
import { rejectionOf } from '../../helpers/rejection';
import { createAudienceDirect } from '../../helpers/tiktokDirect';

let emu: RunningEmulator;
let dir: string;
let token: string;
const TOKEN_VAR = 'TTSYNC_TEST_AUDIENCE_TOKEN';

const control = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(emu, method, path, body);

const acts = () =>
  createTikTokAudienceActivities({
    tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_MAX_ATTEMPTS: 1, TIKTOK_TIMEOUT_MS: 5000 },
  });

const target = (): TikTokTarget => ({ advertiserId: ADVERTISER, accessTokenRef: `env:${TOKEN_VAR}`, appId: 'audience-activities-test' });

function customerFile(name: string, ids: string[]): CustomerFileRef {
  const content = fileOf(ids);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { uri: `file://${path}`, calculateType: 'EMAIL_SHA256', md5: createHash('md5').update(content).digest('hex') };
}

/** MockActivityEnvironment.run with the activity's own types (its generic infers unknown). */
function run<A, R>(env: MockActivityEnvironment, fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return env.run(fn, input) as Promise<R>;
}

beforeAll(async () => {
  // Processing lasts until a test ends it (finish-processing), so no assertion races the clock.
  emu = await emulatorFor({ processingDelay: 600_000, matchRate: 0.5 });
  dir = mkdtempSync(join(tmpdir(), 'ttsync-audience-acts-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
  delete process.env[TOKEN_VAR];
});
beforeEach(async () => {
  await control('POST', 'reset');
  // Faults merge into the ones set: each test starts from none.
  await control('POST', 'faults', { throttle: 0, error: 0, http503: 0, drop: 0, dropAfter: 0, latency: 0, rules: [] });
  await control('POST', 'sparse-answers', { enabled: false });
  token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADVERTISER] })).access_token;
  process.env[TOKEN_VAR] = token;
});

describe('TikTok audience activities against the emulator over HTTP', () => {
  // Sparse answers: every field TikTok does not always send is absent or null (src/emulator/sparse.ts).
  it.each([{ sparse: false }, { sparse: true }])('uploads, creates (once), waits out processing, appends and removes: the audience holds the exact set (sparse answers: $sparse)', async ({ sparse }) => {
    await control('POST', 'sparse-answers', { enabled: sparse });
    const env = new MockActivityEnvironment();
    const a = acts();
    const first = digests(1500);
    const enters = digests(300);
    const exits = first.slice(0, 200);

    const [up1] = await run(env, a.uploadCustomerFiles, { ...target(), files: [customerFile('first.csv', first)] });
    expect(up1?.filePath).toMatch(/^.{16}$/);
    const created = await run(env, a.createCustomAudience, {
      ...target(),
      name: 'ttsync activities test',
      calculateType: 'EMAIL_SHA256',
      filePaths: [up1!.filePath],
    });
    expect(created.created).toBe(true);
    // A retried create (e.g. after a timeout) finds the audience instead of making a second one.
    const again = await run(env, a.createCustomAudience, {
      ...target(),
      name: 'ttsync activities test',
      calculateType: 'EMAIL_SHA256',
      filePaths: [up1!.filePath],
    });
    expect(again).toEqual({ audienceId: created.audienceId, created: false });
    expect(await run(env, a.countCustomAudiences, target())).toBe(1);

    const processing = await run(env, a.getCustomAudienceStatus, { ...target(), audienceId: created.audienceId });
    expect(processing.isValid).toBe(false);

    const [up2] = await run(env, a.uploadCustomerFiles, { ...target(), files: [customerFile('enters.csv', enters)] });
    const busy = await rejectionOf(
      run(env, a.updateCustomAudience, { ...target(), audienceId: created.audienceId, action: 'APPEND', filePaths: [up2!.filePath] }),
      ApplicationFailure,
    );
    expect(busy.type).toBe('AudienceBusy');
    expect(busy.nonRetryable).toBe(false);

    await control('POST', `audiences/${created.audienceId}/finish-processing`);
    const status = await run(env, a.getCustomAudienceStatus, { ...target(), audienceId: created.audienceId });
    expect(status.isValid).toBe(true);
    if (sparse) expect(status.coverNum).toBeNull();
    else {
      expect(status.coverNum).toBeGreaterThan(0);
      expect(status.coverNum).toBeLessThan(1500);
    }

    await run(env, a.updateCustomAudience, { ...target(), audienceId: created.audienceId, action: 'APPEND', filePaths: [up2!.filePath] });
    await control('POST', `audiences/${created.audienceId}/finish-processing`);
    const [up3] = await run(env, a.uploadCustomerFiles, { ...target(), files: [customerFile('exits.csv', exits)] });
    await run(env, a.updateCustomAudience, { ...target(), audienceId: created.audienceId, action: 'REMOVE', filePaths: [up3!.filePath] });

    const held = await control<{ ids: string[] }>('GET', `audiences/${created.audienceId}`);
    const expected = new Set([...first.filter((d) => !exits.includes(d)), ...enters]);
    expect(new Set(held.ids)).toEqual(expected);
  });

  it('resumes an upload from its heartbeat: files already uploaded are not sent again', async () => {
    const a = acts();
    const files = [customerFile('a.csv', digests(10)), customerFile('b.csv', digests(10)), customerFile('c.csv', digests(10))];
    const beats: unknown[] = [];
    const env1 = new MockActivityEnvironment();
    env1.on('heartbeat', (d: unknown) => beats.push(d));
    const firstTwo = await run(env1, a.uploadCustomerFiles, { ...target(), files: files.slice(0, 2) });
    expect(beats.at(-1)).toEqual(firstTwo);

    const before = (await control<{ calls: { path: string }[] }>('GET', 'calls')).calls.filter((c) => c.path.includes('file/upload')).length;
    const env2 = new MockActivityEnvironment({ heartbeatDetails: beats.at(-1) });
    const all = await run(env2, a.uploadCustomerFiles, { ...target(), files });
    const after = (await control<{ calls: { path: string }[] }>('GET', 'calls')).calls.filter((c) => c.path.includes('file/upload')).length;
    expect(after - before).toBe(1);
    expect(all.slice(0, 2)).toEqual(firstTwo);
    expect(all[2]?.filePath).toMatch(/^.{16}$/);
  });

  it('refuses a file whose bytes changed since it was built', async () => {
    const f = customerFile('changed.csv', digests(5));
    writeFileSync(f.uri.slice('file://'.length), fileOf(digests(5)));
    const err = await rejectionOf(run(new MockActivityEnvironment(), acts().uploadCustomerFiles, { ...target(), files: [f] }), ApplicationFailure);
    expect(err.type).toBe('FileIntegrity');
    expect(err.nonRetryable).toBe(true);
  });

  it('maps a revoked token to a non-retryable ReauthorizationRequired that does not carry the token', async () => {
    await control('POST', 'tokens/revoke', { access_token: token });
    const err = await rejectionOf(run(new MockActivityEnvironment(), acts().countCustomAudiences, target()), ApplicationFailure);
    expect(err.type).toBe('ReauthorizationRequired');
    expect(err.nonRetryable).toBe(true);
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain(token);
  });

  it('maps an unset token variable to a non-retryable SecretUnavailable that names the variable', async () => {
    delete process.env[TOKEN_VAR];
    const err = await rejectionOf(run(new MockActivityEnvironment(), acts().countCustomAudiences, target()), ApplicationFailure);
    expect(err.type).toBe('SecretUnavailable');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(TOKEN_VAR);
  });

  it('maps injected throttling to a retryable Throttled with a back-off floor', async () => {
    await control('POST', 'faults', { throttle: 1, seed: 1 });
    const err = await rejectionOf(run(new MockActivityEnvironment(), acts().countCustomAudiences, target()), ApplicationFailure);
    expect(err.type).toBe('Throttled');
    expect(err.nonRetryable).toBe(false);
    expect(err.nextRetryDelay).toBeDefined();
  });

  it('a marked create: the name carries the marker; with two marked audiences (late creates) it adopts the lowest id, and the stray check deletes the other only, never an audience named by hand', async () => {
    const a = acts();
    const env = new MockActivityEnvironment();
    const name = 'ttsync marker test';
    // The marker from its definition: sha256 of the destination id and the token, 12 hex digits.
    const marker = (token: string): string => `ttsync-${createHash('sha256').update(`dest-marker\n${token}`).digest('hex').slice(0, 12)}`;
    const [up] = await run(env, a.uploadCustomerFiles, { ...target(), files: [customerFile('marked.csv', digests(1200))] });
    const made = await run(env, a.createCustomAudience, { ...target(), name, calculateType: 'EMAIL_SHA256', filePaths: [up!.filePath], destinationId: 'dest-marker', createToken: 'token-1' });
    expect(made).toMatchObject({ created: true, attempt: 1 });
    expect((await control<{ name: string }>('GET', `audiences/${made.audienceId}?ids=false`)).name).toBe(`${name} ${marker('token-1')}`);

    // Two creates of token-2 landed (one answered late), beside audiences somebody named by hand.
    const late = [
      await createAudienceDirect(emu, token, ADVERTISER, `${name} ${marker('token-2')}`, digests(1000)),
      await createAudienceDirect(emu, token, ADVERTISER, `${name} ${marker('token-2')}`, digests(1000)),
    ];
    const byHand = [await createAudienceDirect(emu, token, ADVERTISER, name, digests(1000)), await createAudienceDirect(emu, token, ADVERTISER, `${name} ttsync-000000000000`, digests(1000))];
    const lowest = [...late].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1))[0]!;
    const adopted = await run(env, a.createCustomAudience, { ...target(), name, calculateType: 'EMAIL_SHA256', filePaths: [up!.filePath], destinationId: 'dest-marker', createToken: 'token-2' });
    expect(adopted).toEqual({ audienceId: lowest, created: false, attempt: 1, marked: 2 });

    const { deleted } = await run(env, a.removeStrayAudiences, { ...target(), destinationId: 'dest-marker', createToken: 'token-2', keep: lowest });
    expect(deleted).toEqual(late.filter((id) => id !== lowest));
    const left = [...emu.state.audiences.values()].filter((x) => x.advertiserId === ADVERTISER).map((x) => x.id).sort();
    expect(left).toEqual([made.audienceId, lowest, ...byHand].sort());
    // Nothing left to delete: a second check deletes nothing (and the hand-named ones stay).
    expect(await run(env, a.removeStrayAudiences, { ...target(), destinationId: 'dest-marker', createToken: 'token-2', keep: lowest })).toEqual({ deleted: [] });
  });

  it('refuses more than 50 file paths in one call', async () => {
    const paths = Array.from({ length: 51 }, (_, i) => `p${String(i).padStart(15, '0')}`);
    const err = await rejectionOf(
      run(new MockActivityEnvironment(), acts().updateCustomAudience, { ...target(), audienceId: '1', action: 'APPEND', filePaths: paths }),
      ApplicationFailure,
    );
    expect(err.type).toBe('InvalidRequest');
    expect(err.message).toMatch(/1 to 50 file paths, got 51/);
  });
});
