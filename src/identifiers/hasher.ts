import { hash } from 'node:crypto';
import { SLOW, INVALID, ZEROED, copyAscii, emailAscii, isAsciiSpace, maidAscii } from './asciiRules';
import { MAX_VALUE_BYTES } from './digest';
import type { DigestOut } from './digestList';
import { IdentifierNormalizer, type Outcome, type ValueRejectReason } from './normalizer';
import { fastE164Ascii } from './phoneFast';
import { REJECT_REASONS } from './reasons';
import type { HashAlgorithm, IdentifierKind, IdentifierTarget, NormalizationOptions } from './schema';
import { MAX_CHUNK_VALUES, Sha256HexQueue, chunkEnd } from './sha256batch/sha256Batch';

/**
 * Normalizes and hashes many values of one identifier target, appending each accepted
 * value's digest to the caller's array: the product's hot path (snapshot reader, CLI).
 * Same outcomes and digests as IdentifierNormalizer.process, value by value.
 *
 * Why not IdentifierNormalizer + sha256HexBatch: that makes a trimmed string, a
 * normalized string and a joined string per value, and runs regular expressions. Here an
 * ASCII value is validated and normalized byte by byte straight into the SHA-256 kernel's
 * memory (asciiRules.ts), and digests are computed a thousand at a time (Sha256HexQueue).
 * Everything else (non-ASCII, unusual phone shapes) takes IdentifierNormalizer itself.
 *
 * A SHA-256 digest is written into `out` when the queue runs (when full, or on flush()):
 * until then its slot holds ''. Call flush() before reading the arrays.
 */
export class IdentifierHasher {
  readonly kind: IdentifierKind;
  readonly hash: HashAlgorithm;
  /** The string rules: the exact fallback, and the options' validation. */
  readonly normalizer: IdentifierNormalizer;
  private readonly queue: Sha256HexQueue | null;
  private readonly dropPlus: boolean;
  private readonly phonePlus: boolean;
  private readonly defaultCountry: string | undefined;
  /** A string value's chars, as bytes, when they are all ASCII. */
  private readonly scratch = new Uint8Array(MAX_VALUE_BYTES);
  /** MD5 targets: where the normalized bytes go instead of the SHA-256 queue. */
  private md5Bytes: Buffer | null = null;
  private lastAt = 0;
  private lastLen = -1;
  private lastSlow: string | null = null;

  /** `queue` may be shared by several hashers (one kernel run for all their values). */
  constructor(target: IdentifierTarget, options: NormalizationOptions, queue?: Sha256HexQueue) {
    this.normalizer = new IdentifierNormalizer(target, options);
    this.kind = target.kind;
    this.hash = target.hash;
    const o = this.normalizer.options;
    this.dropPlus = o.context === 'audience';
    this.phonePlus = o.context === 'events' || o.phoneFormat === 'e164';
    this.defaultCountry = o.defaultCountry;
    this.queue = target.hash === 'sha256' ? (queue ?? new Sha256HexQueue()) : null;
    this.kindCode = KIND_CODES[this.kind];
    this.flags = (this.dropPlus ? 1 : 0) | (this.phonePlus ? 2 : 0);
    this.invalid = this.kind === 'email' ? 'invalid_email' : this.kind === 'phone' ? 'invalid_phone' : 'invalid_maid';
  }

  /** Adds one raw value (a string); its digest, if accepted, goes to the end of `out`. */
  add(raw: string, out: DigestOut, rowCountry?: string): Outcome {
    const n = raw.length;
    // Each UTF-16 unit is at least one UTF-8 byte.
    if (n > MAX_VALUE_BYTES) return this.slow(raw, out, rowCountry);
    const b = this.scratch;
    for (let i = 0; i < n; i++) {
      const c = raw.charCodeAt(i);
      if (c >= 0x80) return this.slow(raw, out, rowCountry);
      b[i] = c;
    }
    const r = this.fast(b, 0, n, out, rowCountry);
    return r === null ? this.slow(raw, out, rowCountry) : r;
  }

  /**
   * Adds values[start, end) (strings), pushing each one's outcome to `outcomes` and each
   * accepted value's digest to `out`: add() per value, with digests delivered at once (no
   * flush needed). Runs on hashBatch; a caller that can take digests as bytes should too.
   */
  addAll(values: readonly string[], start: number, end: number, out: string[], outcomes: Outcome[], rowCountry?: string): void {
    let i = start;
    while (i < end) {
      const b = this.hashBatch(values, i, end, rowCountry);
      const codes = b.codes;
      const w = b.width;
      // Each group of 256 digests becomes one latin1 string; a digest is a slice of it.
      let group = -1;
      let hex = '';
      for (let m = 0; m < b.count; m++) {
        const code = codes[m]!;
        if (code >= 0) {
          const k = code & DIGEST_INDEX;
          if (k >>> 8 !== group) {
            group = k >>> 8;
            hex = digestGroup(b, group);
          }
          const at = (k & 255) * w;
          out.push(hex.slice(at, at + w));
          outcomes.push(code === k ? 'hashed' : 'prehashed');
        } else outcomes.push(this.outcomeOf(code));
      }
      i += b.count;
    }
  }

  /**
   * Normalizes and hashes values[start, ...) up to `end`, as many as one kernel call takes
   * (about a thousand), and returns their results without a string per value: a code per
   * value and the digests as hex bytes back to back (see DigestBatch). The batch is valid
   * until the next call on this hasher. Same outcomes and digests as add(), value by value.
   *
   * Why: a JavaScript string per digest (decode, slice, push) costs about as much as the
   * rules of the value; consumers that write digests out (files, request bodies) want bytes.
   */
  hashBatch(values: readonly string[], start: number, end: number, rowCountry?: string): DigestBatch {
    const q = this.queue;
    let j = chunkEnd(values, start, end);
    if (q === null || j === start) {
      // MD5 (no kernel), or one value longer than a whole chunk (too long: the string rules say why).
      if (j === start) j = start + 1;
      return this.slowBatch(values, start, j, rowCountry);
    }
    const n = j - start;
    const joined = values.slice(start, j).join('');
    const chars = joined.length;
    // Straight into the kernel's memory; the rules run on all of them in one call.
    const at = q.stage();
    const codes = q.batchCodesView(n);
    q.beginBatch();
    if (encoder.encodeInto(joined, q.u8.subarray(at, at + 3 * chars)).written === chars) {
      const lens = q.words;
      const l = q.batchLens >>> 2;
      for (let m = 0; m < n; m++) lens[l + m] = values[start + m]!.length;
      q.runBatch(this.kindCode, at, n, 0, this.flags, this.kind === 'phone' ? q.phoneCountry(rowCountry ?? this.defaultCountry) : 0);
    } else {
      // Not all ASCII: every value takes add() (which sends the non-ASCII ones to the string rules).
      codes.fill(SLOW);
    }
    let slow = 0;
    for (let m = 0; m < n; m++) if (codes[m] === SLOW) slow++;
    let nd: number;
    if (slow === 0) nd = q.runHash();
    else {
      // Rare (prehashed, non-ASCII, unusual phone shapes): add() through the queue, whose
      // digests are then copied after the batch's own.
      const tmp: string[] = [];
      for (let m = 0; m < n; m++) if (codes[m] === SLOW) codes[m] = this.slowCode(this.add(values[start + m]!, tmp, rowCountry), tmp.length - 1);
      nd = q.runHash();
      q.flush();
      for (let m = 0; m < n; m++) {
        const c = codes[m]!;
        if (c >= 0 || c > SLOW_DIGEST) continue;
        const k = SLOW_DIGEST - c;
        q.writeBatchHex(nd + (k & DIGEST_INDEX), tmp[k & DIGEST_INDEX]!);
        codes[m] = (nd + (k & DIGEST_INDEX)) | (k & PREHASHED);
      }
      nd += tmp.length;
    }
    return { count: n, codes, hex: q.batchHexView(nd), digests: nd, width: 64 };
  }

  /**
   * The batch rules and hashes over values given as bytes lying one after another (for
   * byte producers such as `ttsync ids normalize`): value m is lens[m] bytes of `src`, the
   * first from `from`. A value may end in ASCII whitespace (its line's newline): every rule
   * trims it. SHA-256 targets only (sharesQueue); at most MAX_CHUNK_VALUES values.
   *
   * Per value, codes[m]: >= 0, digest number k, its hex at hex[64 k, 64 k + 64) and its
   * normalized bytes where normalizedAt(k) says; SLOW (-1): the batch rules do not decide it
   * (prehashed, non-ASCII, over 1 KiB, unusual shapes), add() must, with the value as a
   * string; other negatives: outcomeOf(code). Valid until the next call on this hasher.
   */
  bytesBatch(src: Uint8Array, from: number, lens: Uint32Array, n: number, outRoom = 0): BytesBatch {
    const q = this.queue;
    if (q === null || n > MAX_CHUNK_VALUES) throw new RangeError('bytesBatch takes at most MAX_CHUNK_VALUES values of a SHA-256 target');
    let bytes = 0;
    for (let m = 0; m < n; m++) bytes += lens[m]!;
    // After the values: 16 bytes that whole-vector reads may touch, then the room asked for (aligned).
    const outAt = (bytes + 32 + 15) & ~15;
    const at = q.stage(outAt + outRoom);
    const u8 = q.u8;
    u8.set(src.subarray(from, from + bytes), at);
    const words = q.words;
    const l = q.batchLens >>> 2;
    for (let m = 0; m < n; m++) words[l + m] = lens[m]!;
    q.beginBatch();
    q.runBatch(this.kindCode, at, n, 0, this.flags, this.kind === 'phone' ? q.phoneCountry(this.defaultCountry) : 0);
    const digests = q.runHash();
    return { count: n, codes: q.batchCodesView(n), hex: q.batchHexView(digests), u8, words, descIndex: q.batchDescAt >>> 2, inAt: at, outAt: at + outAt, outEnd: at + outAt + outRoom };
  }

  /**
   * After bytesBatch on lines (`ttsync ids normalize`): the JSON lines of lines [m, n) of
   * that batch, from line m's value at `inAt`, written by asciiRules.wat `jsonLines` into
   * the room bytesBatch left ([b.outAt, b.outEnd)). Returns the line it stopped at; jsonEnd
   * is where its output ends, jsonNextIn that line's value, jsonWhy why it stopped (0 all
   * done, 1 a line for JavaScript: a code < 0 or bytes JSON must escape, 2 out of room).
   */
  jsonLines(b: BytesBatch, inAt: number, m: number): number {
    const q = this.queue!;
    const r = q.rules;
    const stop = r.jsonLines(inAt, q.batchLens, m, b.count, q.batchCodes, q.batchDescAt, q.batchHexAt, b.outAt, b.outEnd);
    this.jsonEnd = r.jsonPos.value;
    this.jsonNextIn = r.jsonIn.value;
    this.jsonWhy = r.jsonWhy.value;
    return stop;
  }
  jsonEnd = 0;
  jsonNextIn = 0;
  jsonWhy = 0;

  /** hashBatch by add() per value, into this hasher's own arrays (MD5; an overlong value). */
  private slowBatch(values: readonly string[], start: number, j: number, rowCountry: string | undefined): DigestBatch {
    const n = j - start;
    const w = this.hash === 'md5' ? 32 : 64;
    const tmp: string[] = [];
    const codes = (this.ownCodes ??= new Int32Array(MAX_CHUNK_VALUES)).subarray(0, n);
    for (let m = 0; m < n; m++) {
      const c = this.slowCode(this.add(values[start + m]!, tmp, rowCountry), tmp.length - 1);
      codes[m] = c <= SLOW_DIGEST ? SLOW_DIGEST - c : c;
    }
    this.flush();
    const hex = (this.ownHex ??= Buffer.alloc(MAX_CHUNK_VALUES * 64));
    for (let k = 0; k < tmp.length; k++) hex.write(tmp[k]!, k * w, 'latin1');
    return { count: n, codes, hex: hex.subarray(0, tmp.length * w), digests: tmp.length, width: w };
  }

  private ownCodes: Int32Array | undefined;
  private ownHex: Buffer | undefined;

  /**
   * The code of an add() outcome in a batch being built: a digest's position `k` in the
   * temporary array (encoded below SLOW_DIGEST, PREHASHED when passed through), or the
   * outcome's own negative code.
   */
  private slowCode(o: Outcome, k: number): number {
    if (o === 'hashed') return SLOW_DIGEST - k;
    if (o === 'prehashed') return SLOW_DIGEST - (k | PREHASHED);
    return codeOfOutcome(o);
  }

  /** The outcome of a negative code of a DigestBatch. */
  outcomeOf(code: number): Outcome {
    return code <= OUTCOME_BASE ? OUTCOMES[OUTCOME_BASE - code]! : this.batchOutcomeCode(code);
  }

  /** The outcome of a batch code other than SLOW or a descriptor. */
  batchOutcomeCode(code: number): 'empty' | ValueRejectReason {
    if (code === B_EMPTY) return 'empty';
    if (code === INVALID) return this.invalid;
    if (code === ZEROED) return 'zeroed_maid';
    throw new RangeError(`unexpected batch code ${code}`);
  }

  /** The rule's kind and flags as asciiRules.wat `batch` takes them. */
  readonly kindCode: number;
  readonly flags: number;
  readonly invalid: ValueRejectReason;

  /** Adds one raw value given as its UTF-8 bytes `src[start, end)`. */
  addBytes(src: Buffer, start: number, end: number, out: DigestOut, rowCountry?: string): Outcome {
    // The byte length is the value's UTF-8 length: no decoding needed to know it is too long.
    if (end - start > MAX_VALUE_BYTES) return 'too_long';
    const r = this.fast(src, start, end, out, rowCountry);
    return r === null ? this.slow(src.toString('utf8', start, end), out, rowCountry) : r;
  }

  /**
   * addBytes for bytes staged in this hasher's queue (Sha256HexQueue.stage): the value is
   * q.u8[start, end), left intact. Email, MAID and external ID rules run in WebAssembly.
   */
  addStaged(start: number, end: number, out: DigestOut, rowCountry?: string): Outcome {
    if (end - start > MAX_VALUE_BYTES) return 'too_long';
    const q = this.queue!;
    const r = this.kind === 'phone' ? this.fast(q.u8, start, end, out, rowCountry) : this.inMemory(q, start, end, out, false);
    return r === null ? this.slow(q.utf8At(start, end - start), out, rowCountry) : r;
  }

  /** The queue's staged bytes can be given to addStaged (SHA-256 targets only). */
  get sharesQueue(): boolean {
    return this.queue !== null;
  }

  /** Computes the pending digests into their arrays. */
  flush(): void {
    this.queue?.flush();
  }

  /**
   * The normalized value of the last add/addBytes that returned 'hashed' (for output
   * that shows it, like `ttsync ids normalize`); only valid until the next add.
   */
  lastNormalized(): string {
    if (this.lastSlow !== null) return this.lastSlow;
    if (this.queue !== null) return this.queue.latin1At(this.lastAt, this.lastLen);
    return this.md5Bytes!.toString('latin1', 0, this.lastLen);
  }

  /**
   * Copies the normalized bytes of the last add/addBytes that returned 'hashed' into `dst`
   * at `at` and returns their length, or -1 when the string rules made that value (then
   * lastNormalized() has it). For output written as bytes: no string per value.
   */
  copyLastNormalized(dst: Uint8Array, at: number): number {
    if (this.lastSlow !== null) return -1;
    const src = this.queue !== null ? this.queue.u8 : this.md5Bytes!;
    dst.set(src.subarray(this.lastAt, this.lastAt + this.lastLen), at);
    return this.lastLen;
  }

  /**
   * The rules in WebAssembly (asciiRules.wat) for an email, MAID or external ID whose
   * bytes are in the queue's memory at [start, end). `inPlace`: the bytes are a staged
   * copy the rules may overwrite (the value is committed where it lies); otherwise they
   * are the caller's (a file piece) and stay intact for its rejects. An outcome, or null
   * when the string rules decide.
   */
  private inMemory(q: Sha256HexQueue, start: number, end: number, out: DigestOut, inPlace: boolean): Outcome | null {
    const b = q.u8;
    let s = start;
    let e = end;
    while (s < e && isAsciiSpace(b[s]!)) s++;
    while (e > s && isAsciiSpace(b[e - 1]!)) e--;
    if (s === e) return 'empty';
    const len = e - s;
    if ((len === 64 || len === 32) && isHex(b, s, e)) return this.prehashed(b, s, len, out);
    if (this.kind === 'external_id') {
      // Trim only: the bytes are the normalized value, wherever they lie.
      if (q.rules.ascii(s, e) === 0) return null;
      q.commitAt(s, len, out, out.length);
      out.push('');
      return 'hashed';
    }
    const d = inPlace ? s : q.reserve(len);
    const r = this.kind === 'email' ? q.rules.email(s, e, d, this.dropPlus ? 1 : 0) : q.rules.maid(s, e, d);
    if (r < 0) return r === INVALID ? 'invalid_email' : r === ZEROED ? 'zeroed_maid' : null;
    if (inPlace) q.commitAt(d, r, out, out.length);
    else q.commit(r, out, out.length);
    out.push('');
    this.lastSlow = null;
    this.lastAt = d;
    this.lastLen = r;
    return 'hashed';
  }

  private prehashed(b: Uint8Array, s: number, len: number, out: DigestOut): Outcome {
    // Never hash a digest again; a digest of the other kind cannot match anything.
    if ((len === 64 ? 'sha256' : 'md5') !== this.hash) return 'wrong_hash_kind';
    out.push(Buffer.from(b.buffer, b.byteOffset + s, len).toString('latin1').toLowerCase());
    return 'prehashed';
  }

  /** The ASCII path: an outcome, or null when the string rules must decide. */
  private fast(src: Uint8Array, start: number, end: number, out: DigestOut, rowCountry: string | undefined): Outcome | null {
    let s = start;
    let e = end;
    while (s < e && isAsciiSpace(src[s]!)) s++;
    while (e > s && isAsciiSpace(src[e - 1]!)) e--;
    if (s === e) {
      // Only ASCII whitespace (a non-ASCII byte would have stopped the trim).
      return 'empty';
    }
    const len = e - s;
    if ((len === 64 || len === 32) && isHex(src, s, e)) return this.prehashed(src, s, len, out);
    const q = this.queue;
    let dst: Uint8Array;
    let at: number;
    const max = this.kind === 'phone' ? 24 : len;
    if (q !== null) {
      at = q.reserve(max);
      dst = q.u8;
    } else {
      dst = this.md5Bytes ??= Buffer.alloc(MAX_VALUE_BYTES + 24);
      at = 0;
    }
    let r: number;
    switch (this.kind) {
      case 'email':
        r = emailAscii(src, s, e, dst, at, this.dropPlus);
        if (r === INVALID) return 'invalid_email';
        break;
      case 'phone':
        r = fastE164Ascii(src, s, e, rowCountry ?? this.defaultCountry, dst, at, this.phonePlus);
        if (r === INVALID) return 'invalid_phone';
        break;
      case 'maid':
        r = maidAscii(src, s, e, dst, at);
        if (r === INVALID) return 'invalid_maid';
        if (r === ZEROED) return 'zeroed_maid';
        break;
      case 'external_id':
        r = copyAscii(src, s, e, dst, at);
        break;
    }
    if (r === SLOW) return null;
    this.lastSlow = null;
    this.lastAt = at;
    this.lastLen = r;
    if (q !== null) {
      q.commit(r, out, out.length);
      out.push('');
    } else out.push(hash(this.hash, (dst as Buffer).toString('latin1', 0, r), 'hex'));
    return 'hashed';
  }

  /** The string rules, exactly as IdentifierNormalizer.process applies them. */
  private slow(raw: string, out: DigestOut, rowCountry: string | undefined): Outcome {
    const n = this.normalizer;
    const outcome = n.prepare(raw, rowCountry);
    if (outcome === 'prehashed') out.push(n.digest);
    else if (outcome === 'hashed') {
      const v = n.normalized!;
      this.lastSlow = v;
      const q = this.queue;
      if (q === null) {
        out.push(hash(this.hash, v, 'hex'));
        return outcome;
      }
      // UTF-8 takes at most 3 bytes per UTF-16 unit (a lone surrogate becomes U+FFFD, as
      // in crypto.hash).
      const at = q.reserve(3 * v.length);
      const { written } = encoder.encodeInto(v, q.u8.subarray(at, at + 3 * v.length));
      q.commit(written, out, out.length);
      out.push('');
    }
    return outcome;
  }
}

const encoder = new TextEncoder();
/** asciiRules.wat's kind numbers and its code for a value of only whitespace. */
const KIND_CODES: Record<IdentifierKind, number> = { email: 0, maid: 1, external_id: 2, phone: 3 };
export const B_EMPTY = -4;
/** batchScan's code for a record without the field. */
export const B_NONE = -5;

/**
 * Results of IdentifierHasher.hashBatch: `count` values, no string per value. The arrays
 * are views of the hasher's memory, valid until its next call.
 */
export interface DigestBatch {
  count: number;
  /**
   * Per value: >= 0, its digest is number `code & DIGEST_INDEX` in `hex` (PREHASHED set
   * when the value was a digest already, passed through); < 0, it has none, and
   * IdentifierHasher.outcomeOf(code) says why ('empty' or a reject reason).
   */
  codes: Int32Array;
  /** Lowercase hex digests back to back, `width` bytes each (64 SHA-256, 32 MD5). */
  hex: Buffer;
  /** Digests in `hex`. */
  digests: number;
  width: number;
}
/**
 * Results of IdentifierHasher.bytesBatch; views of the hasher's memory. Normalized bytes of
 * digest k: u8[words[descIndex + 2 k], + words[descIndex + 2 k + 1]).
 */
export interface BytesBatch {
  count: number;
  codes: Int32Array;
  hex: Buffer;
  u8: Uint8Array;
  words: Uint32Array;
  descIndex: number;
  /** Where the values lie in the kernel's memory, and the room for jsonLines' output. */
  inAt: number;
  outAt: number;
  outEnd: number;
}

export const DIGEST_INDEX = 0x3fffffff;
export const PREHASHED = 0x40000000;

/** Digests [256 g, 256 g + 256) of a batch as one latin1 string (one decode for 256 values). */
export function digestGroup(b: DigestBatch, g: number): string {
  const a = g * 256 * b.width;
  return b.hex.toString('latin1', a, Math.min(a + 256 * b.width, b.digests * b.width));
}

/** Codes of the outcomes add() decides in JavaScript ('empty' and every reason), below the kernel's codes. */
const OUTCOME_BASE = -16;
const OUTCOMES: Outcome[] = ['empty', ...REJECT_REASONS.filter((r): r is ValueRejectReason => r !== 'unmapped_column')];
const OUTCOME_CODES = new Map<Outcome, number>(OUTCOMES.map((o, i) => [o, OUTCOME_BASE - i]));
function codeOfOutcome(o: Outcome): number {
  const c = OUTCOME_CODES.get(o);
  if (c === undefined) throw new RangeError(`no batch code for outcome ${o}`);
  return c;
}
/** While a batch is built: a digest add() delivered to the temporary array (see slowCode). */
const SLOW_DIGEST = -(1 << 20);

function isHex(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}
