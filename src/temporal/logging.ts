import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';
import { TikTokMetricNames } from '../tiktok/metrics';
import { LifecycleMetricNames } from './lifecycleMetrics';

// Expected on activity-only queues and on every start; they read like faults to ops.
const BENIGN = [
  /^No workflows registered, not polling for workflow tasks/,
  /^No Nexus services registered/,
  /^asset workflow-bundle/, // webpack's multi-line bundle report
];

/** What a logged error becomes: JSON.stringify alone turns an Error into `{}`. */
export interface LoggedError {
  /** The failure type (an ApplicationFailure's `type`), else the error's class name. */
  type: string;
  message: string;
  stack?: string;
  cause?: unknown;
}

/**
 * An Error, from this realm or another: workflow errors are made in the workflow's V8 context
 * and reach the worker's logger through a structured clone, so `instanceof Error` is not enough.
 */
function isErrorLike(v: unknown): v is Error {
  return v instanceof Error || Object.prototype.toString.call(v) === '[object Error]';
}

/**
 * An error as plain JSON. A workflow error loses its own fields (an ApplicationFailure's
 * `type`) on the way from the workflow thread; its class name is still the first word of its
 * stack (`ApplicationFailure: …`), so that is the type then.
 */
export function loggedError(err: Error): LoggedError {
  const own = err as Error & { type?: unknown; cause?: unknown };
  const fromStack = typeof err.stack === 'string' ? /^([A-Za-z_$][\w$]*)(?::|$)/.exec(err.stack)?.[1] : undefined;
  const name = err.name && err.name !== 'Error' ? err.name : (fromStack ?? err.name ?? 'Error');
  return {
    type: typeof own.type === 'string' && own.type ? own.type : name,
    message: String(err.message ?? ''),
    ...(typeof err.stack === 'string' ? { stack: err.stack } : {}),
    ...(own.cause !== undefined && own.cause !== null ? { cause: own.cause } : {}),
  };
}

/** Log metadata as one line of JSON: errors (nested ones and causes too) with their message, type and stack; bigints as strings. */
export function formatLogMeta(meta: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(meta, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (typeof value !== 'object' || value === null) return value;
      if (seen.has(value)) return '[repeated]';
      seen.add(value);
      return isErrorLike(value) ? loggedError(value) : value;
    });
  } catch (err) {
    return JSON.stringify({ unprintableMeta: (err as Error).message });
  }
}

/** One log line: time, level, message, then the metadata as JSON. */
export function formatLogLine(entry: Pick<LogEntry, 'timestampNanos' | 'level' | 'message' | 'meta'>): string {
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length ? ` ${formatLogMeta(entry.meta)}` : '';
  return `${at} ${entry.level} ${entry.message}${meta}\n`;
}

function oneLine(entry: LogEntry): void {
  if (BENIGN.some((re) => re.test(entry.message))) return;
  process.stderr.write(formatLogLine(entry));
}

/** Bucket bounds (ms) for the TikTok latency histogram: Core's default starts at 50 ms, where most API calls end. */
const TIKTOK_LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];
/** Processing waits last seconds to hours. */
const PROCESSING_WAIT_BUCKETS_MS = [1000, 5000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 86_400_000];

export interface RuntimeTelemetry {
  /**
   * `host:port` for Core's Prometheus exporter (`/metrics`): the SDK's runtime metrics
   * (`temporal_*`) and ttsync's own (`ttsync_*`, recorded on the SDK's meters) on one endpoint.
   */
  metricsAddress?: string;
}

/**
 * Installs the SDK runtime with one-line logs at `level` (TTSYNC_LOG_LEVEL overrides), and the
 * Prometheus endpoint when asked. Must run before any worker or native connection is created.
 */
export function installRuntimeLogging(level?: LogLevel, coreLevel: LogLevel = 'WARN', telemetry: RuntimeTelemetry = {}): void {
  const chosen = (process.env.TTSYNC_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? level ?? 'INFO';
  try {
    install();
  } catch (err) {
    if (!telemetry.metricsAddress) throw err;
    // Core's own words ("Address already in use") say what; the address says where.
    throw new Error(`cannot serve metrics on ${telemetry.metricsAddress}: ${(err as Error).message}`);
  }
  function install(): void {
  Runtime.install({
    logger: new DefaultLogger(chosen, oneLine),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: coreLevel, other: coreLevel }), forward: {} },
      ...(telemetry.metricsAddress
        ? {
            metrics: {
              prometheus: {
                bindAddress: telemetry.metricsAddress,
                histogramBucketOverrides: {
                  [TikTokMetricNames.latency]: TIKTOK_LATENCY_BUCKETS_MS,
                  [TikTokMetricNames.rateLimitWait]: TIKTOK_LATENCY_BUCKETS_MS,
                  [LifecycleMetricNames.processingWait]: PROCESSING_WAIT_BUCKETS_MS,
                },
              },
            },
          }
        : {}),
    },
  });
  }
}
