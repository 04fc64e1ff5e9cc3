import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createWorkers, type RunningWorkers, type WorkerConfig } from '../../src/worker';
import { parseTemporalEnv, type TemporalEnv } from '../../src/config/temporalEnv';

export function testEnv(): TemporalEnv {
  return parseTemporalEnv({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function testClient(): Promise<Client> {
  return temporalClient(testEnv());
}

/** A client of the server `env` names. */
export async function temporalClient(env: TemporalEnv): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

/**
 * Runs the real ttsync workers on a unique control queue while `fn` runs, then drains them.
 * Each test gets its own queue so files running in parallel never steal each other's tasks.
 */
export async function withWorkers<T>(
  fn: (ctx: { taskQueue: string; workers: RunningWorkers }) => Promise<T>,
  cfg: Omit<WorkerConfig, 'env' | 'connection'> = {},
): Promise<T> {
  const env = testEnv();
  const taskQueue = uniqueId('test-control');
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const workers = await createWorkers({
    roles: ['control'],
    ...cfg,
    env,
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
