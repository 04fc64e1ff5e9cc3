/**
 * A small CSV tokenizer (RFC 4180 plus the quirks of real exports: CRLF, `;`/tab
 * delimiters, quotes doubled inside quoted fields, newlines inside quoted fields).
 *
 * Hand-written rather than a library because the snapshot path must sustain ~1M rows/s on
 * one core, and a line without quotes (nearly every line of an identifier export) is
 * split here with native indexOf calls and one slice per field; general-purpose CSV
 * parsers walk every character through a state machine and allocate a record object
 * per row. Only lines that contain a quote take the character-level path.
 *
 * It works on decoded text chunks and only ever emits complete records; an incomplete
 * trailing record stays in the caller's buffer until more text (or the end) arrives.
 */

export interface CsvRecordSink {
  /** `fields[0..count)` hold the record's fields (the array is reused: copy what you keep). */
  record(fields: string[], count: number, line: number): void;
  /** A record that cannot be tokenized; `problem` describes it without quoting content. */
  malformed(line: number, problem: string): void;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

export class CsvTokenizer {
  /** 1-based line on which the next record starts. */
  line: number;
  private readonly fields: string[] = [];
  private readonly delimChar: string;

  constructor(
    readonly delimiter: number,
    startLine = 1,
  ) {
    this.line = startLine;
    this.delimChar = String.fromCharCode(delimiter);
  }

  /**
   * Tokenizes complete records of `text` from index 0. With `final` false, stops before
   * a record whose end is not in `text` and returns its start index (the caller keeps
   * text.slice(index)); with `final` true, the rest of the text is the last record.
   */
  push(text: string, final: boolean, sink: CsvRecordSink): number {
    const n = text.length;
    // Always pass indexOf a position: on Node 20, `text.indexOf('"')` without one made the
    // loop ~50x slower in some runs.
    this.nextQuote = text.indexOf('"', 0);
    let pos = 0;
    // One call per record, not one long loop here: a single call that loops over a
    // whole piece depends on V8's on-stack replacement to get optimized, and measured
    // runs stayed in the interpreter (4x slower) about half the time.
    while (pos < n) {
      const next = this.nextRecord(text, pos, final, sink);
      if (next < 0) return pos; // incomplete: wait for more text
      pos = next;
    }
    return n;
  }

  private nextQuote = -1;

  /** Tokenizes the record at `pos`; returns the index after it, or -1 if it is incomplete. */
  private nextRecord(text: string, pos: number, final: boolean, sink: CsvRecordSink): number {
    const n = text.length;
    let lineEnd = text.indexOf('\n', pos);
    if (lineEnd < 0) {
      if (!final) return -1;
      lineEnd = n;
    }
    let q = this.nextQuote;
    if (q >= 0 && q < pos) this.nextQuote = q = text.indexOf('"', pos);
    if (q >= 0 && q < lineEnd) return this.quotedRecord(text, pos, final, sink);
    // Fast path: no quote on this line.
    let end = lineEnd;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    this.line++;
    if (end === pos) return lineEnd + 1; // blank line: no record
    const d = this.delimChar;
    const fields = this.fields;
    let count = 0;
    let start = pos;
    for (;;) {
      const k = text.indexOf(d, start);
      if (k < 0 || k >= end) {
        fields[count++] = text.slice(start, end);
        break;
      }
      fields[count++] = text.slice(start, k);
      start = k + 1;
    }
    sink.record(fields, count, this.line - 1);
    return lineEnd + 1;
  }

  /** Character-level path for a record containing quotes. Returns the index after it, or -1 if incomplete. */
  private quotedRecord(text: string, pos: number, final: boolean, sink: CsvRecordSink): number {
    const n = text.length;
    const d = this.delimiter;
    const fields = this.fields;
    const startLine = this.line;
    let lines = 0;
    let count = 0;
    let i = pos;
    for (;;) {
      // At the start of a field.
      if (text.charCodeAt(i) === QUOTE) {
        let value = '';
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            if (!final) return -1;
            lines += countNewlines(text, j, n);
            this.line = startLine + lines + 1;
            sink.malformed(startLine, 'quoted field is never closed');
            return n;
          }
          lines += countNewlines(text, j, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(j, q + 1);
            j = q + 2;
            continue;
          }
          value += text.slice(j, q);
          i = q + 1;
          break;
        }
        fields[count++] = value;
        const c = i < n ? text.charCodeAt(i) : -1;
        if (c === d) {
          i++;
          continue;
        }
        if (c === LF || (c === CR && text.charCodeAt(i + 1) === LF)) {
          sink.record(fields, count, startLine);
          i += c === CR ? 2 : 1;
          this.line = startLine + lines + 1;
          return i;
        }
        if (c === -1 || (c === CR && i + 1 >= n)) {
          if (!final) return -1;
          sink.record(fields, count, startLine);
          this.line = startLine + lines + 1;
          return n;
        }
        // Text after a closing quote: the row cannot be split reliably; skip to the end of its line.
        return this.skipMalformed(text, i, final, startLine, lines, sink, 'unexpected text after a closing quote');
      }
      // Unquoted field: a quote inside it is taken literally (lenient, like most exporters' readers).
      let k = i;
      while (k < n) {
        const c = text.charCodeAt(k);
        if (c === d || c === LF) break;
        k++;
      }
      if (k >= n && !final) return -1;
      let end = k;
      if (k >= n || text.charCodeAt(k) === LF) {
        if (end > i && text.charCodeAt(end - 1) === CR) end--;
        fields[count++] = text.slice(i, end);
        sink.record(fields, count, startLine);
        this.line = startLine + lines + 1;
        return k >= n ? n : k + 1;
      }
      fields[count++] = text.slice(i, end);
      i = k + 1;
    }
  }

  private skipMalformed(
    text: string,
    from: number,
    final: boolean,
    startLine: number,
    lines: number,
    sink: CsvRecordSink,
    problem: string,
  ): number {
    const nl = text.indexOf('\n', from);
    if (nl < 0 && !final) return -1;
    sink.malformed(startLine, problem);
    this.line = startLine + lines + 1;
    return nl < 0 ? text.length : nl + 1;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let c = 0;
  let i = text.indexOf('\n', from);
  while (i >= 0 && i < to) {
    c++;
    i = text.indexOf('\n', i + 1);
  }
  return c;
}

/**
 * Picks the delimiter from the header line: the candidate that finds the most mapped
 * column names, then the one that occurs most often; `,` when nothing decides.
 */
export function detectDelimiter(headerLine: string, wanted: readonly string[]): ',' | ';' | '\t' {
  const candidates = [',', ';', '\t'] as const;
  let best: ',' | ';' | '\t' = ',';
  let bestScore = -1;
  let bestCount = -1;
  for (const c of candidates) {
    const names = splitHeaderLine(headerLine, c);
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

function splitHeaderLine(line: string, d: string): string[] {
  const out: string[] = [];
  const t = new CsvTokenizer(d.charCodeAt(0));
  t.push(line, true, {
    record: (f, count) => {
      for (let i = 0; i < count; i++) out.push((f[i] ?? '').trim());
    },
    malformed: () => undefined,
  });
  return out;
}
