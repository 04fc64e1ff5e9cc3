import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, portOpen, temporalAnswers } from '../../../src/temporal/devServer';
import { exitOf, pidAlive, spawnCli, waitForOutput } from '../../helpers/cli';
import { testEnv } from '../../helpers/temporal';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ttsync dev (the local stack)', () => {
  it('serves the Temporal UI listing its workflows, and Ctrl-C leaves no process behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ttsync-dev-'));
    dirs.push(dataDir);
    const [port, uiPort, emulatorPort] = [await freePort(), await freePort(), await freePort()];
    // A developer's `temporal` CLI profile and variables that name another cluster: the dev
    // stack reads none of them, it talks to the server it starts.
    const profile = join(dataDir, 'elsewhere.toml');
    writeFileSync(profile, '[profile.default]\naddress = "127.0.0.1:1"\nnamespace = "elsewhere"\napi_key = "not-for-dev"\n');
    const child = spawnCli(['dev', '--port', String(port), '--ui-port', String(uiPort), '--emulator-port', String(emulatorPort), '--data-dir', dataDir], {
      TEMPORAL_CONFIG_FILE: profile,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      TEMPORAL_NAMESPACE: 'elsewhere',
    });
    try {
      const serverPid = Number((await waitForOutput(child, /dev server on \S+ \(pid (\d+)/))[1]);
      await waitForOutput(child, /ready\. Temporal UI/);
      expect(existsSync(join(dataDir, 'temporal.sqlite'))).toBe(true);

      const html = await fetch(`http://127.0.0.1:${uiPort}/`);
      expect(html.status).toBe(200);
      const api = await fetch(`http://127.0.0.1:${uiPort}/api/v1/namespaces/default/workflows?query=${encodeURIComponent('WorkflowType="healthCheck"')}`);
      expect(api.status).toBe(200);
      const body = (await api.json()) as { executions?: { execution: { workflowId: string }; status: string }[] };
      const health = (body.executions ?? []).filter((e) => e.execution.workflowId.startsWith('health-check-'));
      expect(health.length).toBeGreaterThanOrEqual(1);
      expect(health[0]?.status).toBe('WORKFLOW_EXECUTION_STATUS_COMPLETED');

      child.kill('SIGINT');
      expect(await exitOf(child)).toBe(0);
      expect(child.output()).toContain('[dev] stopped');
      expect(pidAlive(serverPid)).toBe(false);
      expect(await portOpen('127.0.0.1', port)).toBe(false);
      expect(await portOpen('127.0.0.1', uiPort)).toBe(false);
      expect(await portOpen('127.0.0.1', emulatorPort)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('reuses a Temporal server that is already running and leaves it running on Ctrl-C', async () => {
    const { TEMPORAL_ADDRESS } = testEnv();
    const port = TEMPORAL_ADDRESS.split(':').pop() ?? '';
    const child = spawnCli(['dev', '--port', port, '--ui-port', String(await freePort()), '--no-emulator', '--no-health-check']);
    try {
      await waitForOutput(child, /reusing the server already on/);
      await waitForOutput(child, /ready\./);
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      expect(await temporalAnswers(TEMPORAL_ADDRESS)).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
