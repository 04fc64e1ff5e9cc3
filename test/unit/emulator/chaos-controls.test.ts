import { afterEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, digests, emulatorFor, fileOf, raw, uploadForm } from '../../integration/tiktok/helpers';

/*
 * The emulator controls the chaos and load runs read: the dropAfter fault (the request takes
 * effect, the answer never comes), the slow-answer counter, and the arrival rate per app.
 */

const running: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});
async function start(opts: Parameters<typeof emulatorFor>[0] = {}): Promise<RunningEmulator> {
  const e = await emulatorFor(opts);
  running.push(e);
  return e;
}
const upload = (emu: RunningEmulator, token: string) => raw(emu, 'POST', 'dmp/custom_audience/file/upload/', { token, form: uploadForm(ADVERTISER, fileOf(digests(20))) });

describe('dropped connections, before and after the request took effect', () => {
  it('drop: no answer and nothing stored; dropAfter: no answer, the file IS stored', async () => {
    const emu = await start();
    const token = emu.control.issueToken([ADVERTISER]);
    emu.control.setFaults({ drop: 1 });
    await expect(upload(emu, token)).rejects.toThrow();
    expect(emu.state.files.size).toBe(0);
    emu.control.setFaults({ drop: 0, dropAfter: 1 });
    await expect(upload(emu, token)).rejects.toThrow();
    expect(emu.state.files.size).toBe(1);
    expect(emu.state.calls.map((c) => c.outcome)).toEqual(['injected_drop', 'injected_drop_after']);
    expect(emu.state.counters.byOutcome).toMatchObject({ injected_drop: 1, injected_drop_after: 1 });
    emu.control.setFaults({ dropAfter: 0 });
    expect((await upload(emu, token)).body.code).toBe(0);
  });

  it('dropAfter counts toward the shares that must add up to at most 1', async () => {
    const emu = await start();
    expect(() => emu.control.setFaults({ drop: 0.6, dropAfter: 0.6 })).toThrow(/at most 1/);
  });

  it('slow answers are counted, whatever the answer', async () => {
    const emu = await start();
    const token = emu.control.issueToken([ADVERTISER]);
    emu.control.setFaults({ latency: 5, latencyShare: 1, throttle: 1 });
    await raw(emu, 'GET', 'user/info/', { token });
    await raw(emu, 'GET', 'user/info/', { token });
    expect(emu.state.counters.slowAnswers).toBe(2);
  });
});

describe('arrival rate per app (GET /_emulator/rates)', () => {
  it('counts every request as it arrives, refused ones included, and the most within any second', async () => {
    const emu = await start({ rateLimits: { default: { qps: 3, qpm: 600 } } });
    const token = emu.control.issueToken([ADVERTISER]);
    const codes = await Promise.all(Array.from({ length: 5 }, async () => (await raw(emu, 'GET', 'user/info/', { token })).body.code));
    expect(codes.filter((c) => c === 40100)).toHaveLength(2);
    const rates = (await (await fetch(`${emu.url}/_emulator/rates`)).json()) as { apps: Record<string, { default: { requests: number; peakPerSecond: number; rateLimited: number; limitQps: number } }> };
    expect(rates.apps['emulator-app']?.default).toMatchObject({ requests: 5, peakPerSecond: 5, rateLimited: 2, limitQps: 3 });
    expect((await fetch(`${emu.url}/_emulator/rates/reset`, { method: 'POST' })).status).toBe(200);
    expect(await (await fetch(`${emu.url}/_emulator/rates`)).json()).toEqual({ apps: {} });
  });
});
