import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, portOpen } from '../../../src/temporal/devServer';
import { exitOf, pidAlive, runCli, spawnCli, waitForOutput } from '../../helpers/cli';

/*
 * What scripts/start runs: `ttsync dev --demo` on its own ports and data dir (the real
 * defaults are 7233/8233/8787 and .data/). The stack comes up, the demo prints its summary,
 * the stack keeps running; `ttsync demo` on that stack starts the demo over; Ctrl-C stops all.
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const num = (s: string | undefined): number => Number((s ?? '').replace(/,/g, ''));

describe('ttsync dev --demo (scripts/start)', { timeout: 120_000 }, () => {
  it('starts the stack, prints the demo summary with the UI link, keeps running; ttsync demo starts over on it; Ctrl-C stops everything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ttsync-dev-demo-'));
    dirs.push(dataDir);
    const [port, uiPort, emulatorPort] = [await freePort(), await freePort(), await freePort()];
    // TTSYNC_DATA_DIR: the worker's own default workdir (segment claims) stays in the temp dir too.
    const env = { TTSYNC_DATA_DIR: dataDir, TIKTOK_API_BASE_URL: undefined };
    const child = spawnCli(
      ['dev', '--demo', '--demo-people', '2000', '--no-health-check', '--port', String(port), '--ui-port', String(uiPort), '--emulator-port', String(emulatorPort), '--emulator-processing-delay', '200ms', '--data-dir', dataDir],
      env,
    );
    try {
      const serverPid = Number((await waitForOutput(child, /dev server on \S+ \(pid (\d+)/))[1]);
      expect(child.output()).toContain(`TTSYNC_PAYLOAD_KEYS=dev=file:${join(dataDir, 'codec', 'payload-key')}`);
      expect(statSync(join(dataDir, 'codec', 'payload-key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dataDir, 'codec')).mode & 0o777).toBe(0o700);
      const link = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/audience-sync%3Ademo`;
      await waitForOutput(child, /demo done; the stack keeps running/);
      const out = child.output();
      expect(out).toContain(`workflow audience-sync:demo in the Temporal UI: ${link}`);
      expect(out).toContain(join(dataDir, 'demo', 'snapshots', 'audience-1.csv'));
      expect(out).toMatch(/2,004 rows: 2,000 people, 4 invalid rows/);
      const first = /sync 1 \(synced, [\d.]+ s\): added ([\d,]+) ids, removed 0 ids, rejected 4 \(invalid_email 1, invalid_maid 1, invalid_phone 1, zeroed_maid 1\)/.exec(out);
      expect(first).not.toBeNull();
      const second = /sync 2 \(synced, [\d.]+ s\): added ([\d,]+) ids, removed ([\d,]+) ids/.exec(out);
      expect(num(second?.[1])).toBeGreaterThan(0);
      expect(num(second?.[2])).toBeGreaterThan(0);
      const audience1 = /audience (\d+) "ttsync demo [\d-]+ ttsync-[0-9a-f]{12}" of advertiser \d+ in the TikTok emulator: ([\d,]+) ids \(equal to the valid ids of the last snapshot\)/.exec(out);
      expect(audience1).not.toBeNull();
      expect(num(audience1?.[2])).toBe(num(first?.[1]) + num(second?.[1]) - num(second?.[2]));
      // The link the summary prints is the UI's page of the workflow.
      expect((await fetch(link)).status).toBe(200);
      const api = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/namespaces/default/workflows/audience-sync%3Ademo`)).json()) as {
        workflowExecutionInfo?: { status: string };
      };
      expect(api.workflowExecutionInfo?.status).toBe('WORKFLOW_EXECUTION_STATUS_RUNNING');
      // The UI decodes through the stack's codec server, which answers the UI's preflight.
      const codecUrl = /codec server (http:\/\/127\.0\.0\.1:\d+) for the UI/.exec(child.output())?.[1];
      const settings = JSON.stringify(await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json());
      expect(codecUrl && settings).toContain(codecUrl);
      const preflight = await fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { Origin: `http://127.0.0.1:${uiPort}`, 'Access-Control-Request-Method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin')).toBe(`http://127.0.0.1:${uiPort}`);

      // The stack is still up: `ttsync demo` runs on it and starts from scratch (cycle 1, a new audience).
      const again = runCli(
        ['demo', '--people', '2000', '--emulator-url', `http://127.0.0.1:${emulatorPort}`, '--ui-url', `http://127.0.0.1:${uiPort}`, '--data-dir', dataDir],
        // The stack encrypts payloads with its dev key; other commands on it name the key as dev prints it.
        { env: { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TTSYNC_PAYLOAD_KEYS: `dev=file:${join(dataDir, 'codec', 'payload-key')}` }, timeoutMs: 90_000 },
      );
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('[demo] ended the previous demo run of audience-sync:demo');
      expect(again.stdout).toContain(`sync 1 (synced`);
      expect(again.stdout).toContain(`added ${first?.[1]} ids, removed 0 ids`);
      const audience2 = /audience (\d+) "/.exec(again.stdout);
      expect(audience2?.[1]).not.toBe(audience1?.[1]);
      // The previous demo's audience was deleted through the API.
      expect(again.stderr).toContain(`[demo] deleted the previous demo audience ${audience1?.[1]}`);
      expect((await fetch(`http://127.0.0.1:${emulatorPort}/_emulator/audiences/${audience1?.[1]}?ids=false`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${emulatorPort}/_emulator/audiences/${audience2?.[1]}?ids=false`)).status).toBe(200);

      child.kill('SIGINT');
      expect(await exitOf(child)).toBe(0);
      expect(child.output()).toContain('[dev] stopped');
      expect(pidAlive(serverPid)).toBe(false);
      for (const p of [port, uiPort, emulatorPort]) expect(await portOpen('127.0.0.1', p)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
