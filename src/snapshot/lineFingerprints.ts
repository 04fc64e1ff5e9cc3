import { join } from 'node:path';
import { Wasm, compileOptimized, readWasm, type WasmMemory } from '../identifiers/sha256batch/wasmModule';
import { PROJECT_ROOT } from '../paths';

/** Where `npm run build` (scripts/build-wasm.ts) writes the compiled lineFingerprints.wat. */
export const LINE_FINGERPRINTS_WASM = join(PROJECT_ROOT, 'dist', 'wasm', 'lineFingerprints.wasm');

interface Exports {
  memory: WasmMemory;
  lines: (p: number, end: number, stop: number, seed: number, out: number, max: number) => number;
  at: { value: number };
}

/** Lines reported per scan() at most (20 bytes each of the output area). */
export const LINES_PER_SCAN = 4096;
const WORDS_PER_LINE = 5;
/** The output area is [0, IN); staged input starts at IN, followed by PAD readable bytes (the kernel loads 16 at a time). */
const IN = LINES_PER_SCAN * WORDS_PER_LINE * 4;
const PAD = 16;
const PAGE = 65536;

let compiled: object | undefined;

/**
 * The lines of a staged piece of bytes and their fingerprints (rowFingerprint's words), from
 * the WebAssembly kernel of lineFingerprints.wat. Stage with load(), then scan() until it
 * reports fewer than LINES_PER_SCAN lines. One instance a thread (lineFingerprints()): each
 * use runs to its end without yielding, so users never interleave.
 */
export class LineFingerprints {
  private readonly ex: Exports;
  private u8 = new Uint8Array(0);
  /**
   * After scan(): per line j, words[5j] is its LF's offset in the loaded piece's buffer and
   * words[5j+1..5j+4] its fingerprint (most significant word first). Valid until the next load().
   */
  words = new Uint32Array(0);
  /** Memory offset minus buffer offset of the staged bytes. */
  private shift = 0;
  private end = 0;

  constructor() {
    compiled ??= compileOptimized(readWasm(LINE_FINGERPRINTS_WASM, 'src/snapshot/lineFingerprints.wat'));
    this.ex = new Wasm.Instance(compiled, {}).exports as Exports;
    this.views();
  }

  private views(): void {
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.words = new Uint32Array(this.ex.memory.buffer);
  }

  /** Stages buf[from, to): the next scan() starts at `from`. */
  load(buf: Uint8Array, from: number, to: number): void {
    const need = IN + (to - from) + PAD;
    const have = this.ex.memory.buffer.byteLength;
    if (need > have) {
      this.ex.memory.grow(Math.ceil((need - have) / PAGE));
      this.views();
    }
    this.u8.set(buf.subarray(from, to), IN);
    // Not an LF: padding never ends a line.
    this.u8.fill(0, IN + (to - from), IN + (to - from) + PAD);
    this.shift = IN - from;
    this.ex.at.value = IN;
    this.end = IN + (to - from);
  }

  /**
   * The next lines (at most LINES_PER_SCAN) of the staged bytes whose LF lies before buffer
   * offset `stop`; their LF offsets are turned into buffer offsets in `words`. Returns how many.
   * Where it stopped, next() says.
   */
  scan(stop: number, seed: number): number {
    const { ex } = this;
    const n = ex.lines(ex.at.value, this.end, Math.min(stop + this.shift, this.end), seed | 0, 0, LINES_PER_SCAN);
    const w = this.words;
    const shift = this.shift;
    for (let j = 0, o = 0; j < n; j++, o += WORDS_PER_LINE) w[o] = w[o]! - shift;
    return n;
  }

  /** Buffer offset of the first line not yet reported. */
  next(): number {
    return this.ex.at.value - this.shift;
  }
}

let shared: LineFingerprints | undefined;

/** This thread's LineFingerprints. */
export function lineFingerprints(): LineFingerprints {
  return (shared ??= new LineFingerprints());
}
