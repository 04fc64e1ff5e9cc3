/**
 * Asking a closed run for its last status: a worker replays its history to answer. A run that
 * failed before its query handler existed says so at once, and has no status to give; any other
 * refusal (a worker busy or restarting, a replay cut short) is asked again until the deadline,
 * and if none answers, why is kept for the operator instead of leaving the status out in silence.
 */
/** The status, or null with why no worker gave it (null too when the run never had one). */
export interface ClosedAnswer<T> {
  value: T | null;
  unanswered?: string | null;
}

export async function askClosedRun<T>(
  ask: (deadlineMs: number) => Promise<T>,
  opts: { deadlineMs: number; now?: () => number; pauseMs?: number; notRegistered: (err: unknown) => boolean },
): Promise<ClosedAnswer<T>> {
  const now = opts.now ?? Date.now;
  let last = 'no answer';
  while (now() < opts.deadlineMs) {
    try {
      return { value: await ask(opts.deadlineMs) };
    } catch (err) {
      if (opts.notRegistered(err)) return { value: null, unanswered: null };
      last = (err as Error)?.message ?? String(err);
    }
    const left = opts.deadlineMs - now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(opts.pauseMs ?? 250, left)));
  }
  return { value: null, unanswered: last };
}
