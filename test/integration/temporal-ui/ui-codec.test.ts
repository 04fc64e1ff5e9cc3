import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthCheck } from '../../../workflows';
import { PROJECT_ROOT } from '../../../src/paths';
import { startCodecServer, type RunningCodecServer } from '../../../src/temporal/codecServer';
import { freePort, startDevServer, type DevServer } from '../../../src/temporal/devServer';
import { AesGcmPayloadCodec } from '../../../src/temporal/payloadCodec';
import { resolveTemporalCli } from '../../../src/temporal/toolchain';
import { createWorkers } from '../../../src/worker';
import { uniqueId } from '../../helpers/temporal';
import { launchUiBrowser } from '../../helpers/uiSession';

/*
 * The Web UI with encrypted payloads: two dev servers with their UI (Temporal UI 2.42.1), one
 * started with --ui-codec-endpoint naming ttsync's codec server, one without. The same kind of
 * workflow runs on each, its input carrying a marker, through workers that encrypt. Headless
 * Chromium (Debian's, through playwright-core) opens the workflow's page: the first UI shows
 * the decoded input (it asked the codec server), the second shows no plaintext. Screenshots of
 * both pages are kept in .data/test-artifacts/ui-codec/.
 */

const ARTIFACTS = join(PROJECT_ROOT, '.data', 'test-artifacts', 'ui-codec');
const NAMESPACE = 'default';
const WAIT_MS = 120_000;
const STEP_MS = 300_000;

const codec = new AesGcmPayloadCodec([{ id: 'ui-test', key: randomBytes(32) }]);
let decodeCalls = 0;
const counting = {
  encode: (p: Payload[]) => codec.encode(p),
  decode: (p: Payload[]) => {
    decodeCalls += 1;
    return codec.decode(p);
  },
};

let codecServer: RunningCodecServer | undefined;
let withCodec: DevServer | undefined;
let without: DevServer | undefined;
let logDir: string | undefined;
let context: BrowserContext | undefined;
let profileDir: string | undefined;

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  logDir = mkdtempSync(join(tmpdir(), 'ttsync-ui-codec-'));
  const [uiA, uiB] = [await freePort(), await freePort()];
  codecServer = await startCodecServer({ codec: counting, host: '127.0.0.1', port: 0, origins: [`http://127.0.0.1:${uiA}`] });
  withCodec = await startDevServer({
    cliPath: resolveTemporalCli(),
    namespace: NAMESPACE,
    uiPort: uiA,
    logFile: join(logDir, 'with-codec.log'),
    readyTimeoutMs: WAIT_MS,
    extraArgs: ['--ui-codec-endpoint', codecServer.url],
  });
  without = await startDevServer({ cliPath: resolveTemporalCli(), namespace: NAMESPACE, uiPort: uiB, logFile: join(logDir, 'without.log'), readyTimeoutMs: WAIT_MS });
  profileDir = mkdtempSync(join(tmpdir(), 'ttsync-ui-codec-chromium-'));
  context = await launchUiBrowser(profileDir);
}, STEP_MS);

afterAll(async () => {
  await context?.close();
  await withCodec?.stop();
  await without?.stop();
  await codecServer?.close();
  for (const d of [logDir, profileDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Runs one healthCheck whose input carries `marker`, encrypted, on `server`; returns its id. */
async function runEncrypted(server: DevServer, marker: string): Promise<string> {
  const native = await NativeConnection.connect({ address: server.address });
  const taskQueue = uniqueId('ui-codec');
  const workers = await createWorkers({ temporal: { address: server.address, namespace: NAMESPACE, connection: { address: server.address }, source: 'test' }, connection: native, roles: ['control'], taskQueues: { control: taskQueue }, shutdownGraceTime: '1s', payloadCodec: codec });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection, namespace: NAMESPACE, dataConverter: { payloadCodecs: [codec] } });
    const workflowId = uniqueId('ui-codec-health');
    const handle = await client.workflow.start(healthCheck, { taskQueue, workflowId, args: [{ timer: '1ms', note: marker }] });
    expect((await handle.result()).phase).toBe('done');
    return workflowId;
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await connection.close();
  }
}

async function pageText(server: DevServer, workflowId: string, shot: string): Promise<{ text: string; has: (s: string) => Promise<boolean> }> {
  const page = await context!.newPage();
  await page.goto(`${server.uiUrl}/namespaces/${NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`);
  await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  // The input is shown once the page has read (and, with a codec, decoded) the history.
  await page.getByText(/"timer"|YmluYXJ5L2VuY3J5cHRlZA|binary\/encrypted/).first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
  const text = await page.locator('body').innerText();
  return { text, has: async (s) => (await page.content()).includes(s) };
}

describe('Temporal UI with encrypted payloads', { timeout: STEP_MS }, () => {
  it('shows the decoded input when the dev server names the codec server, and no plaintext without it', async () => {
    const marker = `ui-marker-${randomBytes(4).toString('hex')}`;
    const idA = await runEncrypted(withCodec!, marker);
    const decoded = await pageText(withCodec!, idA, 'with-codec');
    expect(decoded.text).toContain(marker);
    expect(decodeCalls).toBeGreaterThan(0);

    const marker2 = `ui-marker-${randomBytes(4).toString('hex')}`;
    const idB = await runEncrypted(without!, marker2);
    const raw = await pageText(without!, idB, 'without-codec');
    expect(raw.text).not.toContain(marker2);
    expect(await raw.has(marker2)).toBe(false);
  });
});
