/**
 * CSV tokenizer (RFC 4180 quoting, LF or CRLF) over UTF-8 bytes: it reports each record's
 * fields as byte ranges of the input, so a field becomes a string only if someone needs
 * one (the identifier rules read the bytes themselves; see IdentifierHasher.addBytes).
 *
 * One pass per record with a byte-class table: ordinary bytes cost one load and one
 * compare. Field delimiters and line ends are ASCII, so ranges always cut UTF-8 between
 * characters. It only ever emits complete records; an incomplete trailing record stays in
 * the caller's buffer until more input (or the end) arrives.
 */

/** A record's fields: field i is bytes [starts[i], ends[i]) unless texts[i] holds its value. */
export class CsvFields {
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** A quoted field with doubled quotes, unescaped; null when the byte range is the value. */
  texts: Array<string | null> = [];
  /**
   * Nonzero when the field holds `;`, `|` or `[` (outside the delimiter): it may be a
   * multi-value cell, which the string rules split (flatten.ts).
   */
  marks = new Uint8Array(64);

  /** The field's value as a string. */
  text(buf: Buffer, i: number): string {
    return this.texts[i] ?? buf.toString('utf8', this.starts[i]!, this.ends[i]!);
  }

  /** Field i spans bytes [start, end) (`text`: its unescaped value when it is not that range). */
  set(i: number, start: number, end: number, mark: number, text: string | null): void {
    if (i + 1 >= this.starts.length) this.grow();
    this.starts[i] = start;
    this.ends[i] = end;
    this.marks[i] = mark;
    this.texts[i] = text;
  }

  grow(): void {
    const n = this.starts.length * 2;
    const s = new Int32Array(n);
    s.set(this.starts);
    const e = new Int32Array(n);
    e.set(this.ends);
    const m = new Uint8Array(n);
    m.set(this.marks);
    this.starts = s;
    this.ends = e;
    this.marks = m;
  }
}

export interface CsvRecordSink {
  /**
   * `fields[0..count)` of `buf` (the object is reused: copy what you keep). `scanIndex`:
   * the record's index in the scanner's output (after scanned()), or -1.
   */
  record(buf: Buffer, fields: CsvFields, count: number, line: number, scanIndex: number): void;
  /** The scanner found `found` records; their record() calls follow (scanIndex 0..found-1). */
  scanned?(found: number): void;
  /** A record that cannot be tokenized; `problem` describes it without quoting content. */
  malformed(line: number, problem: string): void;
}

/**
 * Finds plain records (no quotes, a line end in the input) in WebAssembly, for input
 * staged in its memory (Sha256HexQueue.scanCsv): the byte loop is the tokenizer's cost.
 */
export interface CsvScanner {
  scanCsv(p: number, n: number, delimiter: number): number;
  scanOut(): Uint32Array;
  readonly scanIndex: number;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

const C_DELIM = 1;
const C_LF = 2;
const C_QUOTE = 3;
const C_MARK = 4;

export class CsvTokenizer {
  /** 1-based line on which the next record starts. */
  line: number;
  private readonly fields = new CsvFields();
  private readonly classes = new Uint8Array(256);

  constructor(
    readonly delimiter: number,
    startLine = 1,
    /** Set when every buffer pushed lies in the scanner's memory (its byteOffset is its address there). */
    private readonly scanner: CsvScanner | null = null,
  ) {
    this.line = startLine;
    for (const c of [59, 124, 91]) this.classes[c] = C_MARK; // ; | [
    this.classes[delimiter] = C_DELIM;
    this.classes[LF] = C_LF;
    this.classes[QUOTE] = C_QUOTE;
  }

  /**
   * Tokenizes complete records of buf[start, end). With `final` false, stops before a
   * record whose end is not there and returns its start (the caller keeps the bytes from
   * it); with `final` true, the rest is the last record. Returns where it stopped.
   */
  push(buf: Buffer, start: number, end: number, final: boolean, sink: CsvRecordSink): number {
    let pos = start;
    const scanner = this.scanner;
    // One call per record, not one long loop here: a single call that loops over a
    // whole piece depends on V8's on-stack replacement to get optimized.
    while (pos < end) {
      if (scanner !== null) {
        const base = buf.byteOffset;
        const found = scanner.scanCsv(base + pos, base + end, this.delimiter);
        if (found > 0) {
          pos = this.scanned(scanner, buf, found, sink);
          continue;
        }
      }
      const next = this.nextRecord(buf, pos, end, final, sink);
      if (next < 0) return pos;
      pos = next;
    }
    return end;
  }

  /** Emits the `found` records the scanner wrote; returns the index after the last one. */
  private scanned(scanner: CsvScanner, buf: Buffer, found: number, sink: CsvRecordSink): number {
    const base = buf.byteOffset;
    const v = scanner.scanOut();
    const f = this.fields;
    let k = scanner.scanIndex;
    let pos = 0;
    sink.scanned?.(found);
    for (let r = 0; r < found; r++) {
      pos = v[k]! - base;
      const count = v[k + 1]!;
      k += 2;
      const line = this.line++;
      if (count === 0) continue; // blank line: no record
      while (count + 1 >= f.starts.length) f.grow();
      for (let i = 0; i < count; i++) {
        f.starts[i] = v[k]! - base;
        f.ends[i] = v[k + 1]! - base;
        f.marks[i] = v[k + 2]!;
        f.texts[i] = null;
        k += 3;
      }
      sink.record(buf, f, count, line, r);
    }
    return pos;
  }

  /** Tokenizes the record at `pos`; returns the index after it, or -1 if it is incomplete. */
  private nextRecord(buf: Buffer, pos: number, n: number, final: boolean, sink: CsvRecordSink): number {
    const cls = this.classes;
    const f = this.fields;
    const startLine = this.line;
    let lines = 0;
    let count = 0;
    let fieldStart = pos;
    let mark = 0;
    let i = pos;
    for (;;) {
      // Ordinary bytes: a tight loop of one table load each.
      while (i < n && cls[buf[i]!] === 0) i++;
      if (i >= n) {
        if (!final) return -1;
        break;
      }
      const k = cls[buf[i]!]!;
      if (k === C_DELIM) {
        f.set(count++, fieldStart, i, mark, null);
        fieldStart = ++i;
        mark = 0;
        continue;
      }
      if (k === C_LF) break;
      if (k === C_MARK) {
        mark = 1;
        i++;
        continue;
      }
      // A quote: literal inside an unquoted field (lenient, like most exporters' readers).
      if (i !== fieldStart) {
        i++;
        continue;
      }
      const r = this.quoted(buf, i, n, final);
      if (r === INCOMPLETE) return -1;
      if (r === NEVER_CLOSED) {
        lines += countLf(buf, i, n);
        this.line = startLine + lines + 1;
        sink.malformed(startLine, 'quoted field is never closed');
        return n;
      }
      lines += this.qLines;
      // After the closing quote: a delimiter, the line end, or the end of the input.
      const close = r;
      const c = close + 1 < n ? buf[close + 1]! : -1;
      if (c === this.delimiter || c === LF || c === -1 || (c === CR && (close + 2 < n ? buf[close + 2] === LF : close + 2 === n))) {
        if (c === -1 || (c === CR && close + 2 === n)) {
          if (!final) return -1;
        }
        f.set(count++, fieldStart + 1, close, this.qMark, this.qText);
        if (c === this.delimiter) {
          fieldStart = i = close + 2;
          mark = 0;
          continue;
        }
        sink.record(buf, f, count, startLine, -1);
        this.line = startLine + lines + 1;
        return c === -1 ? n : c === CR ? Math.min(n, close + 3) : close + 2;
      }
      // Text after a closing quote: the row cannot be split reliably; skip to the end of its line.
      let nl = close + 1;
      while (nl < n && buf[nl] !== LF) nl++;
      if (nl >= n && !final) return -1;
      sink.malformed(startLine, 'unexpected text after a closing quote');
      this.line = startLine + lines + 1;
      return nl >= n ? n : nl + 1;
    }
    // The record ends at i (a LF, or the end of the input).
    let end = i;
    if (end > fieldStart && buf[end - 1] === CR) end--;
    this.line = startLine + lines + 1;
    if (count === 0 && end === pos) return i + 1; // blank line: no record
    f.set(count++, fieldStart, end, mark, null);
    sink.record(buf, f, count, startLine, -1);
    return i >= n ? n : i + 1;
  }

  /** Newlines inside the last quoted field, its unescaped text (or null) and its mark. */
  private qLines = 0;
  private qText: string | null = null;
  private qMark = 0;

  /**
   * The quoted field opening at `open`: the index of its closing quote (qLines, qText and
   * qMark describe it), INCOMPLETE when its end is not in the input yet, NEVER_CLOSED.
   */
  private quoted(buf: Buffer, open: number, n: number, final: boolean): number {
    let lines = 0;
    let mark = 0;
    let doubled = false;
    let j = open + 1;
    for (;;) {
      if (j >= n) return final ? NEVER_CLOSED : INCOMPLETE;
      const c = buf[j]!;
      if (c === QUOTE) {
        if (j + 1 >= n && !final) return INCOMPLETE; // a doubled quote may follow
        if (buf[j + 1] === QUOTE && j + 1 < n) {
          doubled = true;
          j += 2;
          continue;
        }
        break;
      }
      if (c === LF) lines++;
      // Inside quotes the delimiter is text too, and `;` may then separate values.
      else if (c === 59 || c === 124 || c === 91) mark = 1;
      j++;
    }
    this.qLines = lines;
    this.qMark = mark;
    this.qText = doubled ? buf.toString('utf8', open + 1, j).replace(DOUBLED, '"') : null;
    return j;
  }
}

const INCOMPLETE = -1;
const NEVER_CLOSED = -2;
const DOUBLED = /""/g;

function countLf(b: Buffer, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) if (b[i] === LF) c++;
  return c;
}

/**
 * Picks the delimiter from the header line: the candidate that finds the most mapped
 * column names, then the one that occurs most often; `,` when nothing decides.
 */
export function detectDelimiter(headerLine: string, wanted: readonly string[]): ',' | ';' | '\t' {
  const candidates = [',', ';', '\t'] as const;
  const bytes = Buffer.from(headerLine, 'utf8');
  let best: ',' | ';' | '\t' = ',';
  let bestScore = -1;
  let bestCount = -1;
  for (const c of candidates) {
    const names = splitHeaderLine(bytes, c);
    const score = wanted.filter((w) => names.includes(w)).length;
    const count = names.length - 1;
    if (score > bestScore || (score === bestScore && count > bestCount)) {
      best = c;
      bestScore = score;
      bestCount = count;
    }
  }
  return best;
}

function splitHeaderLine(line: Buffer, d: string): string[] {
  const out: string[] = [];
  const t = new CsvTokenizer(d.charCodeAt(0));
  t.push(line, 0, line.length, true, {
    record: (buf, f, count) => {
      for (let i = 0; i < count; i++) out.push(f.text(buf, i).trim());
    },
    malformed: () => undefined,
  });
  return out;
}
