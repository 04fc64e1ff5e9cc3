import {
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { HealthActivities } from '../activities/health';
import { SearchAttributeKeys } from '../src/temporal/searchAttributes';

export interface HealthCheckInput {
  /** Timer length; proves durable timers fire. */
  timer?: Duration;
  /** When set, the workflow waits for the `healthCheckRelease` signal before finishing, up to this long. */
  waitForReleaseUpTo?: Duration;
  note?: string;
}

export type HealthPhase = 'pinging' | 'sleeping' | 'awaiting_release' | 'done';

export interface HealthStatus {
  phase: HealthPhase;
  pings: number;
  signalsReceived: number;
  lastPing?: { worker: string; version: string; at: string; attempt: number };
  released: boolean;
}

export interface HealthCheckResult extends HealthStatus {
  releasedBySignal: boolean;
}

export const healthStatusQuery = defineQuery<HealthStatus>('healthStatus');
/** Asks the workflow to run another ping activity; proves signals reach it. */
export const healthPingSignal = defineSignal<[]>('healthPing');
export const healthReleaseSignal = defineSignal<[]>('healthCheckRelease');

const { healthPing } = proxyActivities<HealthActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s' },
});

/** Proves the plumbing end to end: activity, durable timer, query and signals. */
export async function healthCheck(input: HealthCheckInput = {}): Promise<HealthCheckResult> {
  const status: HealthStatus = { phase: 'pinging', pings: 0, signalsReceived: 0, released: false };
  let pendingPings = 0;
  setHandler(healthStatusQuery, () => status);
  setHandler(healthPingSignal, () => {
    status.signalsReceived += 1;
    pendingPings += 1;
  });
  setHandler(healthReleaseSignal, () => {
    status.signalsReceived += 1;
    status.released = true;
  });
  upsertSearchAttributes([{ key: SearchAttributeKeys.Lifecycle, value: 'health' }]);

  const ping = async () => {
    const r = await healthPing(input.note ?? 'health-check');
    status.pings += 1;
    status.lastPing = { worker: r.worker, version: r.version, at: r.at, attempt: r.attempt };
  };

  await ping();
  status.phase = 'sleeping';
  await sleep(input.timer ?? '1s');

  let releasedBySignal = false;
  if (input.waitForReleaseUpTo !== undefined) {
    status.phase = 'awaiting_release';
    // Pings requested by signal run here, in arrival order, until released or timed out.
    for (;;) {
      const woke = await condition(() => status.released || pendingPings > 0, input.waitForReleaseUpTo);
      if (!woke) break;
      while (pendingPings > 0) {
        pendingPings -= 1;
        await ping();
      }
      if (status.released) {
        releasedBySignal = true;
        break;
      }
    }
  }
  status.phase = 'done';
  await condition(allHandlersFinished);
  return { ...status, releasedBySignal };
}
