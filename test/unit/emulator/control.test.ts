import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureEmulator, parseFaultSpec, startEmulator, type RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, digests, emulatorFor, fileOf, raw, uploadForm } from '../../integration/tiktok/helpers';

const running: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});
async function start(opts: Parameters<typeof emulatorFor>[0] = {}) {
  const e = await emulatorFor(opts);
  running.push(e);
  return e;
}
const ctl = async (emu: RunningEmulator, method: string, path: string, body?: unknown) => {
  const r = await fetch(`${emu.url}/_emulator/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('rate limits per app', () => {
  it('QPS and QPM overruns get 40100, logged as rate_limited', async () => {
    const emu = await start({ rateLimits: { default: { qps: 3, qpm: 5 } } });
    const token = emu.control.issueToken([ADVERTISER]);
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await raw(emu, 'GET', 'user/info/', { token })).body.code);
    expect(codes).toEqual([0, 0, 0, 40100]);
    await new Promise((r) => setTimeout(r, 1010));
    const more: Array<[number, string]> = [];
    for (let i = 0; i < 3; i++) {
      const r = await raw(emu, 'GET', 'user/info/', { token });
      more.push([r.body.code, r.body.message]);
    }
    expect(more.map((m) => m[0])).toEqual([0, 0, 40100]);
    expect(more[2]![1]).toMatch(/QPM/);
    expect(emu.state.calls.filter((c) => c.outcome === 'rate_limited')).toHaveLength(2);
  });
});

describe('fault injection', () => {
  it('parses the CLI spec and rejects unknown keys and shares over 1', () => {
    expect(parseFaultSpec('throttle=0.1,error=0.05,latency=200ms,seed=9')).toMatchObject({
      throttle: 0.1,
      error: 0.05,
      latency: 200,
      seed: 9,
      http503: 0,
    });
    expect(() => parseFaultSpec('nope=1')).toThrow(/unknown fault/);
    expect(() => parseFaultSpec('throttle=0.7,error=0.7')).toThrow(/at most 1/);
  });

  it('the same seed gives the same fault sequence; set through the control endpoint', async () => {
    const run = async () => {
      const emu = await start();
      const token = emu.control.issueToken([ADVERTISER]);
      expect((await ctl(emu, 'POST', 'faults', { throttle: 0.3, error: 0.2, http503: 0.1, seed: 42 })).status).toBe(200);
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await raw(emu, 'GET', 'user/info/', { token });
        out.push(r.status === 200 ? String(r.body.code) : `HTTP${r.status}`);
      }
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set(['0', '40100', '50000', 'HTTP503']));
  });
});

describe('inspection and state', () => {
  it('state, calls, stats, reset; tokens appear only as fingerprints', async () => {
    const emu = await start();
    const { body } = await ctl(emu, 'POST', 'tokens', { advertiser_ids: [ADVERTISER] });
    const token = body.access_token as string;
    await raw(emu, 'GET', 'user/info/', { token });
    const state = (await ctl(emu, 'GET', 'state')).body;
    expect(JSON.stringify(state)).not.toContain(token);
    expect((state.stats as { calls: number }).calls).toBe(1);
    expect(((await ctl(emu, 'GET', 'calls')).body.calls as unknown[]).length).toBe(1);
    expect((await ctl(emu, 'POST', 'reset')).status).toBe(200);
    expect((await raw(emu, 'GET', 'user/info/', { token })).body.code).toBe(40105);
    expect((await ctl(emu, 'GET', 'nope')).status).toBe(404);
    expect((await ctl(emu, 'POST', 'tokens', { advertiser_ids: [] })).status).toBe(400);
  });

  it('persists to --state-file and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-emu-'));
    try {
      const stateFile = join(dir, 'state.bin');
      const first = await startEmulator({ stateFile, processingDelay: 0 });
      const token = first.control.issueToken([ADVERTISER]);
      const ids = digests(1200);
      const up = await raw(first, 'POST', 'dmp/custom_audience/file/upload/', { token, form: uploadForm(ADVERTISER, fileOf(ids)) });
      const created = await raw(first, 'POST', 'dmp/custom_audience/create/', {
        token,
        json: { advertiser_id: ADVERTISER, custom_audience_name: 'p', calculate_type: 'EMAIL_SHA256', file_paths: [up.body.data.file_path] },
      });
      const id = created.body.data.custom_audience_id as string;
      await first.close();

      const second = await startEmulator({ stateFile, processingDelay: 0 });
      running.push(second);
      expect(new Set(second.control.audience(id)?.ids)).toEqual(new Set(ids));
      const list = await raw(second, 'GET', 'dmp/custom_audience/list/', { token, query: { advertiser_id: ADVERTISER } });
      expect(list.body.code).toBe(0);
      expect((list.body.data.list as Array<{ audience_id: string }>).map((a) => a.audience_id)).toEqual([id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ensureEmulator (ttsync dev)', () => {
  it('reuses an emulator already on the port, starts one on a free port, refuses a stranger', async () => {
    const emu = await start();
    const reused = await ensureEmulator({ host: '127.0.0.1', port: emu.port });
    expect(reused.started).toBe(false);
    expect(reused.apiBaseUrl).toBe(emu.apiBaseUrl);

    const stranger = createServer((_req, res) => res.end('hi'));
    await new Promise<void>((r) => stranger.listen(0, '127.0.0.1', r));
    const port = (stranger.address() as { port: number }).port;
    await expect(ensureEmulator({ host: '127.0.0.1', port })).rejects.toThrow(/not ttsync's TikTok emulator/);
    await new Promise((r) => stranger.close(r));

    const fresh = await ensureEmulator({ host: '127.0.0.1', port });
    expect(fresh.started).toBe(true);
    expect((await fetch(`${fresh.url}/_emulator/health`)).status).toBe(200);
    await fresh.stop();
  });
});
