/*
 * Memory lent to the steps of delta diffs (diffDelta.ts). A 1%-churn diff reads every state
 * list of the applied state (96 MiB at 1M rows), and writes whole the lists whose change
 * outgrew their delta (stateDelta.ts). In fresh buffers that is external memory V8 answers
 * with a full collection per ~64 MiB. A step borrows room for the lists it reads and the lists
 * it writes, and gives it back once its objects are stored; the next step (of any diff group
 * running in this process) reuses it.
 *
 * Once no delta diff runs, up to KEEP_IDLE_BYTES of it is kept KEEP_IDLE_MS longer, then dropped: a worker that
 * runs syncs one after another (many destinations, a backlog) reads the next one's state into
 * pages it has used before, and an idle worker holds none. A fresh page is not free: the kernel
 * faults it in and zeroes it, and a virtual machine that hands unused memory back to its host
 * maps it again on its first touch (about 5 µs a page on the 2-core machine of the README's
 * figures: about 0.1 CPU s for a 1M-row churn's state).
 */

/** How long memory outlives the last delta diff that used it. */
export const KEEP_IDLE_MS = 120_000;

/**
 * The most it keeps meanwhile (the largest buffers first, as they fit the most steps): a 1M-row
 * churn's four groups borrow about 40 MiB, and whatever runs next in the worker (a 10M-row
 * first sync peaks near 490 MiB without it) has a known bound beside it.
 */
export const KEEP_IDLE_BYTES = 64 << 20;

let users = 0;
const free: Buffer[] = [];
let dropping: NodeJS.Timeout | undefined;

/** A delta diff starts using the pool; call the returned function when it ends (whatever the outcome). */
export function usePool(): () => void {
  users++;
  clearTimeout(dropping);
  dropping = undefined;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--users > 0) return;
    free.sort((a, b) => b.length - a.length);
    const keep: Buffer[] = [];
    let kept = 0;
    for (const b of free) {
      if (kept + b.length > KEEP_IDLE_BYTES) continue;
      keep.push(b);
      kept += b.length;
    }
    free.splice(0, free.length, ...keep);
    dropping = setTimeout(() => {
      dropping = undefined;
      free.length = 0;
    }, KEEP_IDLE_MS);
    // A kept pool never holds a process open.
    dropping.unref();
  };
}

/** Bytes the pool holds for reuse (not lent). */
export function pooledBytes(): number {
  let n = 0;
  for (const b of free) n += b.length;
  return n;
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
