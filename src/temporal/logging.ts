import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';

// Expected on activity-only queues and on every start; they read like faults to ops.
const BENIGN = [
  /^No workflows registered, not polling for workflow tasks/,
  /^No Nexus services registered/,
  /^asset workflow-bundle/, // webpack's multi-line bundle report
];

function oneLine(entry: LogEntry): void {
  if (BENIGN.some((re) => re.test(entry.message))) return;
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length ? ` ${JSON.stringify(entry.meta)}` : '';
  process.stderr.write(`${at} ${entry.level} ${entry.message}${meta}\n`);
}

/**
 * Installs the SDK runtime with one-line logs at `level` (TTSYNC_LOG_LEVEL overrides).
 * Must run before any worker or native connection is created.
 */
export function installRuntimeLogging(level?: LogLevel, coreLevel: LogLevel = 'WARN'): void {
  const chosen = (process.env.TTSYNC_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? level ?? 'INFO';
  Runtime.install({
    logger: new DefaultLogger(chosen, oneLine),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: coreLevel, other: coreLevel }), forward: {} },
    },
  });
}
