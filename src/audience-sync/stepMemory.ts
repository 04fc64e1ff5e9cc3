/*
 * Memory lent to the steps of delta diffs (diffDelta.ts). A 1%-churn diff reads every state
 * list of the applied state (96 MiB at 1M rows), and writes whole the lists whose change
 * outgrew their delta (stateDelta.ts). In fresh buffers that is external memory V8 answers
 * with a full collection per ~64 MiB. A step borrows room for the lists it reads and the lists
 * it writes, and gives it back once its objects are stored; the next step (of any diff group
 * running in this process) reuses it. When no delta diff runs, nothing is kept: an idle
 * worker holds none.
 */

let users = 0;
const free: Buffer[] = [];

/** A delta diff starts using the pool; call the returned function when it ends (whatever the outcome). */
export function usePool(): () => void {
  users++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--users === 0) free.length = 0;
  };
}

/**
 * At least `bytes` of memory (the smallest free buffer that fits, else a fresh one), of
 * unspecified contents; the caller writes before it reads.
 */
export function borrow(bytes: number): Buffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) if (free[i]!.length >= bytes && (best < 0 || free[i]!.length < free[best]!.length)) best = i;
  if (best >= 0) return free.splice(best, 1)[0]!;
  // A little above the need, so a later step a little larger still fits; pages never written cost no memory.
  return Buffer.allocUnsafeSlow(Math.max(1 << 16, Math.ceil((bytes * 1.25) / 65536) * 65536));
}

/** Gives back a borrowed buffer: nothing may use it any more. */
export function giveBack(buf: Buffer): void {
  if (users > 0) free.push(buf);
}
