/**
 * Runs async tasks with at most `limit` in flight. Object stores answer small requests
 * with tens of milliseconds of latency each (GCS), so the hundreds of shard lists of a run
 * are written and read concurrently; the limit bounds the memory held by pending writes.
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown = undefined;
  private failed = false;

  constructor(private readonly limit: number) {}

  /** Starts `task`, first waiting for a free slot; rethrows an earlier task's failure. */
  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
    const p: Promise<void> = task().then(
      () => {
        this.running.delete(p);
      },
      (err: unknown) => {
        this.running.delete(p);
        if (!this.failed) {
          this.failed = true;
          this.failure = err;
        }
      },
    );
    this.running.add(p);
  }

  /** Waits for every started task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.race(this.running);
    this.check();
  }

  private check(): void {
    if (this.failed) throw this.failure;
  }
}

/** Maps `items` with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const pool = new TaskPool(limit);
  for (let i = 0; i < items.length; i++) await pool.run(async () => void (out[i] = await fn(items[i]!, i)));
  await pool.drain();
  return out;
}
