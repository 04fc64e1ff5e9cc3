import type { EmulatorOptionsInput } from './options';
import { startEmulator } from './start';

export interface EnsuredEmulator {
  url: string;
  apiBaseUrl: string;
  /** false when one was already answering on the port and is reused. */
  started: boolean;
  stop(): Promise<void>;
}

/** True when a ttsync emulator answers on url (its /_emulator/health says so). */
export async function emulatorAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_emulator/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    const body = (await res.json()) as { emulator?: string };
    return body.emulator === 'ttsync-tiktok';
  } catch {
    return false;
  }
}

/**
 * For `ttsync dev`: reuse the emulator already on host:port, or start one in this process.
 * Something else on the port is an error (start would fail with EADDRINUSE anyway; this
 * says what to do).
 */
export async function ensureEmulator(
  opts: { host: '127.0.0.1' | 'localhost' | '::1'; port: number } & Omit<EmulatorOptionsInput, 'host' | 'port'>,
): Promise<EnsuredEmulator> {
  const host = opts.host === '::1' ? '[::1]' : opts.host;
  const url = `http://${host}:${opts.port}`;
  const apiBaseUrl = `${url}/open_api/v1.3`;
  if (await emulatorAnswers(url)) return { url, apiBaseUrl, started: false, stop: () => Promise.resolve() };
  try {
    const emu = await startEmulator(opts);
    return { url: emu.url, apiBaseUrl: emu.apiBaseUrl, started: true, stop: () => emu.close() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${opts.port} is taken by something that is not ttsync's TikTok emulator; free it or pass --emulator-port`);
    }
    throw err;
  }
}
