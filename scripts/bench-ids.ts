// Identifier hashing and snapshot reading throughput (issue 4). Prints numbers; asserts nothing.
//   npm run bench:ids                 1M values per type, 1M-row CSV snapshots
//   BENCH_N=200000 npm run bench:ids  smaller run
// The baseline is what peer connectors do per value: trim, lowercase, then one
// createHash('sha256').update(v).digest('hex'). It runs in the same process on the same values.
import { createHash, hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DIGEST_INDEX } from '../src/identifiers/hasher';
import { IdentifierHasher, IdentifierNormalizer, sha256HexBatch, type IdentifierTarget, type NormalizationOptions, type Outcome } from '../src/identifiers';
import { SnapshotReader, type SnapshotReadOptions } from '../src/snapshot';
import { mulberry32 } from '../src/util/prng';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);


const DOMAINS = ['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'example.co.uk', 'web.de', 'mail.ru'];
const FIRST = ['jane', 'john', 'alex', 'maria', 'li', 'omar', 'sofia', 'noah', 'emma', 'lucas'];

function email(r: () => number, i: number): string {
  const name = `${FIRST[i % FIRST.length]}.${(r() * 1e9) | 0}`;
  const d = DOMAINS[(r() * DOMAINS.length) | 0]!;
  const x = r();
  // Realistic mix: most already clean, some with case, padding or a +tag.
  if (x < 0.6) return `${name}@${d}`;
  if (x < 0.8) return `${name[0]!.toUpperCase()}${name.slice(1)}@${d.toUpperCase()}`;
  if (x < 0.9) return ` ${name}+promo@${d} `;
  return `${name}@${d}\t`;
}

function phone(r: () => number): string {
  const area = 201 + ((r() * 700) | 0);
  const line = String((r() * 1e7) | 0).padStart(7, '0');
  const x = r();
  if (x < 0.5) return `+1${area}${line}`;
  if (x < 0.8) return `(${area}) ${line.slice(0, 3)}-${line.slice(3)}`;
  return `+44 7${String((r() * 1e9) | 0).padStart(9, '0')}`;
}

function maid(r: () => number): string {
  const h = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ((r() * 16) | 0).toString(16);
    return s;
  };
  const u = `${h(8)}-${h(4)}-4${h(3)}-a${h(3)}-${h(12)}`;
  return r() < 0.5 ? u.toUpperCase() : u;
}

function externalId(r: () => number): string {
  return `cust_${(r() * 1e12).toFixed(0)}`;
}

function values(kind: string, n: number, seed: number): string[] {
  const r = mulberry32(seed);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const v = kind === 'email' ? email(r, i) : kind === 'phone' ? phone(r) : kind === 'maid' ? maid(r) : externalId(r);
    // Flat strings, as a reader hands them over: the generator's concatenations leave rope
    // strings that every consumer (ours and the baseline alike) would pay to walk.
    out[i] = Buffer.from(v, 'utf8').toString('utf8');
  }
  return out;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * The machine is shared: besides wall time, each run's CPU time (user + system, all of
 * the process's threads, so GC helpers count) gives a rate per core that other load
 * disturbs far less. Rates below are "per CPU second" unless marked wall.
 */
let cpuMark = process.cpuUsage();
function startCpu(): void {
  cpuMark = process.cpuUsage();
}
function cpuSeconds(): number {
  const c = process.cpuUsage(cpuMark);
  return (c.user + c.system) / 1e6;
}

interface Rate {
  wall: number;
  cpu: number;
}

/**
 * A full garbage collection before each timed run (untimed), whichever code runs next:
 * V8 marks and sweeps the old generation on helper threads, whose CPU time
 * process.cpuUsage counts, so without it the garbage of one run (the baseline makes a Hash
 * object per value) is partly paid by the next. Each run still pays for collecting what
 * it allocates itself.
 */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** collect(), then a pause for V8's helper threads to finish sweeping what it freed. */
async function settle(): Promise<void> {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function timed(n: number, body: () => void): Promise<Rate> {
  await settle();
  startCpu();
  const t = process.hrtime.bigint();
  body();
  const wall = seconds(t);
  return { wall: n / wall, cpu: n / cpuSeconds() };
}

function best(a: Rate, b: Rate): Rate {
  return { wall: Math.max(a.wall, b.wall), cpu: Math.max(a.cpu, b.cpu) };
}

async function baseline(vals: string[]): Promise<Rate> {
  let sink = 0;
  const r = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; i++) sink += createHash('sha256').update(vals[i]!.trim().toLowerCase()).digest('hex').length;
  });
  if (sink === 0) throw new Error('unreachable');
  return r;
}

async function ours(vals: string[], target: IdentifierTarget, opts: NormalizationOptions): Promise<{ rate: Rate; ok: number }> {
  const n = new IdentifierNormalizer(target, opts);
  let ok = 0;
  let sink = 0;
  const rate = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; i++) {
      const o = n.process(vals[i]!);
      if (o === 'hashed' || o === 'prehashed') {
        ok++;
        sink += n.digest.length;
      }
    }
  });
  if (sink !== ok * (target.hash === 'md5' ? 32 : 64)) throw new Error('digest length mismatch');
  return { rate, ok };
}

/** Values per batch handed to the consumer of the string API (the reader hands out one batch per input piece). */
const BATCH = 8192;

/**
 * What the product runs: IdentifierHasher.hashBatch (normalize + validate into the
 * kernel's memory, SHA-256 a thousand at a time), digests handed out as one buffer of hex
 * per batch with a code per value, no string per value. The consumer counts the accepted
 * values and reads each digest's first byte and length (the baseline's consumer takes its length).
 */
async function oursBatch(vals: string[], h: IdentifierHasher): Promise<{ rate: Rate; ok: number }> {
  let ok = 0;
  let sink = 0;
  let first = 0;
  const rate = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; ) {
      const b = h.hashBatch(vals, i, vals.length);
      const codes = b.codes;
      for (let m = 0; m < b.count; m++) {
        const code = codes[m]!;
        if (code >= 0) {
          ok++;
          // Its first byte (what a consumer sharding by digest reads) and its length.
          first ^= b.hex[(code & DIGEST_INDEX) * b.width]!;
          sink += b.width;
        }
      }
      i += b.count;
    }
  });
  if (sink !== ok * 64 || first === -1) throw new Error('digest length mismatch');
  return { rate, ok };
}

/** The same values through addAll: a JavaScript string per digest (what a string consumer pays). */
async function oursStrings(vals: string[], h: IdentifierHasher): Promise<{ rate: Rate; ok: number }> {
  let ok = 0;
  let sink = 0;
  const rate = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; i += BATCH) {
      const out: string[] = [];
      const outcomes: Outcome[] = [];
      h.addAll(vals, i, Math.min(vals.length, i + BATCH), out, outcomes);
      for (let j = 0; j < outcomes.length; j++) if (outcomes[j] === 'hashed' || outcomes[j] === 'prehashed') ok++;
      for (let j = 0; j < out.length; j++) sink += out[j]!.length;
    }
  });
  if (sink !== ok * 64) throw new Error('digest length mismatch');
  return { rate, ok };
}

/** The batch hasher alone on already-normalized values, BATCH per call. */
async function batchFloor(vals: string[]): Promise<Rate> {
  let sink = 0;
  const r = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; i += BATCH) {
      const h = sha256HexBatch(vals, i, Math.min(vals.length, i + BATCH));
      for (let j = 0; j < h.length; j++) sink += h[j]!.length;
    }
  });
  if (sink !== vals.length * 64) throw new Error('digest length mismatch');
  return r;
}

/** The floor of any per-value native hash: crypto.hash alone on already-normalized values. */
async function hashFloor(vals: string[]): Promise<Rate> {
  let sink = 0;
  const r = await timed(vals.length, () => {
    for (let i = 0; i < vals.length; i++) sink += hash('sha256', vals[i]!, 'hex').length;
  });
  if (sink === 0) throw new Error('unreachable');
  return r;
}

const fmt = (x: number) => `${(x / 1e6).toFixed(2)}M/s`;

async function writeCsv(file: string, rows: number, header: string, row: (r: () => number, i: number) => string): Promise<number> {
  const out = createWriteStream(file);
  const r = mulberry32(42);
  let buf = `${header}\n`;
  for (let i = 0; i < rows; i++) {
    buf += `${row(r, i)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return (await stat(file)).size;
}

async function readCsv(file: string, options: SnapshotReadOptions): Promise<{ rate: Rate; rows: number; digests: number; heapMiB: number }> {
  const reader = new SnapshotReader(file, options);
  const shards = new Uint32Array(256);
  let digests = 0;
  let heap = 0;
  await settle();
  startCpu();
  const t = process.hrtime.bigint();
  for await (const batch of reader.read(createReadStream(file, { highWaterMark: 1 << 20 }))) {
    // What the data plane does next: shard by the first two hex characters.
    for (const td of batch.digests) {
      const bytes = td.digests.bytes;
      const w = td.digests.width;
      for (let i = 0; i < td.digests.length; i++) shards[hexByte(bytes, i * w)]!++;
      digests += td.digests.length;
    }
    heap = Math.max(heap, process.memoryUsage().heapUsed);
  }
  const wall = seconds(t);
  const rows = reader.counts.rows;
  return { rate: { wall: rows / wall, cpu: rows / cpuSeconds() }, rows, digests, heapMiB: heap / 1048576 };
}

function hexByte(d: Uint8Array, at: number): number {
  const a = d[at]!;
  const b = d[at + 1]!;
  return (((a & 15) + (a >> 6) * 9) << 4) | ((b & 15) + (b >> 6) * 9);
}

async function hashingCase(kind: string, target: IdentifierTarget, opts: NormalizationOptions): Promise<void> {
  const zero: Rate = { wall: 0, cpu: 0 };
  const n = kind === 'phone' ? Math.min(N, Number(process.env.BENCH_PHONE_N ?? N)) : N;
  const vals = values(kind, n, 7);
  // Warm up every path so the JIT has compiled them before timing.
  const warm = vals.slice(0, Math.min(50_000, n));
  await baseline(warm);
  await ours(warm, target, opts);
  // One hasher per case, as the product keeps one per column: each owns a WebAssembly
  // memory, and dozens left for the GC slowed what ran after them (the CSV reads).
  const hasher = new IdentifierHasher(target, opts);
  await oursBatch(warm, hasher);
  await oursStrings(warm, hasher);
  await batchFloor(warm);
  await hashFloor(warm);
  let b = zero;
  let o = { rate: zero, ok: 0 };
  let ob = { rate: zero, ok: 0 };
  let os = { rate: zero, ok: 0 };
  let floor = zero;
  let bfloor = zero;
  for (let round = 0; round < ROUNDS; round++) {
    b = best(b, await baseline(vals));
    const rb = await oursBatch(vals, hasher);
    ob = { rate: best(ob.rate, rb.rate), ok: rb.ok };
    const rs = await oursStrings(vals, hasher);
    os = { rate: best(os.rate, rs.rate), ok: rs.ok };
    // The per-value path runs libphonenumber-js on every phone (~10 µs each): one round.
    if (kind !== 'phone' || round === 0) {
      const r = await ours(vals, target, opts);
      o = { rate: best(o.rate, r.rate), ok: r.ok };
    }
    floor = best(floor, await hashFloor(vals));
    bfloor = best(bfloor, await batchFloor(vals));
  }
  if (ob.ok !== o.ok || os.ok !== o.ok) throw new Error('IdentifierHasher and IdentifierNormalizer accepted different counts');
  const x = (a: Rate) => `${(a.cpu / b.cpu).toFixed(2)}x [${(a.wall / b.wall).toFixed(2)}x]`;
  console.log(
    `  ${kind.padEnd(12)} baseline ${fmt(b.cpu)} [${fmt(b.wall)}]  ours ${fmt(ob.rate.cpu)} [${fmt(ob.rate.wall)}] ${x(ob.rate)}` +
      `   (a string per digest ${x(os.rate)}; per-value crypto.hash path ${x(o.rate)}; hash alone: crypto.hash ${fmt(floor.cpu)}, batch kernel ${fmt(bfloor.cpu)}; ${ob.ok}/${n} accepted)`,
  );
}

async function main(): Promise<void> {
  console.log(`bench:ids  node ${process.version}  ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}  N=${N}  load avg ${loadavg()[0]!.toFixed(1)}`);
  console.log(`\nHashing step: values per CPU second (wall in brackets); ours = IdentifierHasher.hashBatch`);
  console.log(`(normalize + validate + SHA-256, digests as hex bytes in one buffer per batch, a code per value), also with a string per digest (addAll)`);
  console.log(`vs baseline = trim + lowercase + createHash per value; same values, same process, rounds alternated, best of ${ROUNDS}; a full GC (untimed) before every run`);
  const cases: Array<[string, IdentifierTarget, NormalizationOptions]> = [
    ['email', { kind: 'email', hash: 'sha256' }, { context: 'audience' }],
    ['phone', { kind: 'phone', hash: 'sha256' }, { context: 'audience', defaultCountry: 'US' }],
    ['maid', { kind: 'maid', hash: 'sha256' }, { context: 'audience' }],
    ['external_id', { kind: 'external_id', hash: 'sha256' }, { context: 'events' }],
  ];
  // BENCH_ONLY=phone,email runs those hashing cases alone (and no snapshot unless listed: csv).
  const only = process.env.BENCH_ONLY?.split(',');
  for (const [kind, target, opts] of cases) {
    if (only && !only.includes(kind)) continue;
    // A function of its own, so its 1M test values are garbage once it returns (an async
    // function's captured locals live as long as it runs): the CSV reads below must not
    // run beside a heap of them.
    await hashingCase(kind, target, opts);
  }

  if (only && !only.includes('csv')) return;
  const dir = await mkdtemp(join(tmpdir(), 'ttsync-bench-'));
  try {
    console.log('\nSnapshot read-normalize-hash end to end: file -> SnapshotReader -> digests sharded by first byte, one thread;');
    console.log(`rows per CPU second (wall in brackets), after one untimed warm-up read, best of ${ROUNDS}; peak heap while reading`);
    const rows = N;
    const snaps: Array<[string, string, (r: () => number, i: number) => string, SnapshotReadOptions['mapping']]> = [
      [
        'email,phone,idfa',
        'email,phone,idfa',
        (r, i) => `${email(r, i).trim()},${phone(r)},${maid(r)}`,
        {
          identifiers: [
            { column: 'email', type: 'EMAIL_SHA256' },
            { column: 'phone', type: 'PHONE_SHA256' },
            { column: 'idfa', type: 'IDFA_SHA256' },
          ],
        },
      ],
      [
        'email,idfa,external_id',
        'email,idfa,external_id',
        (r, i) => `${email(r, i).trim()},${maid(r)},${externalId(r)}`,
        {
          identifiers: [
            { column: 'email', type: 'EMAIL_SHA256' },
            { column: 'idfa', type: 'IDFA_SHA256' },
            { column: 'external_id', type: 'EXTERNAL_ID_SHA256' },
          ],
        },
      ],
    ];
    for (const [label, header, row, mapping] of snaps) {
      const file = join(dir, `${label.replace(/,/g, '-')}.csv`);
      const size = await writeCsv(file, rows, header, row);
      let r = { rate: { wall: 0, cpu: 0 }, rows: 0, digests: 0, heapMiB: 0 };
      // Warm-up, untimed: the JIT (and WebAssembly's tier-up) compile the hot code first.
      await readCsv(file, { format: 'csv', mapping, normalization: { context: 'audience', defaultCountry: 'US' } });
      for (let round = 0; round < ROUNDS; round++) {
        const x = await readCsv(file, { format: 'csv', mapping, normalization: { context: 'audience', defaultCountry: 'US' } });
        r = { rate: best(r.rate, x.rate), rows: x.rows, digests: x.digests, heapMiB: Math.max(r.heapMiB, x.heapMiB) };
      }
      console.log(
        `  ${label.padEnd(24)} ${rows} rows ${(size / 1048576).toFixed(0)} MiB  ${fmt(r.rate.cpu).replace('/s', ' rows/s')} [${fmt(r.rate.wall).replace('/s', ' rows/s')}]  ` +
          `${((size / 1048576) * (r.rate.cpu / rows)).toFixed(0)} MiB/s  ${r.digests} digests  heap peak ${r.heapMiB.toFixed(0)} MiB`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\nPeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (whole run, including the 1M test values held per type).`);
  console.log('Goals: ratio >= 4x on the hashing step; >= 1M rows/s per core end to end.');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
