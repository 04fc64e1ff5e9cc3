import { hash } from 'node:crypto';
import type { DigestOut } from '../digestList';
import { writePhoneTables, type PhoneTablesImage } from '../phoneFast';
import { ASCII_RULES_WASM, SHA256_BATCH_WASM } from './wasmPath';
import { Wasm, compileOptimized, readWasm, type WasmMemory } from './wasmModule';

/**
 * SHA-256 of many strings at once, through the SIMD WebAssembly kernel of sha256batch.wat.
 *
 * Why not crypto.hash per value: each native call costs ~350 ns whatever the input, more
 * than hashing a short identifier; here one call hashes thousands of values, 4 at a time in
 * SIMD lanes, and writes hex that becomes JS strings with one latin1 decode per chunk.
 * Digests are byte for byte those of `hash('sha256', value, 'hex')` (UTF-8 of the string;
 * a lone surrogate becomes U+FFFD in both), which test/unit/identifiers checks.
 */
export function sha256HexBatch(values: readonly string[], start = 0, end = values.length): string[] {
  const out = new Array<string>(end - start);
  if (!LITTLE_ENDIAN) {
    // The descriptors are written through a host-order Uint32Array; WebAssembly reads little-endian.
    for (let i = start; i < end; i++) out[i - start] = hash('sha256', values[i]!, 'hex');
    return out;
  }
  let i = start;
  while (i < end) {
    // Chunks bound the kernel's memory and keep its working set in cache.
    let j = chunkEnd(values, i, end);
    // A value longer than a whole chunk is hashed on its own.
    if (j === i) j = i + 1;
    hashChunk(values, i, j, chunkChars, out, i - start);
    i = j;
  }
  return out;
}

// Chunks small enough that the joined input and the decoded hex stay ordinary heap strings:
// V8 puts strings over ~128 KiB in large-object space, measured ~3x slower to make here.
export const MAX_CHUNK_VALUES = 1024;
export const MAX_CHUNK_CHARS = 1 << 15;

/** Characters in the chunk chunkEnd last measured (a module variable: no object per chunk). */
let chunkChars = 0;

/**
 * The end of the chunk of values[start, end) that starts at `start`: at most MAX_CHUNK_VALUES
 * values and MAX_CHUNK_CHARS characters (measured into chunkChars). Returns `start` when the
 * first value alone is longer than a chunk.
 */
export function chunkEnd(values: readonly string[], start: number, end: number): number {
  let j = start;
  let chars = 0;
  while (j < end && j - start < MAX_CHUNK_VALUES) {
    const len = values[j]!.length;
    if (chars + len > MAX_CHUNK_CHARS) break;
    chars += len;
    j++;
  }
  chunkChars = j === start && start < end ? values[start]!.length : chars;
  return j;
}
/** Digests decoded per latin1 string (16 KiB), each digest then a slice of it. */
const DECODE_GROUP = 256;
const PAGE = 65536;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface WasmExports {
  memory: WasmMemory;
  sha256_hex: (desc: number, n: number, out: number) => void;
  sha256_raw: (desc: number, n: number, out: number) => void;
  hex_lines: (src: number, n: number, w: number, dst: number) => void;
  DATA_START: { value: number };
  SLACK: { value: number };
}

interface Kernel {
  memory: WasmMemory;
  sha256Hex: (desc: number, n: number, out: number) => void;
  dataStart: number;
  slack: number;
  u8: Uint8Array;
  u32: Uint32Array;
  buf: Buffer;
}

let kernel: Kernel | undefined;
let compiled: object | undefined;
let compiledRules: object | undefined;

interface RulesExports {
  email: (s: number, e: number, d: number, dropPlus: number) => number;
  maid: (s: number, e: number, d: number) => number;
  ascii: (s: number, e: number) => number;
  batch: (kind: number, inAt: number, lens: number, n: number, codes: number, desc: number, nd: number, ndMax: number, o: number, oEnd: number, flags: number, country: number) => number;
  batchScan: (kind: number, rec: number, found: number, col: number, codes: number, desc: number, nd: number, ndMax: number, o: number, oEnd: number, flags: number, country: number) => number;
  outPos: { value: number };
  jsonLines: (inAt: number, lens: number, m: number, n: number, codes: number, desc: number, hex: number, o: number, oEnd: number) => number;
  jsonPos: { value: number };
  jsonIn: { value: number };
  jsonWhy: { value: number };
  scan: (p: number, n: number, delim: number, out: number, outEnd: number) => number;
}

/** The email and MAID rules (asciiRules.wat) on a kernel instance's memory. */
function instantiateRules(memory: WasmMemory): RulesExports {
  if (!compiledRules) {
    compiledRules = compileOptimized(readWasm(ASCII_RULES_WASM, 'src/identifiers/asciiRules.wat'));
  }
  return new Wasm.Instance(compiledRules, { kernel: { memory } }).exports as RulesExports;
}
const encoder = new TextEncoder();

function instantiate(): WasmExports {
  if (!compiled) {
    compiled = compileOptimized(readWasm(SHA256_BATCH_WASM, 'src/identifiers/sha256batch/sha256batch.wat'));
  }
  return new Wasm.Instance(compiled, {}).exports as WasmExports;
}

function loadKernel(): Kernel {
  const ex = instantiate();
  const k: Kernel = {
    memory: ex.memory,
    sha256Hex: ex.sha256_hex,
    dataStart: ex.DATA_START.value,
    slack: ex.SLACK.value,
    u8: new Uint8Array(0),
    u32: new Uint32Array(0),
    buf: Buffer.alloc(0),
  };
  refreshViews(k);
  return k;
}

function refreshViews(k: Kernel): void {
  const b = k.memory.buffer;
  k.u8 = new Uint8Array(b);
  k.u32 = new Uint32Array(b);
  k.buf = Buffer.from(b);
}

function ensureBytes(k: Kernel, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes <= have) return;
  k.memory.grow(Math.ceil((bytes - have) / PAGE));
  refreshViews(k);
}

function hashChunk(values: readonly string[], i: number, j: number, chars: number, out: string[], o: number): void {
  const k = (kernel ??= loadKernel());
  const n = j - i;
  // Layout: n descriptors (address, length), n * 64 hex bytes out, then the UTF-8 data.
  const desc = k.dataStart;
  const hexAt = desc + n * 8;
  const dataAt = hexAt + n * 64;
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  ensureBytes(k, dataAt + 3 * chars + k.slack);
  const u32 = k.u32;
  const d = desc >>> 2;
  const joined = n === 1 ? values[i]! : values.slice(i, j).join('');
  const { written } = encoder.encodeInto(joined, k.u8.subarray(dataAt, dataAt + 3 * chars));
  if (written === chars) {
    // All ASCII (the usual case): each value's bytes are its characters.
    let p = dataAt;
    for (let m = 0; m < n; m++) {
      const len = values[i + m]!.length;
      u32[d + 2 * m] = p;
      u32[d + 2 * m + 1] = len;
      p += len;
    }
  } else {
    let p = dataAt;
    for (let m = 0; m < n; m++) {
      const w = encoder.encodeInto(values[i + m]!, k.u8.subarray(p, dataAt + 3 * chars)).written;
      u32[d + 2 * m] = p;
      u32[d + 2 * m + 1] = w;
      p += w;
    }
  }
  k.sha256Hex(desc, n, hexAt);
  const buf = k.buf;
  for (let g = 0; g < n; g += DECODE_GROUP) {
    const end = Math.min(n, g + DECODE_GROUP);
    const hex = buf.toString('latin1', hexAt + g * 64, hexAt + end * 64);
    for (let m = g; m < end; m++) out[o + m] = hex.slice((m - g) * 64, (m - g) * 64 + 64);
  }
}

/** Values per kernel call: the descriptors and hex output of a full queue take 72 KiB. */
const QUEUE_VALUES = 1024;
/** Bytes of message data per kernel call (a value may start up to here and run past it). */
const QUEUE_DATA = 1 << 16;
/** Bytes a producer may stage at once (stage()): a thousand values encoded in one call. */
export const QUEUE_STAGE = 3 << 15;
/**
 * Most bytes one value may reserve: a normalized identifier (raw values over 1 KiB are
 * rejected before, and UTF-8 of what NFC and lowercasing make of 1 KiB stays below this).
 */
const MAX_RESERVE = 16384;
/** Output room of one scanCsv call (a few hundred records). */
const SCAN_BYTES = 1 << 15;
/** Descriptors (hashed values) of one batch run (runBatch). */
export const BATCH_VALUES = 4096;
/** Code slots of one batch: BATCH_CODE_SETS sets of BATCH_VALUES (a reader's columns). */
export const BATCH_CODE_SETS = 8;
/** Normalized bytes of one batch. */
const BATCH_OUT = 1 << 18;
/** The phone rule's tables (phoneFast.ts writePhoneTables). */
const TABLE_BYTES = 1 << 16;

/**
 * SHA-256 of values written straight into the kernel's memory, for callers that produce
 * the bytes themselves (the identifier normalizers write normalized UTF-8 there as they
 * validate, so no normalized string is ever made). Digests are delivered as lowercase hex
 * strings into the caller's arrays when the queue runs: when it is full, or on flush().
 *
 *     const at = q.reserve(max);          // write up to `max` bytes at q.u8[at..]
 *     q.commit(len, out, out.push('') - 1); // out[i] receives the digest on the next run
 *
 * Each queue owns its own WebAssembly instance (memory), so queues never share state.
 */
export class Sha256HexQueue {
  /** The kernel memory; bytes for a value are written at a reserved address. */
  u8: Uint8Array;
  private buf: Buffer;
  private u32: Uint32Array;
  private readonly run: (desc: number, n: number, out: number) => void;
  private readonly runRaw: (desc: number, n: number, out: number) => void;
  private readonly desc: number;
  private readonly hexAt: number;
  private readonly stageAt: number;
  /** Where scanCsv writes record boundaries. */
  private readonly scanAt: number;
  /** The email and MAID rules, in place on this memory (asciiRules.wat). */
  readonly rules: RulesExports;
  private readonly dataAt: number;
  private readonly dataEnd: number;
  private readonly tablesAt: number;
  private phone: PhoneTablesImage | undefined;
  /**
   * Batch regions (asciiRules.wat `batch`, `batchScan`): value lengths (u32), codes (i32,
   * BATCH_CODE_SETS sets of BATCH_VALUES), descriptors, hex digests, normalized bytes.
   */
  readonly batchLens: number;
  readonly batchCodes: number;
  private readonly batchDesc: number;
  private readonly batchHex: number;
  private readonly batchOut: number;
  private readonly batchOutEnd: number;
  /** Descriptors written by the batch calls since beginBatch(). */
  private batchN = 0;
  private batchPos = 0;
  private readonly memory: WasmMemory;
  private readonly slack: number;
  private n = 0;
  private pos: number;
  private readonly outs: Array<DigestOut | null> = new Array<DigestOut | null>(QUEUE_VALUES).fill(null);
  private readonly slots = new Int32Array(QUEUE_VALUES);

  constructor() {
    if (!LITTLE_ENDIAN) throw new RangeError('Sha256HexQueue needs a little-endian host (use sha256HexBatch)');
    const ex = instantiate();
    this.memory = ex.memory;
    this.run = ex.sha256_hex;
    this.runRaw = ex.sha256_raw;
    this.slack = ex.SLACK.value;
    this.desc = ex.DATA_START.value;
    this.hexAt = this.desc + QUEUE_VALUES * 8;
    this.dataAt = this.hexAt + QUEUE_VALUES * 64;
    this.dataEnd = this.dataAt + QUEUE_DATA;
    this.scanAt = this.dataEnd + MAX_RESERVE + this.slack;
    this.tablesAt = this.scanAt + SCAN_BYTES;
    this.batchLens = this.tablesAt + TABLE_BYTES;
    this.batchCodes = this.batchLens + 4 * BATCH_VALUES;
    this.batchDesc = this.batchCodes + 4 * BATCH_VALUES * BATCH_CODE_SETS;
    this.batchHex = this.batchDesc + 8 * BATCH_VALUES;
    this.batchOut = this.batchHex + 64 * BATCH_VALUES;
    this.batchOutEnd = this.batchOut + BATCH_OUT;
    // The staging area comes last: it grows with what is staged.
    this.stageAt = this.batchOutEnd + this.slack;
    this.pos = this.dataAt;
    this.grow(this.stageAt + QUEUE_STAGE + this.slack);
    this.u8 = new Uint8Array(this.memory.buffer);
    this.buf = Buffer.from(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
    this.rules = instantiateRules(this.memory);
  }

  /**
   * Address of a staging area of QUEUE_STAGE bytes where a producer may put many values'
   * bytes and commit them where they lie (commitAt). Runs the queue first, as values
   * committed from the last staging must be hashed before it is overwritten.
   */
  stage(bytes = QUEUE_STAGE): number {
    this.flush();
    this.grow(this.stageAt + bytes + this.slack);
    return this.stageAt;
  }

  /**
   * Plain CSV records of staged bytes [p, n) (asciiRules.wat `scan`): how many were found.
   * Their boundaries are in scanOut() from scanIndex (layout in the .wat).
   */
  scanCsv(p: number, n: number, delimiter: number): number {
    return this.rules.scan(p, n, delimiter, this.scanAt, this.scanAt + SCAN_BYTES);
  }

  /** The memory as u32 words, where scanCsv's output starts at scanIndex (the tokenizer's view of `words`). */
  scanOut(): Uint32Array {
    return this.words;
  }

  get scanIndex(): number {
    return this.scanAt >>> 2;
  }

  /** A Buffer over `len` bytes of the memory at `at` (valid until the next stage()). */
  bufferAt(at: number, len: number): Buffer {
    return Buffer.from(this.memory.buffer, at, len);
  }

  /** The memory as u32 words (valid until the next stage()). */
  get words(): Uint32Array {
    return this.u32;
  }

  /** Where the batch rules write descriptor k: u32 address and length of the normalized bytes at batchDescAt + 8 k. */
  get batchDescAt(): number {
    return this.batchDesc;
  }

  /** Where runHash writes digest k: 64 hex bytes at batchHexAt + 64 k. */
  get batchHexAt(): number {
    return this.batchHex;
  }

  /** The memory as i32 words (batch codes are at batchCodes / 4). */
  get i32(): Int32Array {
    return (this.i32View ??= new Int32Array(this.memory.buffer));
  }
  private i32View: Int32Array | undefined;

  /** The phone rule's country record for national numbers (see asciiRules.wat `phone`). */
  phoneCountry(country: string | undefined): number {
    this.phone ??= writePhoneTables(this.u8, this.tablesAt, this.tablesAt + TABLE_BYTES);
    return this.phone.country(country);
  }

  /** Starts a batch: runBatch / runScanBatch calls add to it until hashBatch(). */
  beginBatch(): void {
    this.batchN = 0;
    this.batchPos = this.batchOut;
  }

  /**
   * The rules of `kind` (0 email, 1 MAID, 2 external ID, 3 phone) on n values lying one
   * after another at `inAt`, their lengths already at batchLens; codes from code set `set`.
   */
  runBatch(kind: number, inAt: number, n: number, set: number, flags: number, country: number): void {
    const r = this.rules;
    this.batchN = r.batch(kind, inAt, this.batchLens, n, this.batchCodes + 4 * BATCH_VALUES * set, this.batchDesc, this.batchN, BATCH_VALUES, this.batchPos, this.batchOutEnd, flags, country);
    this.batchPos = r.outPos.value;
  }

  /** runBatch on field `col` of the `found` records scanCsv wrote; codes per record. */
  runScanBatch(kind: number, found: number, col: number, set: number, flags: number, country: number): void {
    const r = this.rules;
    this.batchN = r.batchScan(kind, this.scanAt, found, col, this.batchCodes + 4 * BATCH_VALUES * set, this.batchDesc, this.batchN, BATCH_VALUES, this.batchPos, this.batchOutEnd, flags, country);
    this.batchPos = r.outPos.value;
  }

  /**
   * SHA-256 of the batch's values, as hex in the memory (batchHexView): digest k is the 64
   * bytes from 64 k; `raw`: its 32 raw bytes from 32 k. Returns how many.
   */
  runHash(raw = false): number {
    const n = this.batchN;
    if (n > 0) (raw ? this.runRaw : this.run)(this.batchDesc, n, this.batchHex);
    return n;
  }

  /**
   * SHA-256 of `n` byte ranges of this memory (ranges[2k] address, ranges[2k + 1] length,
   * each followed by SLACK readable bytes, as staged input is): digest k as hex at
   * batchHexAt + 64 k (`raw`: its 32 bytes at batchHexAt + 32 k). Uses the batch regions: call it before beginBatch, and read the
   * digests before the batch's runHash overwrites them.
   */
  hashRanges(ranges: Uint32Array, n: number, raw = false): void {
    if (n > BATCH_VALUES) throw new RangeError(`hashRanges: ${n} ranges is more than a batch holds (${BATCH_VALUES})`);
    if (n === 0) return;
    this.u32.set(ranges.subarray(0, 2 * n), this.batchDesc >>> 2);
    (raw ? this.runRaw : this.run)(this.batchDesc, n, this.batchHex);
  }

  /** Codes of the first `n` values of the last runBatch (code set 0), as a view. */
  batchCodesView(n: number): Int32Array {
    const c = this.batchCodes >>> 2;
    return this.i32.subarray(c, c + n);
  }

  /** The hex digests [0, n) of the last runHash (and writeBatchHex), as a view. */
  batchHexView(n: number): Buffer {
    return this.buf.subarray(this.batchHex, this.batchHex + 64 * n);
  }

  /** Puts a hex digest (64 characters) at index k of the batch's digests. */
  writeBatchHex(k: number, hex: string): void {
    if (k >= BATCH_VALUES) throw new RangeError(`batch digest ${k} is past the ${BATCH_VALUES} a batch holds`);
    this.buf.write(hex, this.batchHex + 64 * k, 64, 'latin1');
  }

  /** Like commit, for a value lying at `at` (in the staging area). */
  commitAt(at: number, len: number, out: DigestOut, slot: number): void {
    if (this.n === QUEUE_VALUES) this.flush();
    const m = this.n++;
    const d = (this.desc >>> 2) + 2 * m;
    this.u32[d] = at;
    this.u32[d + 1] = len;
    this.outs[m] = out;
    this.slots[m] = slot;
  }

  private grow(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(Math.ceil((bytes - have) / PAGE));
    this.u8 = new Uint8Array(this.memory.buffer);
    this.buf = Buffer.from(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
    this.i32View = undefined;
  }

  /** Values committed and not yet hashed. */
  get pending(): number {
    return this.n;
  }

  /**
   * Address in `u8` where the next value's bytes (at most `max`) go. Runs the queue first
   * when it is full, so digests of earlier values may be delivered by this call.
   */
  reserve(max: number): number {
    if (max > MAX_RESERVE) throw new RangeError(`Sha256HexQueue.reserve: ${max} bytes is more than one value may take (${MAX_RESERVE})`);
    if (this.n === QUEUE_VALUES || this.pos + max > this.dataEnd) this.flush();
    return this.pos;
  }

  /** The `len` bytes written at the last reserved address are a value; its digest goes to out[slot]. */
  commit(len: number, out: DigestOut, slot: number): void {
    const m = this.n++;
    const d = (this.desc >>> 2) + 2 * m;
    this.u32[d] = this.pos;
    this.u32[d + 1] = len;
    this.outs[m] = out;
    this.slots[m] = slot;
    this.pos += len;
  }

  /** Bytes of the last reserved value as a latin1 string (ASCII values: the value itself). */
  latin1At(at: number, len: number): string {
    return this.buf.toString('latin1', at, at + len);
  }

  /** UTF-8 text of the bytes at `at` (for values written by encodeInto). */
  utf8At(at: number, len: number): string {
    return this.buf.toString('utf8', at, at + len);
  }

  /** Hashes every committed value and writes its digest into its array or list. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.run(this.desc, n, this.hexAt);
    const buf = this.buf;
    const outs = this.outs;
    const slots = this.slots;
    for (let g = 0; g < n; g += DECODE_GROUP) {
      const end = Math.min(n, g + DECODE_GROUP);
      // Decoded only for string arrays; a DigestList takes the bytes.
      let hex: string | null = null;
      for (let m = g; m < end; m++) {
        const o = outs[m]!;
        if (Array.isArray(o)) {
          hex ??= buf.toString('latin1', this.hexAt + g * 64, this.hexAt + end * 64);
          o[slots[m]!] = hex.slice((m - g) * 64, (m - g) * 64 + 64);
        } else o.setFrom(slots[m]!, this.u32, this.hexAt + m * 64);
        outs[m] = null;
      }
    }
    this.n = 0;
    this.pos = this.dataAt;
  }
}

/** Records per HexLines.encode call: 512 KiB of SHA-256 records in, 1 MiB of lines out. */
export const HEX_LINES_RECORDS = 16384;

/**
 * Raw digest records (16 or 32 bytes each) as customer-file lines ("hex\n"), by the
 * kernel's `hex_lines`, into memory of its own that every call reuses: no fresh buffer
 * per list (build's fresh 16 MiB outputs made V8 run full collections) and a 16-byte SIMD
 * step instead of a table lookup per 2 bytes.
 */
export class HexLines {
  private readonly memory: WasmMemory;
  private readonly run: (src: number, n: number, w: number, dst: number) => void;
  private readonly inAt: number;
  private readonly outAt: number;
  private buf: Buffer;

  constructor() {
    const ex = instantiate();
    this.memory = ex.memory;
    this.run = ex.hex_lines;
    this.inAt = ex.DATA_START.value;
    this.outAt = this.inAt + 32 * HEX_LINES_RECORDS;
    const need = this.outAt + 65 * HEX_LINES_RECORDS + ex.SLACK.value;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    this.buf = Buffer.from(this.memory.buffer);
  }

  /**
   * Lines of records [first, first + n) of `records` (width w: 16 or 32), n at most
   * HEX_LINES_RECORDS: a view of this encoder's memory, valid until the next call.
   */
  encode(records: Uint8Array, first: number, n: number, w: number): Buffer {
    if (w !== 16 && w !== 32) throw new RangeError(`hex lines of ${w}-byte records: 16 or 32 bytes were expected`);
    if (n > HEX_LINES_RECORDS || (first + n) * w > records.length) throw new RangeError(`hex lines: ${n} records from ${first} are not within the list or the encoder`);
    this.buf.set(records.subarray(first * w, (first + n) * w), this.inAt);
    this.run(this.inAt, n, w, this.outAt);
    return this.buf.subarray(this.outAt, this.outAt + n * (2 * w + 1));
  }
}
