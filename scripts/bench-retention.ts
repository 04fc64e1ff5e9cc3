// Retention anonymizer throughput and memory (issue 17). Prints numbers; asserts nothing.
//   npm run bench:retention                   1M rows over 9 months (273 daily partitions), CSV then NDJSON
//   BENCH_ROWS=200000 BENCH_FORMATS=csv npm run bench:retention
// Two measures per format, in one process, one partition at a time (one core):
//  - anonymizer: the streaming anonymizer alone over every partition's bytes (in memory),
//  - object job: processObject on the local store, as the activity runs it: read, anonymize,
//    stage, re-read to check the counts, compare-and-swap in place, progress records.
// As of 2027-12-01 every partition is past the 6-month window, so every TikTok row (40%) is
// rewritten: the slow path. Rates are rows per CPU second of this process [and per wall second].
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymizerFor } from '../src/retention/anonymize';
import { parseDatasetConfig } from '../src/retention/config';
import { planRetention, processObject } from '../src/retention/objects';
import { rowPolicyOf } from '../src/retention/rowPolicy';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../src/retention/synthetic';
import { openBlobStore } from '../src/storage';

const ROWS = Math.min(10_000_000, Number(process.env.BENCH_ROWS ?? 1_000_000));
const FORMATS = (process.env.BENCH_FORMATS ?? 'csv,ndjson').split(',') as ('csv' | 'ndjson')[];
const DAYS = 273;
const AS_OF = '2027-12-01';
const CHUNK = 64 * 1024;

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
sampler.unref();
const vmHwm = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; cpu: number; wall: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  for (const format of FORMATS) {
    const dir = await mkdtemp(join(tmpdir(), 'ttsync-bench-retention-'));
    try {
      const gen = await generateSyntheticDataset(openBlobStore(dir), { start: '2026-01-01', days: DAYS, rowsPerDay: Math.ceil(ROWS / DAYS), format, seed: 1 });
      const config = parseDatasetConfig(syntheticDatasetConfig('bench', dir, join(dir, 'audit'), format));
      const rss0 = process.memoryUsage().rss;
      peak = rss0;
      console.log(`${format}: ${fmt(gen.rows)} rows in ${gen.partitions} partitions, ${mib(gen.bytes)}; RSS before: ${mib(rss0)}`);

      const policy = rowPolicyOf(config, AS_OF);
      const alone = await timed(async () => {
        let rows = 0;
        let anonymized = 0;
        for (const key of gen.recordsKeys) {
          const bytes = readFileSync(join(dir, key));
          const a = anonymizerFor(format, policy, ',', key);
          for (let i = 0; i < bytes.length; i += CHUNK) a.push(bytes.subarray(i, i + CHUNK));
          a.end();
          rows += a.counts.rowsSeen;
          anonymized += a.counts.rowsAnonymized;
        }
        return { rows, anonymized };
      });
      console.log(
        `  anonymizer alone: ${fmt(alone.value.rows / alone.cpu)} rows/CPU-s [${fmt(alone.value.rows / alone.wall)} rows/s wall], ${fmt(alone.value.anonymized)} rows rewritten, ${(alone.cpu).toFixed(2)} CPU-s`,
      );

      const stores = { records: openBlobStore(config.records.uri), audit: openBlobStore(config.audit) };
      const job = await timed(async () => {
        const plan = await planRetention(stores, config, AS_OF);
        let rows = 0;
        let anonymized = 0;
        for (const { key } of plan.due) {
          const r = await processObject(stores, { config, key, asOf: AS_OF, dryRun: false, runId: 'bench' });
          rows += r.rowsSeen;
          anonymized += r.rowsAnonymized;
        }
        return { rows, anonymized, objects: plan.due.length };
      });
      console.log(
        `  object job (read, anonymize, stage, verify, swap in place, audit): ${fmt(job.value.rows / job.cpu)} rows/CPU-s [${fmt(job.value.rows / job.wall)} rows/s wall], ` +
          `${fmt(job.value.anonymized)} rows anonymized in ${job.value.objects} objects, ${job.wall.toFixed(1)} s wall`,
      );
      console.log(`  peak RSS: ${mib(peak)} sampled (VmHWM ${mib(vmHwm())}, includes generating the dataset)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
