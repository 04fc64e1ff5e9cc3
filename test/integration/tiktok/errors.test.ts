import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import {
  SlidingWindowLimiter,
  TikTokError,
  TikTokClient,
  TikTokErrorType,
  Throttled,
  Transient,
  type RetryInfo,
  type TikTokErrorTypeName,
} from '../../../src/tiktok';
import { ADVERTISER, clientFor, digests, emulatorFor, fileOf } from './helpers';
import { rejectionOf } from '../../helpers/rejection';

let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await emulatorFor();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.control.reset();
  emu.control.setFaults({ throttle: 0, error: 0, http503: 0, drop: 0, latency: 0, seed: 1 });
  emu.control.configure({
    rateLimits: { default: { qps: 10_000, qpm: 1_000_000 }, events: { qps: 10_000, qpm: 1_000_000 } },
  });
  token = emu.control.issueToken([ADVERTISER]);
});

const outcomes = () => emu.state.calls.map((c) => c.outcome);

describe('every failure maps to exactly one class', () => {
  const cases: Array<[string, Parameters<typeof emu.control.setFaults>[0], TikTokErrorTypeName, number | null, number | null]> = [
    ['injected 40100', { throttle: 1 }, TikTokErrorType.Throttled, 40100, 200],
    ['injected 50000', { error: 1 }, TikTokErrorType.Transient, 50000, 200],
    ['HTTP 503', { http503: 1 }, TikTokErrorType.Transient, null, 503],
    ['dropped connection', { drop: 1 }, TikTokErrorType.Transient, null, null],
  ];
  for (const [name, faults, type, code, status] of cases) {
    it(`${name} → ${type}`, async () => {
      emu.control.setFaults(faults);
      const err = await rejectionOf(clientFor(emu, token).getUserInfo(), TikTokError);
      expect(err.type).toBe(type);
      expect(err.name).toBe(type);
      expect(err.code).toBe(code);
      expect(err.httpStatus).toBe(status);
      expect(err.endpoint).toBe('user/info/');
    });
  }

  it('a response slower than the timeout → Transient', async () => {
    emu.control.setFaults({ latency: 400 });
    const c = clientFor(emu, token, { env: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_TIMEOUT_MS: 100, TIKTOK_QPS: 1000 } });
    const err = await rejectionOf(c.getUserInfo(), TikTokError);
    expect(err).toBeInstanceOf(Transient);
    expect(err.tiktokMessage).toMatch(/no response within 100 ms/);
    // The emulator finishes the abandoned request later; let it land in this test's log.
    await expect.poll(() => emu.state.calls.length, { timeout: 2000 }).toBe(1);
  });

  it('the real rate limit → Throttled, logged as rate_limited (not injected)', async () => {
    emu.control.configure({ rateLimits: { default: { qps: 2, qpm: 600 } } });
    // A limiter that lets everything through: this client behaves badly on purpose.
    const open = { acquire: () => Promise.resolve() };
    const c = clientFor(emu, token, { limiters: { default: open, events: open } });
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => c.getUserInfo()));
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
    expect(rejected.length).toBe(2);
    for (const e of rejected) {
      expect(e).toBeInstanceOf(Throttled);
      expect((e as TikTokError).code).toBe(40100);
    }
    expect(outcomes().filter((o) => o === 'rate_limited')).toHaveLength(2);
    expect(outcomes()).not.toContain('injected_throttle');
  });
});

describe('client behaviour', () => {
  it('retries Throttled and Transient with backoff and then succeeds', async () => {
    emu.control.setFaults({ throttle: 0.3, error: 0.3, seed: 11 });
    const retries: RetryInfo[] = [];
    const c = clientFor(emu, token, { retry: { maxAttempts: 20, initialDelayMs: 5, maxDelayMs: 20 }, onRetry: (r) => retries.push(r) });
    for (let i = 0; i < 8; i++) expect((await c.getUserInfo()).display_name).toBeTruthy();
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.length).toBe(outcomes().filter((o) => o !== 'ok').length);
    expect(new Set(retries.map((r) => r.type))).toEqual(new Set(['Throttled', 'Transient']));
  });

  it('does not repeat a non-idempotent create after a Transient outcome, but does after Throttled', async () => {
    const c = clientFor(emu, token, { retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 } });
    const path = (await c.uploadAudienceFile({ advertiserId: ADVERTISER, calculateType: 'EMAIL_SHA256', fileName: 'a.csv', content: fileOf(digests(1000)) }))
      .filePath;
    emu.control.setFaults({ error: 1 });
    const before = emu.state.calls.length;
    const err = await rejectionOf(c.createAudience({ advertiserId: ADVERTISER, name: 'x', calculateType: 'EMAIL_SHA256', filePaths: [path] }), TikTokError);
    expect(err).toBeInstanceOf(Transient);
    expect(emu.state.calls.length - before).toBe(1);

    emu.control.setFaults({ error: 0, throttle: 0.5, seed: 3 });
    const { audienceId } = await c.createAudience({ advertiserId: ADVERTISER, name: 'x', calculateType: 'EMAIL_SHA256', filePaths: [path] });
    expect(emu.state.audiences.has(audienceId)).toBe(true);
    expect(emu.state.audiences.size).toBe(1);
  });

  it("the client's own limiter keeps it under the emulator's QPS: no 40100 at all", async () => {
    emu.control.configure({ rateLimits: { default: { qps: 5, qpm: 600 } } });
    const c = clientFor(emu, token, {
      limiters: { default: new SlidingWindowLimiter(5), events: new SlidingWindowLimiter(5) },
    });
    await Promise.all(Array.from({ length: 12 }, () => c.getUserInfo()));
    expect(outcomes()).toEqual(Array(12).fill('ok'));
  });

  it('stays under the QPS when a request leaves long after its grant (a blocked event loop)', async () => {
    // A worker busy hashing can hold a granted request back for longer than any margin: the
    // first request reaches TikTok 400 ms late, and a window counted from grants would send
    // the second 600 ms after it. The limiter counts the window from the first one's answer.
    emu.control.configure({ rateLimits: { default: { qps: 1, qpm: 600 } } });
    const c = clientFor(emu, token, {
      limiters: { default: new SlidingWindowLimiter(1), events: new SlidingWindowLimiter(1) },
    });
    const both = Promise.all([c.getUserInfo(), c.getUserInfo()]);
    setImmediate(() => {
      const until = performance.now() + 400;
      while (performance.now() < until);
    });
    await both;
    expect(outcomes()).toEqual(['ok', 'ok']);
  });
});

describe('responses outside the contract', () => {
  it('a wrong base path (HTTP 404) is InvalidRequest', async () => {
    const c = clientFor(emu, token, { env: { TIKTOK_API_BASE_URL: `${emu.url}/open_api/v9`, TIKTOK_QPS: 1000 } });
    const err = await rejectionOf(c.getUserInfo(), TikTokError);
    expect(err.type).toBe('InvalidRequest');
    expect(err.httpStatus).toBe(404);
  });

  it('a 200 that is not JSON is UnexpectedResponse; an upstream echoing the token never gets it into the error', async () => {
    const secret = 'ECHOED-token-5f2b9c';
    const upstream = createServer((req, res) => {
      if (req.url?.startsWith('/html/')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>captive portal</html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 40105, message: `token ${String(req.headers['access-token'])} is bad`, request_id: 'r1', data: {} }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    try {
      const html = await rejectionOf(
        new TikTokClient({ accessToken: secret, appId: 'echo', env: { TIKTOK_API_BASE_URL: `${base}/html`, TIKTOK_QPS: 1000 } }).getUserInfo(),
        TikTokError,
      );
      expect(html.type).toBe('UnexpectedResponse');
      expect(html.message).toBe('TikTok answered /html/user/info/ with an unexpected shape: response is not JSON');
      const echoed = await rejectionOf(
        new TikTokClient({ accessToken: secret, appId: 'echo', env: { TIKTOK_API_BASE_URL: base, TIKTOK_QPS: 1000 } }).getUserInfo(),
        TikTokError,
      );
      expect(echoed.type).toBe('ReauthorizationRequired');
      expect(echoed.tiktokMessage).toBe('token [redacted] is bad');
      for (const text of [echoed.message, JSON.stringify(echoed), inspect(echoed, { showHidden: true, depth: 5 })]) {
        expect(text).not.toContain(secret);
      }
    } finally {
      await new Promise((r) => upstream.close(r));
    }
  });
});
