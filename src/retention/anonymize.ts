import { RetentionError, RetentionFailureType } from './failures';
import { decideAt, decideRow, parseAttributionTime, quickIsoBytes, type RowDecision, type RowPolicy } from './rowPolicy';

/*
 * Streaming anonymizers of one partition object. Bytes go in chunk by chunk; what comes out
 * is the input with only the rows of TikTok networks past their window rewritten: those
 * rows' cleared fields empty and their network the organic one. Every other byte (other
 * rows, the header, quoting, line endings, a BOM, a missing final newline) is copied as it
 * came. Rows that cannot name a TikTok network (none of the policy's needles in their bytes)
 * are copied without being parsed, which is what makes this fast. Memory: one input chunk
 * plus the unfinished record carried to the next one.
 */

export interface AnonymizeCounts {
  rowsSeen: number;
  rowsAnonymized: number;
  tiktokWithinWindow: number;
  unreadableRows: number;
  /** The earliest instant a kept TikTok row falls past its window, or null. */
  nextDueMs: number | null;
  /** Up to 10 rows kept because they could not be read: record number (header = 1) and why. */
  unreadableSamples: { record: number; reason: string }[];
  /** Cleared columns the header lacks (nothing to clear there; listed in the audit). */
  absentColumns: string[];
}

export interface Anonymizer {
  /** The output bytes for `chunk` (possibly empty: a record continues into the next chunk). */
  push(chunk: Buffer): Buffer;
  /** The output of the last, unterminated record. */
  end(): Buffer;
  /**
   * The complete records at the start of `buf`, with nothing carried: their output, and where
   * the unfinished record after them starts (the caller hands those bytes back, followed by
   * the next ones). For a caller that reads into its own buffer, so no chunk is joined.
   */
  pushWhole(buf: Buffer): { out: Buffer; consumed: number };
  /** The output of the unterminated last record `rest` (what pushWhole left), ending the stream. */
  finish(rest: Buffer): Buffer;
  /**
   * From now on one output buffer, `buffer` to start with (grown when a piece needs more), is
   * reused from call to call, so an output is valid only until the next call: a caller that
   * writes each output before the next call allocates nothing.
   */
  recycleOutput(buffer: Buffer): void;
  /** The recycled output buffer as it is now (grown or not), for the caller to reuse elsewhere. */
  readonly outputBuffer: Buffer | null;
  readonly counts: AnonymizeCounts;
}

const NL = 10;
const CR = 13;
const QUOTE = 34;
const EMPTY = Buffer.alloc(0);

function newCounts(): AnonymizeCounts {
  return { rowsSeen: 0, rowsAnonymized: 0, tiktokWithinWindow: 0, unreadableRows: 0, nextDueMs: null, unreadableSamples: [], absentColumns: [] };
}

/**
 * Node searches a pattern of up to 6 bytes by memchr of its first byte, and a longer one by
 * Boyer-Moore-Horspool, at about a third of that speed where the pattern is absent (most of
 * an anonymized file). So a needle is searched by its 6-byte run that starts with the byte
 * rarest in the data (sampled from the first buffer), and each hit is checked whole.
 */
const ANCHOR_BYTES = 6;
/** Enough rows to rank bytes; the histogram is made once per scan (two per object: the anonymizer and its check). */
const SAMPLE_BYTES = 8 * 1024;

interface Anchored {
  needle: Buffer;
  anchor: Buffer;
  /** Where the anchor starts in the needle. */
  at: number;
}

function histogram(sample: Buffer): Uint32Array {
  const seen = new Uint32Array(256);
  const n = Math.min(sample.length, SAMPLE_BYTES);
  for (let i = 0; i < n; i++) seen[sample[i]!]!++;
  return seen;
}

function anchored(needle: Buffer, seen: Uint32Array): Anchored {
  const len = Math.min(ANCHOR_BYTES, needle.length);
  if (len === needle.length) return { needle, anchor: needle, at: 0 };
  let at = 0;
  for (let k = 1; k + len <= needle.length; k++) if (seen[needle[k]!]! < seen[needle[at]!]!) at = k;
  return { needle, anchor: needle.subarray(at, at + len), at };
}

/**
 * Anchors per needle list (a row policy's, shared by the anonymizers of a run's objects):
 * ranked on the first object's bytes, which stand for the dataset's. Any anchor finds every
 * needle (each hit is checked whole); the ranking only makes the search faster.
 */
const anchorsByNeedles = new WeakMap<Buffer[], Anchored[]>();

/** Tracks, per needle, its next occurrence in the current buffer, so each buffer is searched once per needle. */
class NeedleScan {
  private next: number[] = [];
  private buf: Buffer = EMPTY;
  private anchors: Anchored[] | null = null;
  constructor(private readonly needles: Buffer[] | null) {}

  reset(buf: Buffer): void {
    this.buf = buf;
    this.next = (this.needles ?? []).map(() => -1);
    if (!this.anchors && this.needles && buf.length > 0) {
      const needles = this.needles;
      this.anchors = anchorsByNeedles.get(needles) ?? null;
      if (!this.anchors) {
        // A needle no longer than an anchor needs no ranking of bytes.
        const seen = needles.some((n) => n.length > ANCHOR_BYTES) ? histogram(buf) : new Uint32Array(256);
        anchorsByNeedles.set(needles, (this.anchors = needles.map((n) => anchored(n, seen))));
      }
    }
  }

  /** Where needle i next starts at or after `from`, or -1. */
  private find(i: number, from: number): number {
    const { needle, anchor, at } = this.anchors![i]!;
    const buf = this.buf;
    for (let p = from + at; ; ) {
      const q = buf.indexOf(anchor, p);
      if (q === -1) return -1;
      const st = q - at;
      let j = 0;
      while (j < needle.length && buf[st + j] === needle[j]) j++;
      if (j === needle.length) return st;
      p = q + 1;
    }
  }

  /** Where needle i next starts at or after `s` (Infinity: not in this buffer), searched only when its last known start is before `s`. */
  private nextOf(i: number, s: number): number {
    let at = this.next[i]!;
    if (at < s && at !== Infinity) {
      const found = this.find(i, s);
      at = found === -1 ? Infinity : found;
      this.next[i] = at;
    }
    return at;
  }

  /** Where the first needle at or after `s` starts (Infinity: none in this buffer); -1 when there are no needles (every row may match). */
  nextFrom(s: number): number {
    if (!this.needles) return -1;
    let min = Infinity;
    for (let i = 0; i < this.needles.length; i++) min = Math.min(min, this.nextOf(i, s));
    return min;
  }

  /** Whether any needle starts in [s, e). */
  any(s: number, e: number): boolean {
    if (!this.needles) return true;
    for (let i = 0; i < this.needles.length; i++) if (this.nextOf(i, s) < e) return true;
    return false;
  }
}

/** Chunked record splitting shared by both formats. */
abstract class RecordStream implements Anonymizer {
  readonly counts = newCounts();
  protected carry: Buffer | null = null;
  protected record = 0;
  /**
   * The output of a chunk with rewritten rows, written in place: the copied runs and the
   * rewritten rows' pieces go straight in, so a rewrite makes no small buffers to collect. A
   * chunk without rewrites is returned as a view of the input, uncopied.
   */
  private arena: Buffer | null = null;
  /** The last arena, kept for the next call once recycleOutput was called. */
  private spare: Buffer | null = null;
  private recycling = false;
  private pos = 0;
  /** Where the input not yet in the output starts. */
  protected runStart = 0;

  recycleOutput(buffer: Buffer): void {
    this.recycling = true;
    this.spare = buffer;
  }

  get outputBuffer(): Buffer | null {
    return this.recycling ? this.spare : null;
  }

  push(chunk: Buffer): Buffer {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    const { out, consumed } = this.pushWhole(buf);
    if (consumed < buf.length) this.carry = Buffer.from(buf.subarray(consumed));
    return out;
  }

  pushWhole(buf: Buffer): { out: Buffer; consumed: number } {
    this.begin(buf);
    this.arena = null;
    this.runStart = 0;
    let s = 0;
    for (;;) {
      s = this.skipPlain(buf, s);
      const nl = this.recordEnd(buf, s);
      if (nl === -1) break;
      this.handle(buf, s, nl + 1, true);
      s = nl + 1;
    }
    return { out: this.flush(buf, s), consumed: s };
  }

  finish(rest: Buffer): Buffer {
    this.carry = rest.length ? rest : null;
    return this.end();
  }

  end(): Buffer {
    const buf = this.carry;
    this.carry = null;
    if (!buf || buf.length === 0) return EMPTY;
    this.begin(buf);
    this.arena = null;
    this.runStart = 0;
    this.handle(buf, 0, buf.length, false);
    return this.flush(buf, buf.length);
  }

  private flush(buf: Buffer, upTo: number): Buffer {
    if (!this.arena) return buf.subarray(this.runStart, upTo);
    this.put(buf, this.runStart, upTo);
    const out = this.arena.subarray(0, this.pos);
    if (this.recycling) this.spare = this.arena;
    this.arena = null;
    return out;
  }

  /** Starts rewriting the record that begins at `s`: the input before it goes to the output. */
  protected rewriteFrom(buf: Buffer, s: number): void {
    if (!this.arena) {
      // Rewrites rarely grow a row; put() grows the arena when they do.
      const need = buf.length + 4096;
      this.arena = this.spare && this.spare.length >= need ? this.spare : Buffer.allocUnsafe(need);
      this.pos = 0;
    }
    this.put(buf, this.runStart, s);
  }

  /** Ends rewriting: the input from `e` on is copied again. */
  protected rewriteTo(e: number): void {
    this.runStart = e;
  }

  /** Appends src[a, b) to the output being rewritten. */
  protected put(src: Buffer, a: number, b: number): void {
    const n = b - a;
    if (n <= 0) return;
    let arena = this.arena!;
    if (this.pos + n > arena.length) {
      const grown = Buffer.allocUnsafe(Math.max(arena.length * 2, this.pos + n));
      arena.copy(grown, 0, 0, this.pos);
      this.arena = arena = grown;
    }
    // Up to a few dozen bytes (a delimiter, a short field, a key between cleared values) are cheaper copied here than through a native call.
    const pos = this.pos;
    if (n <= 48) for (let i = 0; i < n; i++) arena[pos + i] = src[a + i]!;
    else src.copy(arena, pos, a, b);
    this.pos = pos + n;
  }

  /** Replaces the record [s, e) by `bytes` in the output. */
  protected replace(buf: Buffer, s: number, e: number, bytes: Buffer): void {
    this.rewriteFrom(buf, s);
    this.put(bytes, 0, bytes.length);
    this.rewriteTo(e);
  }

  protected noteDue(ms: number): void {
    this.counts.tiktokWithinWindow++;
    if (this.counts.nextDueMs === null || ms < this.counts.nextDueMs) this.counts.nextDueMs = ms;
  }

  protected unreadable(reason: string): void {
    this.counts.unreadableRows++;
    if (this.counts.unreadableSamples.length < 10) this.counts.unreadableSamples.push({ record: this.record, reason });
  }

  /** Where the line ending of record [s, e) starts. */
  protected contentEnd(buf: Buffer, s: number, e: number, terminated: boolean): number {
    let ce = terminated ? e - 1 : e;
    if (ce > s && buf[ce - 1] === CR) ce--;
    return ce;
  }

  /**
   * Takes the whole records from `s` on that cannot be rewritten, only counting them, and
   * returns where the first one that may be starts. A format that can tell them apart cheaply
   * overrides it; by default every record goes to handle().
   */
  protected skipPlain(_buf: Buffer, s: number): number {
    return s;
  }

  protected abstract begin(buf: Buffer): void;
  /** Index of the '\n' that ends the record starting at s, or -1 if it continues past the buffer. */
  protected abstract recordEnd(buf: Buffer, s: number): number;
  protected abstract handle(buf: Buffer, s: number, e: number, terminated: boolean): void;
}

/**
 * The TikTok network names as bytes, for matching a field without making a string of it.
 * Only an exact match counts; anything else (other networks, padded or escaped names) goes
 * to decideRow, which decides the same way from the decoded value.
 */
class NetworkNames {
  private readonly names: { bytes: Buffer; bounds: { months: number; pastBefore: number } }[] = [];
  constructor(policy: RowPolicy) {
    for (const [name, bounds] of policy.bounds) this.names.push({ bytes: Buffer.from(name, 'utf8'), bounds });
  }

  /** The bounds of the TikTok network whose name is exactly the bytes [s, e), or undefined. */
  match(buf: Buffer, s: number, e: number): { months: number; pastBefore: number } | undefined {
    const len = e - s;
    for (const { bytes, bounds } of this.names) {
      if (bytes.length !== len) continue;
      let i = 0;
      while (i < len && bytes[i] === buf[s + i]) i++;
      if (i === len) return bounds;
    }
    return undefined;
  }
}

/** The decision for a TikTok network's row whose time is the plain text [s, e) (or absent: s = -1). */
function decideTimeBytes(policy: RowPolicy, bounds: { months: number; pastBefore: number }, buf: Buffer, s: number, e: number): RowDecision {
  let at = s >= 0 && policy.timeFormat === 'iso' ? quickIsoBytes(buf, s, e) : undefined;
  if (at === undefined) at = parseAttributionTime(s >= 0 ? buf.toString('utf8', s, e) : undefined, policy.timeFormat);
  return at === undefined ? { kind: 'unreadable_time' } : decideAt(policy, bounds, at);
}

interface Field {
  start: number;
  end: number;
  quoted: boolean;
}

export class CsvAnonymizer extends RecordStream {
  private readonly delim: number;
  private readonly needles: NeedleScan;
  private nextQuote = -1;
  private header: string[] | null = null;
  private netIdx = -1;
  private timeIdx = -1;
  private clearIdx = new Set<number>();
  /** 1 at the index of each cleared column. */
  private clearAt = new Uint8Array(0);
  /** Field positions of the current row (fieldsAt). */
  private at = new Int32Array(128);
  private readonly networks: NetworkNames;
  private organic: Buffer;
  private readonly delimBytes: Buffer;

  constructor(
    private readonly policy: RowPolicy,
    delimiter: string,
    private readonly source: string,
  ) {
    super();
    this.delim = delimiter.charCodeAt(0);
    this.delimBytes = Buffer.of(this.delim);
    this.needles = new NeedleScan(policy.needles);
    this.networks = new NetworkNames(policy);
    const o = policy.organic;
    this.organic = Buffer.from(/["\r\n]/.test(o) || o.includes(delimiter) ? `"${o.replace(/"/g, '""')}"` : o, 'utf8');
  }

  protected begin(buf: Buffer): void {
    this.nextQuote = -1;
    this.needles.reset(buf);
  }

  protected recordEnd(buf: Buffer, s: number): number {
    let from = s;
    let open = false;
    for (;;) {
      const nl = buf.indexOf(NL, from);
      if (nl === -1) return -1;
      for (;;) {
        if (this.nextQuote < from && this.nextQuote !== Infinity) {
          const q = buf.indexOf(QUOTE, from);
          this.nextQuote = q === -1 ? Infinity : q;
        }
        if (this.nextQuote >= nl) break;
        open = !open;
        const q = buf.indexOf(QUOTE, this.nextQuote + 1);
        this.nextQuote = q === -1 ? Infinity : q;
      }
      if (!open) return nl;
      from = nl + 1;
    }
  }

  private value(buf: Buffer, f: Field): string {
    if (!f.quoted) return buf.toString('utf8', f.start, f.end);
    let end = f.end;
    if (end - 1 > f.start && buf[end - 1] === QUOTE) end--;
    return buf.toString('utf8', f.start + 1, end).replace(/""/g, '"');
  }

  protected handle(buf: Buffer, s: number, e: number, terminated: boolean): void {
    this.record++;
    let start = s;
    const ce = this.contentEnd(buf, s, e, terminated);
    if (!this.header) {
      if (buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf) start += 3;
      this.header = Array.from({ length: this.fieldsAt(buf, start, ce) }, (_, i) => this.valueAt(buf, i).trim());
      this.netIdx = this.header.indexOf(this.policy.networkColumn);
      this.timeIdx = this.header.indexOf(this.policy.timeColumn);
      const missing = [this.policy.networkColumn, this.policy.timeColumn].filter((c) => !this.header!.includes(c));
      if (missing.length)
        throw new RetentionError(RetentionFailureType.DatasetUnreadable, `${this.source}: the header lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((c) => JSON.stringify(c)).join(', ')} (header: ${this.header.slice(0, 30).join(',')})`);
      for (const c of this.policy.cleared) {
        const i = this.header.indexOf(c);
        if (i === -1) this.counts.absentColumns.push(c);
        else this.clearIdx.add(i);
      }
      this.clearAt = new Uint8Array(this.header.length + 1);
      for (const i of this.clearIdx) this.clearAt[i] = 1;
      return;
    }
    if (ce === s) return; // a blank line: not a row
    this.counts.rowsSeen++;
    if (!this.needles.any(s, e)) return;
    const n = this.fieldsAt(buf, s, ce);
    if (this.netIdx >= n) return;
    const at = this.at;
    const hasTime = this.timeIdx < n;
    const ns = at[this.netIdx * 2]!;
    const bounds = ns >= 0 ? this.networks.match(buf, ns, at[this.netIdx * 2 + 1]!) : undefined;
    let decision: RowDecision;
    if (bounds === undefined) {
      // Quoted, padded or another network: read as text, as the header is.
      const time = hasTime ? this.valueAt(buf, this.timeIdx) : undefined;
      decision = decideRow(this.policy, this.valueAt(buf, this.netIdx), time);
    } else if (!hasTime) decision = decideTimeBytes(this.policy, bounds, buf, -1, -1);
    else {
      const ts = at[this.timeIdx * 2]!;
      if (ts >= 0) decision = decideTimeBytes(this.policy, bounds, buf, ts, at[this.timeIdx * 2 + 1]!);
      else {
        const t = parseAttributionTime(this.valueAt(buf, this.timeIdx), this.policy.timeFormat);
        decision = t === undefined ? { kind: 'unreadable_time' } : decideAt(this.policy, bounds, t);
      }
    }
    if (decision.kind === 'other') return;
    if (decision.kind === 'unreadable_time') return this.unreadable(hasTime ? 'attribution time is not a time' : 'the row has fewer fields than the header');
    if (decision.kind === 'within_window') return this.noteDue(decision.expiresAtMs);
    this.counts.rowsAnonymized++;
    this.rewriteFrom(buf, s);
    for (let i = 0; i < n; i++) {
      if (i > 0) this.put(this.delimBytes, 0, 1);
      if (i === this.netIdx) this.put(this.organic, 0, this.organic.length);
      else if (this.clearAt[i] !== 1) {
        const fs = at[i * 2]!;
        this.put(buf, fs < 0 ? ~fs : fs, at[i * 2 + 1]!);
      }
    }
    this.put(buf, ce, e);
    this.rewriteTo(e);
  }

  /**
   * The fields of the row [s, ce) into `at` as [start, end] pairs, a quoted field's start
   * stored as ~start (negative): no object per field, since it runs for every candidate row.
   */
  private fieldsAt(buf: Buffer, s: number, ce: number): number {
    let n = 0;
    let p = s;
    for (;;) {
      if (n * 2 === this.at.length) {
        const grown = new Int32Array(this.at.length * 2);
        grown.set(this.at);
        this.at = grown;
      }
      let d: number;
      if (p < ce && buf[p] === QUOTE) {
        let q = p + 1;
        for (;;) {
          q = buf.indexOf(QUOTE, q);
          if (q === -1 || q >= ce) {
            q = ce;
            break;
          }
          if (buf[q + 1] === QUOTE && q + 1 < ce) q += 2;
          else {
            q += 1;
            break;
          }
        }
        d = buf.indexOf(this.delim, q);
        if (d === -1 || d > ce) d = ce;
        this.at[n * 2] = ~p;
      } else {
        d = buf.indexOf(this.delim, p);
        if (d === -1 || d > ce) d = ce;
        this.at[n * 2] = p;
      }
      this.at[n * 2 + 1] = d;
      n++;
      p = d;
      if (p >= ce) return n;
      p++; // the delimiter
    }
  }

  private valueAt(buf: Buffer, i: number): string {
    const st = this.at[i * 2]!;
    return this.value(buf, { start: st < 0 ? ~st : st, end: this.at[i * 2 + 1]!, quoted: st < 0 });
  }
}

const BACKSLASH_U = Buffer.from('\\u', 'latin1');
const ESCAPE_NEEDLES = [BACKSLASH_U];
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COLON = 58;
const COMMA = 44;
const JSON_SCALAR = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;
const EMPTY_JSON_STRING = Buffer.from('""', 'latin1');

function isJsonSpace(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** Index after the closing quote of the string opening at `p`, or -1. */
function jsonStringEnd(buf: Buffer, p: number, ce: number): number {
  let q = p + 1;
  for (;;) {
    q = buf.indexOf(QUOTE, q);
    if (q === -1 || q >= ce) return -1;
    let b = q - 1;
    while (buf[b] === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    q++;
  }
}

/** Index after the value starting at `p`, or -1 when it is not a JSON value. */
function jsonValueEnd(buf: Buffer, p: number, ce: number): number {
  const c = buf[p];
  if (c === QUOTE) return jsonStringEnd(buf, p, ce);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    // A nested value: its extent by brackets outside strings, its validity by JSON.parse (rare in attribution rows).
    let depth = 0;
    for (let q = p; q < ce; q++) {
      const b = buf[q];
      if (b === QUOTE) {
        q = jsonStringEnd(buf, q, ce) - 1;
        if (q < 0) return -1;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--depth === 0) {
          try {
            JSON.parse(buf.toString('utf8', p, q + 1));
          } catch {
            return -1;
          }
          return q + 1;
        }
      }
    }
    return -1;
  }
  let q = p;
  while (q < ce) {
    const b = buf[q];
    if (b === COMMA || b === CLOSE_BRACE || isJsonSpace(b)) break;
    q++;
  }
  return q > p && JSON_SCALAR.test(buf.toString('latin1', p, q)) ? q : -1;
}

/** Whether the string [p, end) with a backslash in it is valid JSON (its escapes), by JSON.parse. */
function escapedStringValid(buf: Buffer, p: number, end: number, nextBackslash: number): boolean {
  if (nextBackslash === -1 || nextBackslash >= end) return true;
  try {
    JSON.parse(buf.toString('utf8', p, end));
    return true;
  } catch {
    return false;
  }
}

/**
 * The top-level members of the JSON object in [s, ce) as [keyStart, keyEnd, valueStart,
 * valueEnd] quadruples (keys with their quotes), or null when the line is not one plain
 * object. Strings are skipped by their quotes, so a line is read per member, not per byte;
 * a string with an escape is checked by JSON.parse.
 */
function jsonMembers(buf: Buffer, s: number, ce: number): number[] | null {
  let bs = buf.indexOf(BACKSLASH, s);
  if (bs >= ce) bs = -1;
  const escapesOk = (p: number, end: number): boolean => {
    if (bs !== -1 && bs < p) {
      bs = buf.indexOf(BACKSLASH, p);
      if (bs >= ce) bs = -1;
    }
    return escapedStringValid(buf, p, end, bs);
  };
  let p = s;
  while (isJsonSpace(buf[p]) && p < ce) p++;
  if (buf[p] !== OPEN_BRACE) return null;
  p++;
  while (isJsonSpace(buf[p]) && p < ce) p++;
  const out: number[] = [];
  if (buf[p] === CLOSE_BRACE) p++;
  else
    for (;;) {
      if (buf[p] !== QUOTE) return null;
      const ke = jsonStringEnd(buf, p, ce);
      if (ke === -1 || !escapesOk(p, ke)) return null;
      const ks = p;
      p = ke;
      while (isJsonSpace(buf[p]) && p < ce) p++;
      if (buf[p] !== COLON) return null;
      p++;
      while (isJsonSpace(buf[p]) && p < ce) p++;
      const ve = jsonValueEnd(buf, p, ce);
      if (ve === -1 || (buf[p] === QUOTE && !escapesOk(p, ve))) return null;
      out.push(ks, ke, p, ve);
      p = ve;
      while (isJsonSpace(buf[p]) && p < ce) p++;
      if (buf[p] === COMMA) {
        p++;
        while (isJsonSpace(buf[p]) && p < ce) p++;
        continue;
      }
      if (buf[p] !== CLOSE_BRACE) return null;
      p++;
      break;
    }
  while (p < ce && isJsonSpace(buf[p])) p++;
  return p === ce ? out : null;
}

/** The JavaScript value of the member value [vs, ve): plain strings decoded, others parsed. */
function jsonValue(buf: Buffer, vs: number, ve: number): unknown {
  if (buf[vs] === QUOTE) {
    const bs = buf.indexOf(BACKSLASH, vs);
    if (bs === -1 || bs >= ve) return buf.toString('utf8', vs + 1, ve - 1);
  }
  return JSON.parse(buf.toString('utf8', vs, ve)) as unknown;
}

const enum KeyRole {
  Other,
  Network,
  Time,
  Cleared,
}

/** Index after the JSON number or literal starting at `p`, or -1 (its grammar, byte by byte). */
function scalarEnd(buf: Buffer, p: number, ce: number): number {
  const c = buf[p];
  if (c === 116) return p + 4 <= ce && buf[p + 1] === 114 && buf[p + 2] === 117 && buf[p + 3] === 101 ? p + 4 : -1; // true
  if (c === 102) return p + 5 <= ce && buf[p + 1] === 97 && buf[p + 2] === 108 && buf[p + 3] === 115 && buf[p + 4] === 101 ? p + 5 : -1; // false
  if (c === 110) return p + 4 <= ce && buf[p + 1] === 117 && buf[p + 2] === 108 && buf[p + 3] === 108 ? p + 4 : -1; // null
  let q = p;
  if (buf[q] === 45) q++;
  if (buf[q] === 48) q++;
  else if (buf[q]! >= 49 && buf[q]! <= 57) while (q < ce && buf[q]! >= 48 && buf[q]! <= 57) q++;
  else return -1;
  if (buf[q] === 46) {
    const d = ++q;
    while (q < ce && buf[q]! >= 48 && buf[q]! <= 57) q++;
    if (q === d) return -1;
  }
  if (buf[q] === 101 || buf[q] === 69) {
    q++;
    if (buf[q] === 43 || buf[q] === 45) q++;
    const d = q;
    while (q < ce && buf[q]! >= 48 && buf[q]! <= 57) q++;
    if (q === d) return -1;
  }
  return q > ce ? -1 : q;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102));
}

/** The escapes JSON allows after a backslash, besides \uXXXX: " \ / b f n r t. */
const SIMPLE_ESCAPE = new Uint8Array(128);
const KEY_HASH_MASK = 0x3fffffff;
/** Role keys by the low bits of their hash, in an array: cheaper than a Map for a lookup per key of every TikTok row. */
const ROLE_SLOTS = 1024;
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

/** Kept to 30 bits, so it is always a small integer in V8 (a Smi), never a heap number. */
function keyHash(buf: Uint8Array, s: number, e: number): number {
  let h = 0;
  for (let i = s; i < e; i++) h = (Math.imul(h, 31) + buf[i]!) & KEY_HASH_MASK;
  return h;
}

/** What an NDJSON anonymizer looks keys and names up in: made once per row policy, shared by the anonymizers of every object. */
class NdjsonKeys {
  readonly roles = new Map<string, KeyRole>();
  /** The keys that matter as a plain JSON writer writes them (quotes included), compared as bytes. */
  readonly roleBytes: { bytes: Buffer; role: KeyRole }[] = [];
  readonly organicJson: Buffer;
  /** Role keys by a hash of their plain bytes (between the quotes), for the one-pass scan. */
  readonly roleByHash: ({ bytes: Buffer; role: KeyRole }[] | undefined)[] = new Array<undefined>(ROLE_SLOTS).fill(undefined);
  readonly networks: NetworkNames;

  constructor(policy: RowPolicy) {
    for (const c of policy.cleared) this.roles.set(c, KeyRole.Cleared);
    this.roles.set(policy.timeColumn, KeyRole.Time);
    this.roles.set(policy.networkColumn, KeyRole.Network);
    for (const [key, role] of this.roles) {
      const bytes = Buffer.from(JSON.stringify(key), 'utf8');
      this.roleBytes.push({ bytes, role });
      const plain = bytes.subarray(1, bytes.length - 1);
      // A key that JSON writes with an escape never matches a plain one: the full reader decodes it.
      if (plain.includes(BACKSLASH)) continue;
      (this.roleByHash[keyHash(plain, 0, plain.length) & (ROLE_SLOTS - 1)] ??= []).push({ bytes: plain, role });
    }
    this.organicJson = Buffer.from(JSON.stringify(policy.organic), 'utf8');
    this.networks = new NetworkNames(policy);
  }

  private static readonly byPolicy = new WeakMap<RowPolicy, NdjsonKeys>();
  static of(policy: RowPolicy): NdjsonKeys {
    let keys = NdjsonKeys.byPolicy.get(policy);
    if (!keys) NdjsonKeys.byPolicy.set(policy, (keys = new NdjsonKeys(policy)));
    return keys;
  }
}

export class NdjsonAnonymizer extends RecordStream {
  private readonly needles: NeedleScan;
  private readonly escapes = new NeedleScan(ESCAPE_NEEDLES);
  private readonly roles: ReadonlyMap<string, KeyRole>;
  private readonly roleBytes: readonly { bytes: Buffer; role: KeyRole }[];
  private readonly organicJson: Buffer;
  private readonly roleByHash: readonly ({ bytes: Buffer; role: KeyRole }[] | undefined)[];
  private readonly networks: NetworkNames;
  /** Where the last line's member values start and end, as scanLine or scanShaped read them. */
  private at = new Int32Array(2 * 64);
  /** The next backslash in the current buffer at or after the last search (Infinity: none). */
  private nextBackslash = -1;
  /** Per member: its role, plus 4 when its value is a string with an escape. */
  private roleAt = new Uint8Array(64);
  /** The last line's network and time members as read by scanLine (the last of each, as JSON.parse keeps), or -1. */
  private netMember = -1;
  private timeMember = -1;
  /**
   * The first needle or escape at or after `hitFrom`, as skipPlain found it: handle() of the
   * line that starts there need not search again. -1: not known.
   */
  private hitFrom = -1;
  private hit = 0;
  /** Whether the last string stringEnd read had an escape (4) or not (0). */
  private escapedValue = 0;
  /**
   * The shape of the last line scanLine read (scanShaped): the bytes between its values
   * ("glue"), glue i ending at shapeEnds[i] and the closing part at shapeEnds[shapeN]; each
   * member's role; its network and time members. shapeN -1: none yet.
   */
  private shapeGlue: Buffer = EMPTY;
  private shapeEnds = new Int32Array(0);
  private shapeRoles = new Uint8Array(0);
  private shapeN = -1;
  private shapeNet = -1;
  private shapeTime = -1;

  constructor(
    private readonly policy: RowPolicy,
    private readonly source: string,
  ) {
    super();
    this.needles = new NeedleScan(policy.needles);
    const keys = NdjsonKeys.of(policy);
    this.roles = keys.roles;
    this.roleBytes = keys.roleBytes;
    this.organicJson = keys.organicJson;
    this.roleByHash = keys.roleByHash;
    this.networks = keys.networks;
  }

  private roleOfPlain(buf: Buffer, s: number, e: number, h: number): KeyRole {
    const list = this.roleByHash[h & (ROLE_SLOTS - 1)];
    if (list === undefined) return KeyRole.Other;
    const len = e - s;
    for (let k = 0; k < list.length; k++) {
      const { bytes, role } = list[k]!;
      if (bytes.length !== len) continue;
      let i = 0;
      while (i < len && bytes[i] === buf[s + i]) i++;
      if (i === len) return role;
    }
    return KeyRole.Other;
  }

  /**
   * The line [s, ce) read in one pass over its bytes when it is one flat JSON object whose
   * keys have no escape (what writers produce): the number of members, their positions in
   * `at` and roles in `roleAt`. -1: anything else (an escaped key, a nested value, a line
   * that is not plainly valid), for the full reader (jsonMembers, then JSON.parse).
   */
  private scanLine(buf: Buffer, s: number, ce: number): number {
    this.netMember = -1;
    this.timeMember = -1;
    let p = s;
    let c = buf[p];
    while (p < ce && (c === 32 || c === 9 || c === 13)) c = buf[++p];
    if (p >= ce || c !== OPEN_BRACE) return -1;
    p++;
    while (p < ce && isJsonSpace(buf[p])) p++;
    let n = 0;
    if (buf[p] === CLOSE_BRACE && p < ce) p++;
    else
      for (;;) {
        if (p >= ce || buf[p] !== QUOTE) return -1;
        const ks = p++;
        let h = 0;
        for (;;) {
          if (p >= ce) return -1;
          c = buf[p]!;
          if (c === QUOTE) break;
          if (c === BACKSLASH) return -1;
          h = (Math.imul(h, 31) + c) & KEY_HASH_MASK;
          p++;
        }
        const ke = ++p;
        while (p < ce && isJsonSpace(buf[p])) p++;
        if (p >= ce || buf[p] !== COLON) return -1;
        p++;
        while (p < ce && isJsonSpace(buf[p])) p++;
        const vs = p;
        p = this.valueEnd(buf, p, ce);
        if (p < 0) return -1;
        const escaped = this.escapedValue;
        if (n === this.roleAt.length) {
          const at = new Int32Array(this.at.length * 2);
          at.set(this.at);
          this.at = at;
          const roles = new Uint8Array(this.roleAt.length * 2);
          roles.set(this.roleAt);
          this.roleAt = roles;
        }
        this.at[n * 2] = vs;
        this.at[n * 2 + 1] = p;
        const role = this.roleOfPlain(buf, ks + 1, ke - 1, h);
        if (role === KeyRole.Network) this.netMember = n;
        else if (role === KeyRole.Time) this.timeMember = n;
        this.roleAt[n] = role | escaped;
        n++;
        while (p < ce && isJsonSpace(buf[p])) p++;
        if (p >= ce) return -1;
        c = buf[p]!;
        if (c === COMMA) {
          p++;
          while (p < ce && isJsonSpace(buf[p])) p++;
          continue;
        }
        if (c !== CLOSE_BRACE) return -1;
        p++;
        break;
      }
    while (p < ce && isJsonSpace(buf[p])) p++;
    return p === ce ? n : -1;
  }

  /** Index after the string, number or literal at `p`, or -1; `escapedValue` as stringEnd sets it (0 but for a string with an escape). */
  private valueEnd(buf: Buffer, p: number, ce: number): number {
    if (buf[p] === QUOTE && p < ce) return this.stringEnd(buf, p, ce);
    this.escapedValue = 0;
    return scalarEnd(buf, p, ce);
  }

  /**
   * Index after the JSON string whose opening quote is at `p`, or -1 when it is not one;
   * `escapedValue` says whether it had an escape (4) or not (0). Its end by one search
   * (values are longer than keys); byte by byte only when a backslash comes first.
   */
  private stringEnd(buf: Buffer, p: number, ce: number): number {
    p++;
    this.escapedValue = 0;
    const q = buf.indexOf(QUOTE, p);
    if (q === -1 || q >= ce) return -1;
    if (this.nextBackslash < p) {
      const b = buf.indexOf(BACKSLASH, p);
      this.nextBackslash = b === -1 ? Infinity : b;
    }
    if (this.nextBackslash > q) return q + 1;
    for (;;) {
      if (p >= ce) return -1;
      const c = buf[p]!;
      if (c === QUOTE) return p + 1;
      if (c === BACKSLASH) {
        this.escapedValue = 4;
        const x = buf[p + 1]!;
        if (x === 117) {
          if (!isHex(buf[p + 2]) || !isHex(buf[p + 3]) || !isHex(buf[p + 4]) || !isHex(buf[p + 5])) return -1;
          p += 6;
        } else if (x < 128 && SIMPLE_ESCAPE[x] === 1) p += 2;
        else return -1;
        continue;
      }
      p++;
    }
  }

  /**
   * The line [s, ce) read as the last line scanLine read in full (its shape): the same bytes
   * between the values (`{"key":`, `,"key":`, spacing, the closing `}`), each value read by
   * the same grammar. Writers write every row of a file alike, so most TikTok lines are read
   * without hashing and looking up their keys. -1: the line differs anywhere (scanLine decides).
   */
  private scanShaped(buf: Buffer, s: number, ce: number): number {
    const n = this.shapeN;
    const glue = this.shapeGlue;
    const ends = this.shapeEnds;
    const roles = this.shapeRoles;
    const at = this.at;
    const roleAt = this.roleAt;
    let p = s;
    let g = 0;
    for (let i = 0; i < n; i++) {
      const ge = ends[i]!;
      if (p + (ge - g) >= ce) return -1;
      while (g < ge) {
        if (buf[p] !== glue[g]) return -1;
        p++;
        g++;
      }
      const vs = p;
      p = this.valueEnd(buf, p, ce);
      if (p < 0) return -1;
      const escaped = this.escapedValue;
      at[i * 2] = vs;
      at[i * 2 + 1] = p;
      roleAt[i] = roles[i]! | escaped;
    }
    const te = ends[n]!;
    if (p + (te - g) !== ce) return -1;
    while (g < te) {
      if (buf[p] !== glue[g]) return -1;
      p++;
      g++;
    }
    this.netMember = this.shapeNet;
    this.timeMember = this.shapeTime;
    return n;
  }

  /** Keeps the line scanLine just read (n > 0 members) as the shape the next lines are tried against. */
  private learnShape(buf: Buffer, s: number, ce: number, n: number): void {
    const at = this.at;
    let len = ce - s;
    for (let i = 0; i < n; i++) len -= at[i * 2 + 1]! - at[i * 2]!;
    if (this.shapeGlue.length < len) this.shapeGlue = Buffer.allocUnsafe(Math.max(len, 256));
    if (this.shapeEnds.length < n + 1) {
      this.shapeEnds = new Int32Array(2 * (n + 1));
      this.shapeRoles = new Uint8Array(2 * (n + 1));
    }
    let g = 0;
    let from = s;
    for (let i = 0; i < n; i++) {
      const vs = at[i * 2]!;
      buf.copy(this.shapeGlue, g, from, vs);
      g += vs - from;
      this.shapeEnds[i] = g;
      this.shapeRoles[i] = this.roleAt[i]! & 3;
      from = at[i * 2 + 1]!;
    }
    buf.copy(this.shapeGlue, g, from, ce);
    this.shapeEnds[n] = g + (ce - from);
    this.shapeN = n;
    this.shapeNet = this.netMember;
    this.shapeTime = this.timeMember;
  }

  /** A line scanLine read (n members): decided from its bytes, and rewritten in place if past the window. */
  private scanned(buf: Buffer, s: number, e: number, n: number): void {
    const at = this.at;
    const roleAt = this.roleAt;
    const net = this.netMember;
    const time = this.timeMember;
    if (net === -1) return;
    const nvs = at[net * 2]!;
    const nve = at[net * 2 + 1]!;
    const bounds = buf[nvs] === QUOTE && (roleAt[net]! & 4) === 0 ? this.networks.match(buf, nvs + 1, nve - 1) : undefined;
    let decision: RowDecision;
    if (bounds === undefined) {
      // Not exactly a TikTok name as plain bytes: decoded and decided as the full reader would.
      const tvs = time === -1 ? -1 : at[time * 2]!;
      decision = decideRow(this.policy, jsonValue(buf, nvs, nve), tvs === -1 ? undefined : jsonValue(buf, tvs, at[time * 2 + 1]!));
    } else if (time === -1) decision = decideTimeBytes(this.policy, bounds, buf, -1, -1);
    else {
      const tvs = at[time * 2]!;
      const tve = at[time * 2 + 1]!;
      if (buf[tvs] === QUOTE && (roleAt[time]! & 4) === 0) decision = decideTimeBytes(this.policy, bounds, buf, tvs + 1, tve - 1);
      else {
        const t = parseAttributionTime(jsonValue(buf, tvs, tve), this.policy.timeFormat);
        decision = t === undefined ? { kind: 'unreadable_time' } : decideAt(this.policy, bounds, t);
      }
    }
    if (decision.kind === 'other') return;
    if (decision.kind === 'unreadable_time') return this.unreadable('attribution time is not a time');
    if (decision.kind === 'within_window') return this.noteDue(decision.expiresAtMs);
    this.counts.rowsAnonymized++;
    this.rewriteFrom(buf, s);
    let from = s;
    for (let i = 0; i < n; i++) {
      const role = roleAt[i]! & 3;
      const bytes = role === KeyRole.Network ? this.organicJson : role === KeyRole.Cleared ? EMPTY_JSON_STRING : null;
      if (!bytes) continue;
      this.put(buf, from, at[i * 2]!);
      this.put(bytes, 0, bytes.length);
      from = at[i * 2 + 1]!;
    }
    this.put(buf, from, e);
    this.rewriteTo(e);
  }

  private roleOf(buf: Buffer, ks: number, ke: number): KeyRole {
    const len = ke - ks;
    // A loop in JavaScript: keys are short, and Buffer.compare's call costs more than the bytes.
    for (const { bytes, role } of this.roleBytes) {
      if (bytes.length !== len) continue;
      let i = 1;
      while (i < len && bytes[i] === buf[ks + i]) i++;
      if (i === len) return role;
    }
    // Written another way (an escape): decoded. Plain keys that matched nothing above are other keys.
    const bs = buf.indexOf(BACKSLASH, ks);
    if (bs === -1 || bs >= ke) return KeyRole.Other;
    return this.roles.get(JSON.parse(buf.toString('utf8', ks, ke)) as string) ?? KeyRole.Other;
  }

  protected begin(buf: Buffer): void {
    this.needles.reset(buf);
    this.escapes.reset(buf);
    this.nextBackslash = -1;
    this.hitFrom = -1;
  }

  protected recordEnd(buf: Buffer, s: number): number {
    return buf.indexOf(NL, s);
  }

  /**
   * Lines before the next needle or escape are neither TikTok's nor read in full: counted
   * (blank ones not) without going through handle(), the bulk of most files, and all of a
   * count check's after its rewrites.
   */
  protected override skipPlain(buf: Buffer, s: number): number {
    const needle = this.needles.nextFrom(s);
    if (needle === -1) return s;
    const escape = this.escapes.nextFrom(s);
    const hit = escape < needle ? escape : needle;
    const counts = this.counts;
    for (;;) {
      const nl = buf.indexOf(NL, s);
      if (nl === -1 || nl >= hit) {
        this.hitFrom = s;
        this.hit = hit;
        return s;
      }
      this.record++;
      let c = buf[s]!;
      if (c === 32 || c === 9 || c === CR || c === NL) {
        let p = s;
        while (p < nl && (c === 32 || c === 9)) c = buf[++p]!;
        // Blank: nothing but spaces and tabs before the line ending (CR LF or LF).
        if (!(p === nl || (c === CR && p + 1 === nl))) counts.rowsSeen++;
      } else counts.rowsSeen++;
      s = nl + 1;
    }
  }

  protected handle(buf: Buffer, s: number, e: number, terminated: boolean): void {
    this.record++;
    const ce = this.contentEnd(buf, s, e, terminated);
    let p = s;
    while (p < ce && (buf[p] === 32 || buf[p] === 9)) p++;
    if (p === ce) return; // a blank line: not a row
    this.counts.rowsSeen++;
    // A writer may escape any character as \uXXXX, so a line with an escape is read in full.
    if (this.hitFrom === s ? this.hit >= e : !this.needles.any(s, e) && !this.escapes.any(s, e)) return;
    let n = this.shapeN > 0 ? this.scanShaped(buf, s, ce) : -1;
    if (n < 0) {
      n = this.scanLine(buf, s, ce);
      if (n > 0) this.learnShape(buf, s, ce, n);
    }
    if (n >= 0) return this.scanned(buf, s, e, n);
    const members = jsonMembers(buf, s, ce);
    if (members) this.spliced(buf, s, e, members);
    else this.reserialized(buf, s, e, ce);
  }

  /**
   * A plain line: the network and time read from their members' bytes, and a rewritten row
   * changes only the bytes of the network's and the cleared members' values, so every other
   * byte (spacing, key order, numbers as written) stays. Duplicate keys: the last decides, as
   * in JSON.parse, and every occurrence is rewritten.
   */
  private spliced(buf: Buffer, s: number, e: number, m: number[]): void {
    let net: unknown;
    let time: unknown;
    const roles: KeyRole[] = [];
    for (let i = 0; i < m.length; i += 4) {
      const role = this.roleOf(buf, m[i]!, m[i + 1]!);
      roles.push(role);
      if (role === KeyRole.Network) net = jsonValue(buf, m[i + 2]!, m[i + 3]!);
      else if (role === KeyRole.Time) time = jsonValue(buf, m[i + 2]!, m[i + 3]!);
    }
    const decision = decideRow(this.policy, net, time);
    if (decision.kind === 'other') return;
    if (decision.kind === 'unreadable_time') return this.unreadable('attribution time is not a time');
    if (decision.kind === 'within_window') return this.noteDue(decision.expiresAtMs);
    this.counts.rowsAnonymized++;
    this.rewriteFrom(buf, s);
    let at = s;
    for (let i = 0; i < m.length; i += 4) {
      const role = roles[i / 4];
      const bytes = role === KeyRole.Network ? this.organicJson : role === KeyRole.Cleared ? EMPTY_JSON_STRING : null;
      if (!bytes) continue;
      this.put(buf, at, m[i + 2]!);
      this.put(bytes, 0, bytes.length);
      at = m[i + 3]!;
    }
    this.put(buf, at, e);
    this.rewriteTo(e);
  }

  /** A line the member scan cannot read: parsed whole (so its failure is JSON.parse's), and re-serialized if rewritten. */
  private reserialized(buf: Buffer, s: number, e: number, ce: number): void {
    let row: unknown;
    try {
      row = JSON.parse(buf.toString('utf8', s, ce));
    } catch {
      return this.unreadable('not a JSON line');
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return this.unreadable('not a JSON object');
    const obj = row as Record<string, unknown>;
    const decision = decideRow(this.policy, obj[this.policy.networkColumn], obj[this.policy.timeColumn]);
    if (decision.kind === 'other') return;
    if (decision.kind === 'unreadable_time') return this.unreadable('attribution time is not a time');
    if (decision.kind === 'within_window') return this.noteDue(decision.expiresAtMs);
    this.counts.rowsAnonymized++;
    obj[this.policy.networkColumn] = this.policy.organic;
    for (const c of this.policy.cleared) if (c in obj) obj[c] = '';
    this.replace(buf, s, e, Buffer.concat([Buffer.from(JSON.stringify(obj), 'utf8'), buf.subarray(ce, e)]));
  }

  /** `source` names the object in errors. */
  get name(): string {
    return this.source;
  }
}

export function anonymizerFor(format: 'csv' | 'ndjson', policy: RowPolicy, delimiter: string, source: string): Anonymizer {
  return format === 'csv' ? new CsvAnonymizer(policy, delimiter, source) : new NdjsonAnonymizer(policy, source);
}

/** Runs a whole in-memory object through an anonymizer (tests, small objects). */
export function anonymizeBuffer(a: Anonymizer, data: Buffer): Buffer {
  return Buffer.concat([a.push(data), a.end()]);
}
