import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startDevServer, type DevServer } from '../src/temporal/devServer';
import { resolveTemporalCli } from '../src/temporal/toolchain';
import { connectClient, localTemporalSettings } from '../src/temporal/connection';
import { ensureSearchAttributes } from '../src/temporal/ensureSearchAttributes';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

/** ONE Temporal dev server for the whole run, shared by every test file (or TEMPORAL_ADDRESS). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: DevServer | undefined;
  let logDir: string | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  if (address) {
    const client = await connectClient(localTemporalSettings(address, namespace));
    await ensureSearchAttributes(client, namespace);
    await client.connection.close();
    process.stderr.write(`[tests] using the Temporal server at ${address} (TEMPORAL_ADDRESS)\n`);
  } else {
    logDir = mkdtempSync(join(tmpdir(), 'ttsync-test-temporal-'));
    const t0 = Date.now();
    server = await startDevServer({
      cliPath: resolveTemporalCli(),
      namespace,
      logFile: join(logDir, 'temporal.log'),
    });
    address = server.address;
    process.stderr.write(
      `[tests] started Temporal dev server ${address} (pid ${server.child.pid}) in ${Date.now() - t0} ms\n`,
    );
  }
  project.provide('temporalAddress', address);
  project.provide('temporalNamespace', namespace);
  return async () => {
    await server?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  };
}
