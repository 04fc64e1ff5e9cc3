import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevStack } from '../../../src/cli/devStack';
import { startEmulator } from '../../../src/emulator';
import { freePort } from '../../../src/temporal/devServer';
import { testEnv } from '../../helpers/temporal';

const dataDir = mkdtempSync(join(tmpdir(), 'ttsync-dev-emu-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const health = (url: string) =>
  fetch(`${url}/_emulator/health`).then(
    (r) => r.status,
    () => 'closed',
  );

describe('ttsync dev runs the TikTok emulator', () => {
  const [ip, port] = testEnv().TEMPORAL_ADDRESS.split(':') as [string, string];
  const base = { ip, port: Number(port), uiPort: 1, dataDir, worker: false, healthCheck: false, log: () => undefined };

  it('starts one on the port and stops it with the stack', async () => {
    const emulatorPort = await freePort();
    const saved = process.env.TIKTOK_API_BASE_URL;
    delete process.env.TIKTOK_API_BASE_URL;
    try {
      const stack = await startDevStack({ ...base, emulator: true, emulatorPort });
      const url = `http://127.0.0.1:${emulatorPort}`;
      expect(stack.tiktokApiBaseUrl).toBe(`${url}/open_api/v1.3`);
      expect(process.env.TIKTOK_API_BASE_URL).toBe(stack.tiktokApiBaseUrl);
      expect(await health(url)).toBe(200);
      await stack.stop();
      expect(await health(url)).toBe('closed');
    } finally {
      if (saved === undefined) delete process.env.TIKTOK_API_BASE_URL;
      else process.env.TIKTOK_API_BASE_URL = saved;
    }
  });

  it('reuses one already answering on the port and leaves it running', async () => {
    const running = await startEmulator({ port: await freePort() });
    try {
      const stack = await startDevStack({ ...base, emulator: true, emulatorPort: running.port });
      expect(stack.tiktokApiBaseUrl).toBe(running.apiBaseUrl);
      await stack.stop();
      expect(await health(running.url)).toBe(200);
    } finally {
      await running.close();
    }
  });

  it('--no-emulator starts none', async () => {
    const stack = await startDevStack({ ...base, emulator: false, emulatorPort: await freePort() });
    expect(stack.tiktokApiBaseUrl).toBeUndefined();
    await stack.stop();
  });
});
