import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { defaultWorkflowBundlePath } from '../../../src/worker';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { waitForStatus } from '../../helpers/audienceStatus';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { cliAgainstTestServer } from '../../helpers/cli';
import { pad, range } from '../../helpers/syntheticPeople';
import { testEnv } from '../../helpers/temporal';

/*
 * Tokens never show: a worker process (the data and TikTok activities, which resolve the
 * token and send it) and the CLI (sync --wait, status, doctor) run a real sync to the
 * emulator, once with a good token and once with one TikTok refuses (the error paths print
 * the most). Their whole output, and the workflow histories, are searched for both tokens.
 */

const TOKEN_VAR = 'TTSYNC_TEST_SECRETS_OUTPUT_TOKEN';
let script: string;
let child: ChildProcessLines | undefined;
const workflowIds: string[] = [];
beforeAll(() => {
  script = compileFixture('audience-worker');
});

const harness = useAudienceHarness({
  name: 'secrets-out',
  emulator: { processingDelay: 100, matchRate: 1 },
  tokenVar: TOKEN_VAR,
  controlOnly: { workflowBundlePath: defaultWorkflowBundlePath() },
});

afterAll(async () => {
  for (const id of workflowIds) await harness.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
  await child?.stop('SIGTERM');
});

function writeSnapshot(name: string, ids: number[]): string {
  const path = join(harness.dir, name);
  writeFileSync(path, ['email,phone', ...ids.map((i) => `user${i}@example.com,(212) 201-${pad(i, 4)}`), 'not-an-email,'].join('\n') + '\n');
  return `file://${path}`;
}

function writeConfig(config: DestinationConfigInput): string {
  const path = join(harness.dir, `${config.destinationId}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

describe('secrets never appear in output', { timeout: 180_000 }, () => {
  it("a worker's and the CLI's whole output and the histories hold neither a good nor a refused token", async () => {
    const advertiser = harness.newAdvertiser();
    const good = (await harness.control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [advertiser] })).access_token;
    const refused = `refused${randomBytes(16).toString('hex')}`;
    const env = testEnv();
    const workerEnv = {
      TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE,
      TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl,
      TIKTOK_QPS: '1000',
      TIKTOK_MAX_ATTEMPTS: '2',
      TTSYNC_FIXTURE_QUEUES: JSON.stringify(harness.queues),
      TTSYNC_DEBUG: '1',
    };
    const queueFlags = ['--task-queue', harness.taskQueue, '--data-queue', harness.queues.data, '--tiktok-queue', harness.queues.tiktok, '--poll-initial', '100ms', '--poll-max', '1s'];
    const cliEnv = { [TOKEN_VAR]: good, TIKTOK_API_BASE_URL: harness.emu.apiBaseUrl, TTSYNC_DEBUG: '1' };
    const outputs: string[] = [];
    const cli = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await cliAgainstTestServer(args, { timeoutMs: 120_000, env: { ...cliEnv, ...extra } });
      outputs.push(`$ ttsync ${args.join(' ')}\n${r.stdout}${r.stderr}`);
      return r;
    };

    // The good token: a full sync, followed by the CLI.
    child = await spawnFixture(script, { ...workerEnv, [TOKEN_VAR]: good });
    const config = harness.destination(advertiser);
    workflowIds.push(WorkflowIds.audienceSync(config.destinationId));
    const file = writeConfig(config);
    const synced = await cli(['audience', 'sync', '--config', file, '--snapshot', writeSnapshot('good.csv', range(0, 600)), '--wait', ...queueFlags]);
    expect(synced.code).toBe(0);
    expect((await cli(['audience', 'status', config.destinationId])).code).toBe(0);
    await cli(['doctor', '--config', file]);
    await child.stop('SIGTERM');
    outputs.push(child.output());

    // A token TikTok refuses: the worker parks the destination, the CLI shows why.
    child = await spawnFixture(script, { ...workerEnv, [TOKEN_VAR]: refused });
    const config2 = harness.destination(advertiser);
    workflowIds.push(WorkflowIds.audienceSync(config2.destinationId));
    const file2 = writeConfig(config2);
    await cli(['audience', 'sync', '--config', file2, '--snapshot', writeSnapshot('refused.csv', range(0, 600)), ...queueFlags], { [TOKEN_VAR]: refused });
    const parked = await waitForStatus(harness.client.workflow.getHandle(WorkflowIds.audienceSync(config2.destinationId)), (s) => s.phase === 'reauthorization_required', 90_000);
    expect(parked.lastError?.message).toBeTruthy();
    const status = await cli(['audience', 'status', config2.destinationId], { [TOKEN_VAR]: refused });
    expect(status.stdout).toContain('reauthorization_required');
    await cli(['doctor', '--config', file2], { [TOKEN_VAR]: refused });
    await child.stop('SIGTERM');
    outputs.push(child.output());

    const histories: string[] = [];
    for (const id of workflowIds) {
      for await (const w of harness.client.workflow.list({ query: `WorkflowId="${id}"` })) {
        histories.push(JSON.stringify(await harness.client.workflow.getHandle(id, w.runId).fetchHistory()));
      }
    }
    const everything = [...outputs, ...histories].join('\n');
    // The searches are real: the output holds what the sync did.
    expect(everything).toContain(config.destinationId);
    expect(everything).toContain('reauthorization_required');
    for (const token of [good, refused]) {
      expect(everything).not.toContain(token);
      // nor a recognisable part of it
      expect(everything).not.toContain(token.slice(0, 12));
    }
  });
});
