// Retention throughput and memory (issue 17). Prints numbers; asserts nothing.
//   npm run bench:retention                   1M rows over 9 months (273 daily partitions), CSV then NDJSON
//   BENCH_ROWS=200000 BENCH_FORMATS=csv npm run bench:retention
// Four measures per format, in one process, one partition at a time (one core):
//  - anonymizer alone (the baseline): the streaming anonymizer over every partition's bytes
//    (in memory, 1 MiB pieces as the job reads them): no I/O, no hashing, no check,
//  - whole job, one object per day, twice on two copies of the dataset (BENCH_PROTOCOLS,
//    default `batch,object`): planRetention, then every due object as the activities run
//    them: read, hash the old bytes, anonymize, count-check the output as a reader would,
//    hash it, compare-and-swap write with its fsyncs, and the progress records:
//      batch   processBatch over objectBatches (what the workflow runs): two month-record
//              writes per batch (staged before the batch's publishes, replaced after),
//      object  processObject per object (the protocol before batches): two records per object,
//  - whole job, one object: every row of the dataset in ONE object, through processBatch,
//    and the process's peak RSS while it runs: memory must not grow with the object.
// As of 2027-12-01 every partition is past the 6-month window, so every TikTok row (40%) is
// rewritten: the slow path. Rates are rows per CPU second of this process (process.cpuUsage:
// user + system, every thread), and per wall second in brackets. The machine's load average
// is printed beside each measure: other processes on the same cores slow CPU seconds too
// (shared caches), so compare runs made at a similar load.
import { createWriteStream, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymizerFor } from '../src/retention/anonymize';
import { parseDatasetConfig } from '../src/retention/config';
import { BATCH_MAX_OBJECTS, objectBatches, type ObjectResult } from '../src/retention/messages';
import { planRetention, processBatch, processObject } from '../src/retention/objects';
import { rowPolicyOf } from '../src/retention/rowPolicy';
import { generateSyntheticDataset, syntheticDatasetConfig } from '../src/retention/synthetic';
import { openBlobStore } from '../src/storage';

const ROWS = Math.min(10_000_000, Number(process.env.BENCH_ROWS ?? 1_000_000));
const FORMATS = (process.env.BENCH_FORMATS ?? 'csv,ndjson').split(',') as ('csv' | 'ndjson')[];
/** The progress protocols measured, in this order: batches (processBatch, what the workflow runs) and the per-object records before them. */
const PROTOCOLS = (process.env.BENCH_PROTOCOLS ?? 'batch,object').split(',') as ('batch' | 'object')[];
const DAYS = 273;
const AS_OF = '2027-12-01';
const CHUNK = 1 << 20;
const GOAL = 500_000;

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
sampler.unref();
const vmHwm = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const summary: { format: string; measure: string; rows: number; cpu: number; note: string }[] = [];

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
      summary.push({ format, measure: 'anonymizer alone (baseline)', rows: alone.value.rows, cpu: alone.cpu, note: `load ${load()}` });
      console.log(
        `  anonymizer alone: ${fmt(alone.value.rows / alone.cpu)} rows/CPU-s [${fmt(alone.value.rows / alone.wall)} rows/s wall], ${fmt(alone.value.anonymized)} rows rewritten, ${(alone.cpu).toFixed(2)} CPU-s`,
      );

      // The same rows as one partition object, written before the job rewrites the dataset.
      const largeDir = join(dir, 'large');
      const largeKey = `date=2026-01-01/part-0000.${format}`;
      await mkdir(join(largeDir, 'records', 'date=2026-01-01'), { recursive: true });
      const out = createWriteStream(join(largeDir, 'records', largeKey));
      for (const [i, key] of gen.recordsKeys.entries()) {
        let bytes = readFileSync(join(dir, key));
        if (format === 'csv' && i > 0) bytes = bytes.subarray(bytes.indexOf(10) + 1);
        if (!out.write(bytes)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');

      // The same dataset again for the second protocol (the first one rewrites its copy).
      const copyDir = join(dir, 'copy');
      await cp(join(dir, 'records'), join(copyDir, 'records'), { recursive: true });
      for (const protocol of PROTOCOLS) {
        const root = protocol === PROTOCOLS[0] ? dir : copyDir;
        const cfg = parseDatasetConfig(syntheticDatasetConfig('bench', root, join(root, 'audit'), format));
        const stores = { records: openBlobStore(cfg.records.uri), audit: openBlobStore(cfg.audit) };
        peak = process.memoryUsage().rss;
        const job = await timed(async () => {
          const plan = await planRetention(stores, cfg, AS_OF);
          let rows = 0;
          let anonymized = 0;
          const add = (r: ObjectResult): void => {
            rows += r.rowsSeen;
            anonymized += r.rowsAnonymized;
          };
          if (protocol === 'object') for (const { key } of plan.due) add(await processObject(stores, { config: cfg, key, asOf: AS_OF, dryRun: false, runId: 'bench' }));
          else for (const keys of objectBatches(plan.due)) for (const r of await processBatch(stores, { config: cfg, keys, asOf: AS_OF, dryRun: false, runId: 'bench' })) add(r);
          return { rows, anonymized, objects: plan.due.length };
        });
        const label = protocol === 'object' ? 'progress records per object' : `progress records per batch of up to ${BATCH_MAX_OBJECTS}`;
        summary.push({ format, measure: `whole job, ${job.value.objects} objects, ${label}`, rows: job.value.rows, cpu: job.cpu, note: `${((job.cpu / job.value.objects) * 1000).toFixed(1)} CPU-ms per object; load ${load()}` });
        console.log(
          `  whole job, ${label} (plan, then per object: read, hash, anonymize, check, hash, conditional write; progress records): ${fmt(job.value.rows / job.cpu)} rows/CPU-s [${fmt(job.value.rows / job.wall)} rows/s wall], ` +
            `${fmt(job.value.anonymized)} rows anonymized in ${job.value.objects} objects, ${job.cpu.toFixed(2)} CPU-s, ${job.wall.toFixed(1)} s wall, peak RSS ${mib(peak)}`,
        );
      }

      const largeConfig = parseDatasetConfig(syntheticDatasetConfig('bench-large', largeDir, join(largeDir, 'audit'), format));
      const largeStores = { records: openBlobStore(largeConfig.records.uri), audit: openBlobStore(largeConfig.audit) };
      const largeBytes = (await largeStores.records.stat(largeKey)).size;
      (globalThis as { gc?: () => void }).gc?.();
      const before = process.memoryUsage().rss;
      peak = before;
      const large = await timed(async () => (await processBatch(largeStores, { config: largeConfig, keys: [largeKey], asOf: AS_OF, dryRun: false, runId: 'bench-large' }))[0]!);
      summary.push({ format, measure: 'whole job, one object', rows: large.value.rowsSeen, cpu: large.cpu, note: `${mib(largeBytes)}, peak RSS +${mib(peak - before)}; load ${load()}` });
      console.log(
        `  whole job, one partition of ${mib(largeBytes)} (${fmt(large.value.rowsSeen)} rows): ${fmt(large.value.rowsSeen / large.cpu)} rows/CPU-s [${fmt(large.value.rowsSeen / large.wall)} rows/s wall], ` +
          `peak RSS ${mib(peak)} (${mib(peak - before)} above the ${mib(before)} before it)`,
      );
      console.log(`  VmHWM ${mib(vmHwm())} (the process's high-water mark, generating the dataset included)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function printSummary(): void {
  console.log(`\nrows per CPU second (goal ${fmt(GOAL)} per core; load average now ${load()} on ${availableParallelism()} cores)`);
  console.log('| format | measure | rows/CPU-s | CPU-s | vs baseline | goal | note |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of summary) {
    const base = summary.find((b) => b.format === r.format && b.measure.startsWith('anonymizer'))!;
    const rate = r.rows / r.cpu;
    console.log(`| ${r.format} | ${r.measure} | ${fmt(rate)} | ${r.cpu.toFixed(2)} | ${((100 * rate) / (base.rows / base.cpu)).toFixed(0)}% | ${rate >= GOAL ? 'met' : 'not met'} | ${r.note} |`);
  }
}

main()
  .then(printSummary)
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
