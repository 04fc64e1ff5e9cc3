import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliAgainstTestServer, exitOf, spawnCli, waitForOutput, type SpawnedCli } from '../../helpers/cli';
import { freshNamespace } from '../../helpers/namespace';
import { testClient, testEnv } from '../../helpers/temporal';

/*
 * ttsync connects the way the `temporal` CLI does: a worker and a command given nothing but a
 * CLI profile (a TOML file named by TEMPORAL_CONFIG_FILE, a profile named by TEMPORAL_PROFILE;
 * no TEMPORAL_ADDRESS, no TEMPORAL_NAMESPACE) reach the server and namespace the profile names.
 * The namespace is a fresh one, so the worker (on the default task queues) serves only this file.
 */

let client: Client;
let namespace: string;
let dir: string;
let toml: string;
let worker: SpawnedCli | undefined;

/** Only the profile: the run's own variables are removed (undefined is left out of a child's environment). */
const profileOnly = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  TEMPORAL_ADDRESS: undefined,
  TEMPORAL_NAMESPACE: undefined,
  TEMPORAL_CONFIG_FILE: toml,
  TEMPORAL_PROFILE: 'ci',
  ...extra,
});

beforeAll(async () => {
  client = await testClient();
  namespace = await freshNamespace(client, 'profile-ns');
  dir = mkdtempSync(join(tmpdir(), 'ttsync-profile-'));
  toml = join(dir, 'temporal.toml');
  // A default profile that leads nowhere: only the selected one may be used.
  writeFileSync(
    toml,
    `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.ci]\naddress = "${testEnv().TEMPORAL_ADDRESS}"\nnamespace = "${namespace}"\n`,
  );
});

afterEach(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await exitOf(worker);
  }
  worker = undefined;
});

afterAll(async () => {
  await client?.connection.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Temporal connection from a temporal CLI profile', { timeout: 120_000 }, () => {
  it('a worker and a command given only a profile connect to its server and namespace and run a workflow', async () => {
    worker = spawnCli(['worker', '--roles', 'control', '--shutdown-grace', '1s'], profileOnly());
    const m = await waitForOutput(worker, /polling ttsync-control on (\S+), namespace (\S+) \((.+)\)\n/);
    expect(m.slice(1)).toEqual([testEnv().TEMPORAL_ADDRESS, namespace, `profile "ci" of ${toml}`]);

    const health = await cliAgainstTestServer(['health', '--timer', '100ms'], { env: profileOnly() });
    expect(health.stderr).toBe('');
    expect(health.code).toBe(0);
    const result = JSON.parse(health.stdout) as { workflowId: string; phase: string };
    expect(result.phase).toBe('done');
    // It ran in the profile's namespace (the run's own client looks there).
    const described = await client.workflow.getHandle(result.workflowId).describe().catch(() => null);
    expect(described).toBeNull();
    const inProfileNs = await client.connection.workflowService.describeWorkflowExecution({ namespace, execution: { workflowId: result.workflowId } });
    expect(inProfileNs.workflowExecutionInfo?.type?.name).toBe('healthCheck');
  });

  it("ttsync's old TLS variable names still work for a release, each with a warning naming the standard one", async () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    // TLS off (the dev server speaks plaintext): the old name is still read, and warned about.
    worker = spawnCli(['worker', '--roles', 'control', '--shutdown-grace', '1s'], profileOnly({ TEMPORAL_TLS_CA_PATH: ca, TEMPORAL_TLS: 'false' }));
    await waitForOutput(worker, /polling ttsync-control on \S+, namespace \S+ \(profile "ci" of .+\)\n/);
    expect(worker.output()).toContain(
      'warning: TEMPORAL_TLS_CA_PATH is deprecated and goes away in the next release: set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead (the name the temporal CLI and the SDKs read)',
    );
    // Its value is the CA's: a path that does not exist is named with the setting it now stands for.
    const missing = await cliAgainstTestServer(['health'], { env: profileOnly({ TEMPORAL_TLS_CA_PATH: join(dir, 'nope.pem'), TEMPORAL_TLS: 'false' }) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`ttsync: cannot read the server CA certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH or tls.server_ca_cert_path of profile "ci" of ${toml}) at ${join(dir, 'nope.pem')}`);
  });

  it('a config file that is not TOML stops the worker and the commands with its path and line', async () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[profile.ci]\naddress = "127.0.0.1:7233\n');
    const env = profileOnly({ TEMPORAL_CONFIG_FILE: bad });
    const health = await cliAgainstTestServer(['health'], { env });
    expect(health.code).toBe(1);
    expect(health.stderr).toMatch(new RegExp(`^ttsync: cannot read the Temporal config file ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: line 2, column \\d+: `));
    worker = spawnCli(['worker', '--roles', 'control'], env);
    expect(await exitOf(worker)).toBe(1);
    expect(worker.output()).toContain(`ttsync: cannot read the Temporal config file ${bad}: line 2`);
  });
});
