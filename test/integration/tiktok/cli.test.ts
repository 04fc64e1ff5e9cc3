import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TikTokClient } from '../../../src/tiktok';
import { runCli, spawnCli } from '../../helpers/cli';
import { ADVERTISER, digests, fileOf } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-emu-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function runEmulator(port: number, stateFile: string, work: (baseUrl: string) => Promise<void>): Promise<string> {
  const child = spawnCli([
    'emulator',
    '--port',
    String(port),
    '--advertiser',
    ADVERTISER,
    '--state-file',
    stateFile,
    '--processing-delay',
    '0ms',
  ], { TTSYNC_EMULATOR_TOKEN: 'cli-test-token-0001' });
  try {
    await expect.poll(() => child.output(), { timeout: 30_000 }).toMatch(/TIKTOK_API_BASE_URL=(\S+)/);
    const baseUrl = /TIKTOK_API_BASE_URL=(\S+)/.exec(child.output())![1]!;
    await work(baseUrl);
  } finally {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }
  return child.output();
}

describe('ttsync emulator', () => {
  it('serves a dry run with a preset token and keeps its state across a restart', async () => {
    const port = await freePort();
    const stateFile = join(dir, 'state.bin');
    const client = (baseUrl: string) =>
      new TikTokClient({ accessToken: 'cli-test-token-0001', appId: 'cli-test', env: { TIKTOK_API_BASE_URL: baseUrl, TIKTOK_QPS: 5 } });
    let audienceId = '';
    const out = await runEmulator(port, stateFile, async (baseUrl) => {
      expect(baseUrl).toBe(`http://127.0.0.1:${port}/open_api/v1.3`);
      const c = client(baseUrl);
      const { filePath } = await c.uploadAudienceFile({
        advertiserId: ADVERTISER,
        calculateType: 'EMAIL_SHA256',
        fileName: 'ids.csv',
        content: fileOf(digests(1000)),
      });
      audienceId = (await c.createAudience({ advertiserId: ADVERTISER, name: 'dry run', calculateType: 'EMAIL_SHA256', filePaths: [filePath] }))
        .audienceId;
    });
    expect(out).not.toContain('cli-test-token-0001');
    expect(existsSync(stateFile)).toBe(true);
    await runEmulator(port, stateFile, async (baseUrl) => {
      const { audiences } = await client(baseUrl).listAudiences({ advertiserId: ADVERTISER });
      expect(audiences.map((a) => [a.audience_id, a.name, a.is_valid])).toEqual([[audienceId, 'dry run', true]]);
    });
  });

  it('bad flags exit 2 with a one-line error', () => {
    for (const args of [['--faults', 'bogus=1'], ['--match-rate', '2'], ['--processing-delay', 'soon'], ['--port', '0']]) {
      const r = runCli(['emulator', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
