import { createHash, randomBytes } from 'node:crypto';
import { startEmulator, type EmulatorOptionsInput, type RunningEmulator } from '../../../src/emulator';
import { TikTokClient, type TikTokClientOptions } from '../../../src/tiktok';

export const ADVERTISER = '7000000000000000001';
export const OTHER_ADVERTISER = '7000000000000000002';

/** n distinct random SHA-256 hex digests (or MD5 with width 32). */
export function digests(n: number, width: 32 | 64 = 64): string[] {
  return Array.from({ length: n }, () => createHash(width === 64 ? 'sha256' : 'md5').update(randomBytes(16)).digest('hex'));
}

export const fileOf = (ids: string[], header?: string) =>
  Buffer.from((header ? `${header}\n` : '') + ids.join('\n') + '\n');

/** An emulator on port 0 with limits high enough that functional tests are not throttled. */
export function emulatorFor(opts: EmulatorOptionsInput = {}): Promise<RunningEmulator> {
  return startEmulator({
    processingDelay: 150,
    rateLimits: {
      default: { qps: 10_000, qpm: 1_000_000 },
      events: { qps: 10_000, qpm: 1_000_000 },
      segment: { qps: 10_000, qpm: 1_000_000 },
    },
    ...opts,
  });
}

export function clientFor(emu: RunningEmulator, token: string | undefined, opts: TikTokClientOptions = {}): TikTokClient {
  return new TikTokClient({
    accessToken: token,
    appId: `test-${randomBytes(4).toString('hex')}`,
    env: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_EVENTS_QPS: 1000, TIKTOK_TIMEOUT_MS: 5000 },
    retry: { maxAttempts: 1 },
    ...opts,
  });
}

/** Raw call to the emulator API (for validations the typed client would refuse to send). */
export async function raw(
  emu: RunningEmulator,
  method: 'GET' | 'POST',
  path: string,
  opts: { token?: string; json?: unknown; query?: Record<string, string>; form?: FormData } = {},
): Promise<{ status: number; body: { code: number; message: string; request_id: string; data: Record<string, unknown> } }> {
  const qs = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
  const headers: Record<string, string> = {};
  if (opts.token) headers['Access-Token'] = opts.token;
  if (opts.json !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${emu.apiBaseUrl}/${path}${qs}`, {
    method,
    headers,
    body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.form,
  });
  const text = await res.text();
  let body: never;
  try {
    body = JSON.parse(text) as never;
  } catch {
    body = { text } as never;
  }
  return { status: res.status, body };
}

export function uploadForm(advertiserId: string, content: Buffer, opts: { name?: string; type?: string; signature?: string } = {}) {
  const f = new FormData();
  f.set('advertiser_id', advertiserId);
  f.set('calculate_type', opts.type ?? 'EMAIL_SHA256');
  f.set('file_signature', opts.signature ?? createHash('md5').update(content).digest('hex'));
  f.set('file', new Blob([content]), opts.name ?? 'ids.csv');
  return f;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A call to the emulator's /_emulator/ control API; anything but HTTP 200 fails the test with the body. */
export async function emulatorControl<T>(emu: RunningEmulator, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${emu.url}/_emulator/${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status !== 200) throw new Error(`emulator control ${method} ${path}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}
