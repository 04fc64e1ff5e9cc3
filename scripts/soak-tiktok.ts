/**
 * Soak: the TikTok client at its configured QPS against the emulator (in-process, loopback)
 * with injected throttling and transient faults. Every logical call must finish (the client
 * retries with backoff) and the emulator must see no 40100 caused by the client's own rate
 * (it logs injected 40100s separately from real rate-limit hits).
 *
 *   npm run soak:tiktok [-- --seconds 60 --qps 10 --throttle 0.1 --transient 0.05 --concurrency 16]
 *
 * Bounded: stops issuing calls after --seconds, then waits at most 60 s for in-flight calls.
 */
import { parseArgs } from 'node:util';
import { startEmulator } from '../src/emulator';
import { TikTokClient, parseTikTokEnv, type RetryInfo, type TikTokErrorTypeName } from '../src/tiktok';

const ADVERTISER = '7000000000000000001';

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      qps: { type: 'string' },
      throttle: { type: 'string', default: '0.1' },
      transient: { type: 'string', default: '0.05' },
      concurrency: { type: 'string', default: '16' },
      seed: { type: 'string', default: '20261121' },
    },
  });
  const seconds = Number(values.seconds);
  const env = parseTikTokEnv(process.env);
  const qps = values.qps ? Number(values.qps) : env.TIKTOK_QPS;
  const throttle = Number(values.throttle);
  const transient = Number(values.transient);
  const concurrency = Number(values.concurrency);
  for (const [k, v] of Object.entries({ seconds, qps, throttle, transient, concurrency })) {
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number`);
  }
  if (seconds > 600) throw new Error('--seconds is capped at 600');

  // TikTok's Basic tier for the emulator; the client is told the same QPS.
  const emu = await startEmulator({
    processingDelay: 0,
    rateLimits: {
      default: { qps, qpm: qps * 60 },
      events: { qps: 1000, qpm: 600_000 },
      segment: { qps: 10_000, qpm: 600_000 },
    },
    // The transient share is split over the three transient kinds.
    faults: { throttle, error: transient * 0.4, http503: transient * 0.4, drop: transient * 0.2, seed: Number(values.seed) },
  });
  const token = emu.control.issueToken([ADVERTISER]);

  const retries: Partial<Record<TikTokErrorTypeName, number>> = {};
  const attemptLatency: number[] = [];
  let attempts = 0;
  const timedFetch: typeof fetch = async (input, init) => {
    const t0 = performance.now();
    attempts++;
    try {
      return await fetch(input, init);
    } finally {
      attemptLatency.push(performance.now() - t0);
    }
  };
  const client = new TikTokClient({
    accessToken: token,
    appId: 'soak-app',
    env: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: qps, TIKTOK_TIMEOUT_MS: 10_000 },
    retry: { maxAttempts: 15, initialDelayMs: 250, maxDelayMs: 4000 },
    onRetry: (r: RetryInfo) => {
      retries[r.type] = (retries[r.type] ?? 0) + 1;
    },
    fetch: timedFetch,
  });

  // A mix of idempotent calls across the endpoint families.
  const calls: Array<() => Promise<unknown>> = [
    () => client.getUserInfo(),
    () => client.getAdvertiserInfo([ADVERTISER]),
    () => client.listAudiences({ advertiserId: ADVERTISER }),
    () => client.getIntegratedReport({
      advertiserId: ADVERTISER,
      dataLevel: 'AUCTION_CAMPAIGN',
      dimensions: ['campaign_id', 'stat_time_day'],
      metrics: ['spend', 'impressions'],
      startDate: '2026-11-01',
      endDate: '2026-11-07',
    }),
  ];

  const callLatency: number[] = [];
  let started = 0;
  let completed = 0;
  const failures: string[] = [];
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  process.stderr.write(`[soak] ${seconds}s at ${qps} QPS, faults: throttle ${throttle}, transient ${transient}, concurrency ${concurrency}\n`);

  const worker = async () => {
    while (performance.now() < deadline) {
      const fn = calls[started++ % calls.length]!;
      const c0 = performance.now();
      try {
        await fn();
        completed++;
        callLatency.push(performance.now() - c0);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const all = Promise.all(Array.from({ length: concurrency }, worker));
  const hardStop = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), seconds * 1000 + 60_000).unref());
  const ended = await Promise.race([all.then(() => 'done' as const), hardStop]);
  const elapsed = (performance.now() - t0) / 1000;
  await emu.close();

  const byOutcome = emu.state.counters.byOutcome;
  callLatency.sort((a, b) => a - b);
  attemptLatency.sort((a, b) => a - b);
  const clientCaused40100 = byOutcome.rate_limited ?? 0;
  const report = {
    seconds_run: Number(elapsed.toFixed(1)),
    configured_qps: qps,
    logical_calls_started: started,
    logical_calls_completed: completed,
    logical_calls_failed: failures.length,
    http_attempts: attempts,
    achieved_qps: Number((attempts / elapsed).toFixed(2)),
    retries_by_class: retries,
    emulator_outcomes: byOutcome,
    call_latency_ms: { p50: Math.round(pct(callLatency, 50)), p99: Math.round(pct(callLatency, 99)), max: Math.round(callLatency.at(-1) ?? 0) },
    attempt_latency_ms: { p50: Math.round(pct(attemptLatency, 50)), p99: Math.round(pct(attemptLatency, 99)) },
    client_caused_40100: clientCaused40100,
    ended,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const ok = ended === 'done' && failures.length === 0 && clientCaused40100 === 0 && completed === started;
  if (!ok) {
    process.stderr.write(`[soak] FAILED${failures.length ? `: first failure: ${failures[0]}` : ''}\n`);
    return 1;
  }
  process.stderr.write('[soak] OK: every call finished, no client-caused 40100\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[soak] ${(err as Error).message}\n`);
    process.exit(2);
  },
);
