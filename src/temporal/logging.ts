import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';

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
