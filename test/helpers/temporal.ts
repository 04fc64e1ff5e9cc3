import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createWorkers, type RunningWorkers, type WorkerConfig } from '../../src/worker';
import { localTemporalSettings, type TemporalSettings } from '../../src/temporal/connection';
import { NO_TEMPORAL_CONFIG_FILE } from './noProfile';


/** The run's shared server, as the variables a child process needs to reach it. */
export function testEnv(): { TEMPORAL_ADDRESS: string; TEMPORAL_NAMESPACE: string; TEMPORAL_CONFIG_FILE: string } {
  return { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace'), TEMPORAL_CONFIG_FILE: NO_TEMPORAL_CONFIG_FILE };
}

/** The run's shared server, for connections made in this process (no profile is read). */
export function testTemporal(): TemporalSettings {
  return localTemporalSettings(inject('temporalAddress'), inject('temporalNamespace'));
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function testClient(): Promise<Client> {
  return temporalClient(testTemporal());
}

/** A client of the server `temporal` names. */
export async function temporalClient(temporal: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address: temporal.address });
  return new Client({ connection, namespace: temporal.namespace });
}

/**
 * Runs the real ttsync workers on a unique control queue while `fn` runs, then drains them.
 * Each test gets its own queue so files running in parallel never steal each other's tasks.
 */
export async function withWorkers<T>(
  fn: (ctx: { taskQueue: string; workers: RunningWorkers }) => Promise<T>,
  cfg: Omit<WorkerConfig, 'temporal' | 'connection'> = {},
): Promise<T> {
  const temporal = testTemporal();
  const taskQueue = uniqueId('test-control');
  const connection = await NativeConnection.connect({ address: temporal.address });
  const workers = await createWorkers({
    roles: ['control'],
    ...cfg,
    temporal,
    connection,
    taskQueues: { control: taskQueue, ...cfg.taskQueues },
    shutdownGraceTime: '1s',
  });
  try {
    return await fn({ taskQueue, workers });
  } finally {
    workers.shutdown();
    await workers.done;
    await connection.close();
  }
}
