import type { Readable, Writable } from 'node:stream';

/*
 * Bounds how long a transfer may stop moving bytes, rather than how long it may take: a
 * large object streams for as long as it needs while bytes flow. Only time during which the
 * transfer itself is waited on counts, so a slow consumer of a read, or a slow producer of
 * an upload, never looks like a stalled server.
 */

export interface StallGuard {
  /** Bytes moved, or the transfer is waited on again after a pause of the other side: the clock restarts. */
  moved(): void;
  stop(): void;
}

/**
 * Calls `onStall` once `waitedOn()` has been true with no `moved()` for `stallMs`.
 * One timer per transfer, re-armed only when it fires: `moved()` on every chunk costs a
 * clock read, not a timer.
 */
export function guardStalls(stallMs: number, waitedOn: () => boolean, onStall: () => void): StallGuard {
  let last = performance.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    timer = setTimeout(check, ms);
    // A transfer nobody closes must not keep the process alive through its guard.
    timer.unref();
  };
  const check = (): void => {
    if (stopped) return;
    const now = performance.now();
    if (!waitedOn()) {
      last = now;
      arm(stallMs);
      return;
    }
    const idle = now - last;
    if (idle >= stallMs) {
      stopped = true;
      onStall();
      return;
    }
    arm(stallMs - idle);
  };
  arm(stallMs);
  return {
    moved: () => {
      last = performance.now();
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Destroys a readable with `stalled()` when it delivers no byte for `stallMs` while it is
 * flowing. A pipe pauses its source while the destination is full, so a reader that is
 * behind stops the clock, and the resume restarts it.
 */
export function guardReadStalls(source: Readable, stallMs: number, stalled: () => Error): void {
  const guard = guardStalls(stallMs, () => source.readableFlowing !== false, () => source.destroy(stalled()));
  source.on('data', guard.moved);
  source.on('resume', guard.moved);
  source.once('close', guard.stop);
  source.once('end', guard.stop);
}

/**
 * Destroys a writable with `stalled()` when, holding bytes it was given or ended and not
 * yet finished (waiting for the server's last answer), it moves nothing for `stallMs`.
 * The caller reports bytes taken (`moved`); `progressEvent` names an event the writable
 * emits as it sends bytes on.
 */
export function guardWriteStalls(sink: Writable, stallMs: number, stalled: () => Error, progressEvent?: string): StallGuard {
  const guard = guardStalls(stallMs, () => sink.writableLength > 0 || (sink.writableEnded && !sink.writableFinished), () => sink.destroy(stalled()));
  if (progressEvent) sink.on(progressEvent, guard.moved);
  sink.once('close', guard.stop);
  sink.once('finish', guard.stop);
  return guard;
}
