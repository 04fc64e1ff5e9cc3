// Re-records test/histories/*.json from the canonical scenarios in history-scenarios.ts.
// Run it only when a workflow change is intended (see README, "Replay and saved histories").
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { localTemporalSettings } from '../src/temporal/connection';
import { PROJECT_ROOT } from '../src/paths';
import { startDevServer, type DevServer } from '../src/temporal/devServer';
import { ensureSearchAttributes } from '../src/temporal/ensureSearchAttributes';
import { serializeHistory } from '../src/temporal/replay';
import { resolveTemporalCli } from '../src/temporal/toolchain';
import { createWorkers } from '../src/worker';
import { scenarios } from './history-scenarios';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  let server: DevServer | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    server = await startDevServer({ cliPath: resolveTemporalCli() });
    address = server.address;
  }
  // A dev server named by TEMPORAL_ADDRESS, never a profile (which may name a real cluster).
  const temporal = localTemporalSettings(address, process.env.TEMPORAL_NAMESPACE || undefined);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: temporal.namespace });
  await ensureSearchAttributes(client, temporal.namespace);
  const taskQueue = `record-histories-${Date.now()}`;
  const native = await NativeConnection.connect({ address });
  const workers = await createWorkers({ temporal, connection: native, roles: ['control'], taskQueues: { control: taskQueue } });
  try {
    for (const s of scenarios.filter((x) => !only.length || only.includes(x.name))) {
      // The file is named for the scenario and keeps the run's workflow id, which replay needs:
      // the single writers check it. A fresh server avoids id clashes.
      const handle = await s.run(client, taskQueue, { temporal });
      const out = join(PROJECT_ROOT, 'test', 'histories', `${s.name}.json`);
      const history = await handle.fetchHistory();
      writeFileSync(out, serializeHistory(history, handle.workflowId));
      process.stderr.write(`recorded ${out} (${history.events?.length ?? 0} events)\n`);
    }
  } finally {
    workers.shutdown();
    await workers.done;
    await native.close();
    await connection.close();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`record-histories: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
