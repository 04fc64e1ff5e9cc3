import { DURATION_EXAMPLES, durationMs, durationProblem } from '../config/duration';
import { ConfigError } from '../config/errors';

/*
 * How long one GCS call may wait on the server before it fails as `unavailable` (retryable),
 * instead of holding an activity until its start-to-close timeout.
 *
 * Two bounds, because two kinds of call:
 * - a request whose answer is small (stat, list page, delete, simple upload, the start of a
 *   read): one deadline per HTTP attempt, enforced by the client library (Storage `timeout`),
 *   which retries a timed-out attempt like any lost answer (not a simple upload's: its
 *   retry only takes errors with a retryable code, and a timeout has none);
 * - a stream (a read's body, a resumable upload) may legitimately run for minutes on a large
 *   object, so it is bounded by how long it may go without moving a byte (stallGuard.ts).
 */

/**
 * 60 s: GCS answers metadata calls in tens of milliseconds and a simple upload (at most the
 * 8 MiB resumable threshold) in seconds even at 2 MB/s; a minute of silence is an outage,
 * not a slow answer. With the library's 3 retries a server that never answers fails a stat
 * after 4 attempts and their backoff, about 4¼ minutes: inside the 10-minute
 * start-to-close timeout of an audience sync's data steps, so Temporal retries the step
 * instead of waiting that timeout out.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/**
 * 120 s: longer than one request's deadline because a stream also waits on things that are
 * not the network moving bytes (GCS finalizing a large resumable upload, a resumable chunk's
 * answer after 8 MiB were sent), yet it still fails a stalled transfer in 2 minutes.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

export const REQUEST_TIMEOUT_ENV = 'TTSYNC_GCS_REQUEST_TIMEOUT';
export const STALL_TIMEOUT_ENV = 'TTSYNC_GCS_STALL_TIMEOUT';

export interface GcsDeadlines {
  /** Deadline of one HTTP attempt of a request with a small answer. */
  requestMs: number;
  /** A stream that moves no byte this long, while it is the one being waited on, fails. */
  stallMs: number;
}

/** The deadlines the environment sets (TTSYNC_GCS_REQUEST_TIMEOUT, TTSYNC_GCS_STALL_TIMEOUT), else the defaults. */
export function gcsDeadlinesFromEnv(env: NodeJS.ProcessEnv = process.env): GcsDeadlines {
  return {
    requestMs: positiveDurationOf(env, REQUEST_TIMEOUT_ENV) ?? DEFAULT_REQUEST_TIMEOUT_MS,
    stallMs: positiveDurationOf(env, STALL_TIMEOUT_ENV) ?? DEFAULT_STALL_TIMEOUT_MS,
  };
}

function positiveDurationOf(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const ms = durationMs(raw.trim());
  if (ms === undefined) throw new ConfigError(`${name}: ${durationProblem(raw.trim()) ?? `${JSON.stringify(raw)} is not a duration`}`);
  if (ms === 0) throw new ConfigError(`${name} is ${JSON.stringify(raw)}: give a duration above zero such as ${DURATION_EXAMPLES} (unset: the default)`);
  return ms;
}

/** "60 s", "1.5 s": how messages name a deadline. */
export function secondsText(ms: number): string {
  return `${ms / 1000} s`;
}

/** The retry backoff the client is built with: delay n is 2^n s plus up to 1 s of jitter, at most 64 s (the library's defaults, stated so the budget below is computed from them). */
const RETRY_DELAY_MULTIPLIER = 2;
const MAX_RETRY_DELAY_S = 64;
const LIBRARY_TOTAL_TIMEOUT_S = 600;

/**
 * The client's retry timing for attempts of up to `requestMs` each: the backoff above, and a
 * totalTimeout never shorter than the worst case of every attempt plus every backoff.
 * WHY: retry-request (the library's retry of JSON calls and read streams) checks the total
 * only when it is about to wait for the next attempt, and when the budget is spent it
 * returns without ever calling back or emitting an error: the call then hangs forever,
 * which is the very failure the deadline is here to prevent. An attempt can take two
 * deadlines: node-fetch times the wait for the headers, then separately the reading of a
 * JSON body.
 */
export function retryTiming(requestMs: number, maxRetries: number): { retryDelayMultiplier: number; maxRetryDelay: number; totalTimeout: number } {
  let backoff = 0;
  for (let n = 1; n <= maxRetries; n++) backoff += Math.min(RETRY_DELAY_MULTIPLIER ** n + 1, MAX_RETRY_DELAY_S);
  const worst = Math.ceil(((maxRetries + 1) * 2 * requestMs) / 1000) + backoff;
  // The margin covers what runs between attempts (auth, the event loop of a busy worker).
  return { retryDelayMultiplier: RETRY_DELAY_MULTIPLIER, maxRetryDelay: MAX_RETRY_DELAY_S, totalTimeout: Math.max(LIBRARY_TOTAL_TIMEOUT_S, worst + 60) };
}
