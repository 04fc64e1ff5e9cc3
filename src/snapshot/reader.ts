import { DigestList } from '../identifiers/digestList';
import { IdentifierHasher } from '../identifiers/hasher';
import type { Outcome } from '../identifiers/normalizer';
import { BATCH_CODE_SETS, BATCH_VALUES, Sha256HexQueue } from '../identifiers/sha256batch/sha256Batch';
import { SLOW } from '../identifiers/asciiRules';
import { isMultiValueCell, jsonArrayValues, splitMultiValueCell } from '../identifiers/flatten';
import { normalizeCountryCell } from '../identifiers/phone';
import { targetOfType, type IdentifierType } from '../identifiers/schema';
import { countOutcome, newTypeCounts, type SnapshotCounts, type TypeCounts } from './counts';
import { CsvTokenizer, detectDelimiter, type CsvFields, type CsvRecordSink } from './csvTokenizer';
import { SnapshotFormatError } from './errors';
import type { RejectRecord, RowRejectReason } from './rejects';
import {
  SnapshotReadOptionsSchema,
  type CsvDelimiter,
  type SnapshotPosition,
  type SnapshotReadOptions,
} from './schema';
import { firstInvalidUtf8, incompleteTailLength, isValidUtf8 } from './utf8';

/**
 * Digests of one identifier type found in one batch, in file order, as hex bytes (raw
 * bytes with SnapshotReaderLimits.rawDigests). The
 * list's memory is reused two batches later: consume (copy) it before asking for more.
 */
export interface TypeDigests {
  type: IdentifierType;
  digests: DigestList;
}

/** What one step of reading produced; `position` is where to resume after it. */
export interface SnapshotBatch {
  digests: TypeDigests[];
  rejects: RejectRecord[];
  position: SnapshotPosition;
}

export interface SnapshotReaderLimits {
  /** Largest record (row) accepted, in UTF-16 code units; bounds memory on broken quoting. */
  maxRecordChars?: number;
  /** Input is processed (and a batch emitted) at most this many bytes at a time. */
  maxPieceBytes?: number;
  /**
   * Digests as their raw bytes (DigestList.raw: 32 a SHA-256, 16 an MD5) instead of hex:
   * the data plane stores raw digests, and the kernel writes them so directly (no hex
   * written, then decoded per digest).
   */
  rawDigests?: boolean;
}

/**
 * One type's digests for the batch being built. SHA-256 digests are computed a thousand
 * at a time (IdentifierHasher, one queue for all types): a slot may hold '' until the
 * queue runs, which it does before the batch is handed out.
 */
interface DigestSink extends TypeDigests {
  spare: DigestList;
}

const DEFAULT_MAX_RECORD = 1 << 20;
const DEFAULT_MAX_PIECE = 1 << 20;

interface ColumnPlan {
  column: string;
  type: IdentifierType;
  hasher: IdentifierHasher;
  /** The hasher works on this reader's queue, where CSV pieces are staged. */
  staged: boolean;
  counts: TypeCounts;
  /** Shared by every column of the same type: this batch's digests of that type. */
  sink: DigestSink;
  /** CSV: field index once the header is known. */
  index: number;
  /** Code set of this column in scan batches (scanBatch), or -1: the per-value path. */
  set: number;
}

/**
 * Streams a CSV or NDJSON snapshot: decodes and validates UTF-8, tokenizes records, maps
 * columns, flattens multi-value cells, normalizes and hashes every identifier. Memory is
 * bounded by one input piece plus one batch, whatever the file size: the caller consumes
 * each batch (shards it, writes rejects, heartbeats `position`) before the next is made.
 *
 *     const reader = new SnapshotReader('gs://b/snap.csv', options);
 *     for await (const batch of reader.read(stream)) { ... }
 *     reader.counts // summary
 */
export class SnapshotReader {
  readonly counts: SnapshotCounts = { rows: 0, rowsRejected: {}, types: {} };
  private readonly opts: ReturnType<typeof SnapshotReadOptionsSchema.parse>;
  private readonly plans: ColumnPlan[];
  private readonly countryColumn: string | undefined;
  private countryIndex = -1;
  private header: string[] | undefined;
  private delimiter: CsvDelimiter | undefined;
  private tokenizer: CsvTokenizer | undefined;
  private line: number;
  private readonly maxRecordChars: number;
  private readonly maxPieceBytes: number;
  private readonly raw: boolean;
  /** Bytes of one digest of a scan batch in the kernel memory (hex 64, raw 32). */
  private readonly scanStride: number;
  private readonly sinks = new Map<IdentifierType, DigestSink>();
  private readonly queue = new Sha256HexQueue();
  /** Where the scan batch's codes start, in i32 words. */
  private readonly codesAt: number;
  private rejects: RejectRecord[] = [];
  private sawRecord = false;

  constructor(
    /** Names the file in errors (a path or URI; never file content). */
    readonly source: string,
    options: SnapshotReadOptions,
    private readonly resume?: SnapshotPosition,
    limits: SnapshotReaderLimits = {},
  ) {
    this.opts = SnapshotReadOptionsSchema.parse(options);
    this.maxRecordChars = limits.maxRecordChars ?? DEFAULT_MAX_RECORD;
    this.maxPieceBytes = limits.maxPieceBytes ?? DEFAULT_MAX_PIECE;
    this.raw = limits.rawDigests === true;
    this.scanStride = this.raw ? 32 : 64;
    const list = (type: IdentifierType): DigestList => (this.raw ? new DigestList(hexWidth(type) >>> 1, 1024, true) : new DigestList(hexWidth(type)));
    this.countryColumn = this.opts.mapping.countryColumn;
    const hashers = new Map<IdentifierType, IdentifierHasher>();
    this.plans = this.opts.mapping.identifiers.map((c) => {
      let h = hashers.get(c.type);
      if (!h) hashers.set(c.type, (h = new IdentifierHasher(targetOfType(c.type), this.opts.normalization, this.queue)));
      const counts = (this.counts.types[c.type] ??= newTypeCounts());
      let sink = this.sinks.get(c.type);
      if (!sink)
        this.sinks.set(
          c.type,
          (sink = { type: c.type, digests: list(c.type), spare: list(c.type) }),
        );
      return { column: c.column, type: c.type, hasher: h, staged: h.sharesQueue, counts, sink, index: -1, set: -1 };
    });
    let sets = 0;
    for (const p of this.plans) {
      // A row's own country decides its phone: not something the batch knows.
      if (!p.staged || sets === BATCH_CODE_SETS || (p.hasher.kind === 'phone' && this.countryColumn !== undefined)) continue;
      p.set = sets++;
    }
    this.codesAt = this.queue.batchCodes >>> 2;
    this.line = resume?.line ?? 1;
    if (resume) {
      this.counts.rows = resume.rows;
      if (this.opts.format === 'csv') {
        if (!resume.header) throw new RangeError('resuming a CSV snapshot needs the header from the saved position');
        const d = resume.delimiter ?? this.opts.delimiter ?? ',';
        this.useHeader(resume.header, d, 1);
        this.tokenizer = new CsvTokenizer(d.charCodeAt(0), this.line, this.queue);
      }
      this.sawRecord = true;
    }
  }

  /** Reads the whole input, yielding one batch per processed piece (at most maxPieceBytes). */
  async *read(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<SnapshotBatch, SnapshotCounts> {
    let pending: Buffer | null = null;
    // The unconsumed start of a record, kept as bytes and decoded together with the next
    // piece: a string concatenation would make a V8 cons string, and indexOf on a cons
    // string walks it character by character (measured ~70 ms per MiB instead of <1 ms).
    let leftover: Buffer = Buffer.alloc(0);
    let atStart = !this.resume;
    // Absolute byte offset in the object of the end of the bytes received so far.
    let received = this.resume?.byteOffset ?? 0;

    for await (const chunk of input) {
      const whole = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let off = 0; off < whole.length; off += this.maxPieceBytes) {
        let piece = whole.subarray(off, Math.min(whole.length, off + this.maxPieceBytes));
        received += piece.length;
        if (pending) {
          piece = Buffer.concat([pending, piece]);
          pending = null;
        }
        if (atStart) {
          if (piece.length < 3 && piece.length > 0 && isBomPrefix(piece)) {
            pending = Buffer.from(piece);
            continue;
          }
          atStart = false;
          if (piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf) piece = piece.subarray(3);
        }
        const tail = incompleteTailLength(piece);
        const body = tail ? piece.subarray(0, piece.length - tail) : piece;
        if (tail) pending = Buffer.from(piece.subarray(piece.length - tail));
        this.checkText(body, leftover);
        const bytes = this.stage(leftover, body);
        const restBytes = this.parse(bytes, false);
        if (restBytes > this.maxRecordChars && utf16Length(bytes, bytes.length - restBytes, bytes.length) > this.maxRecordChars)
          throw new SnapshotFormatError(
            this.source,
            this.line,
            `a record is longer than ${this.maxRecordChars} characters (a quoted field that is never closed?)`,
          );
        // Copied so the piece's buffer is not kept alive by a small tail.
        leftover = Buffer.from(bytes.subarray(bytes.length - restBytes));
        yield this.takeBatch(received - (pending?.length ?? 0) - restBytes);
      }
    }
    if (pending && !(atStart && isBomPrefix(pending)))
      throw new SnapshotFormatError(this.source, this.line + countLfBytes(leftover, leftover.length), 'file ends inside a UTF-8 character: not valid UTF-8 text');
    this.parse(this.stage(leftover, Buffer.alloc(0)), true);
    if (this.opts.format === 'csv' && !this.header)
      throw new SnapshotFormatError(this.source, 1, 'file is empty: a CSV snapshot needs a header row naming its columns');
    yield this.takeBatch(received);
    return this.counts;
  }

  /**
   * The bytes to parse, copied into the hashing kernel's memory: the identifier rules then
   * read them in place (IdentifierHasher.addBytes) instead of through JavaScript loops.
   * Valid until the next call; a CSV piece's digests are all computed before it (the queue
   * runs when a batch is taken).
   */
  private stage(leftover: Buffer, body: Buffer): Buffer {
    if (this.opts.format !== 'csv') return leftover.length ? Buffer.concat([leftover, body]) : body;
    const n = leftover.length + body.length;
    const at = this.queue.stage(n);
    const bytes = this.queue.bufferAt(at, n);
    bytes.set(leftover, 0);
    bytes.set(body, leftover.length);
    return bytes;
  }

  /** Fails fast on bytes that are not UTF-8 text (binary files, other encodings). */
  private checkText(body: Buffer, leftover: Buffer): void {
    const nul = body.indexOf(0);
    let bad = nul;
    let problem = 'contains a NUL byte: this is not a text file (binary, or UTF-16?)';
    if (!isValidUtf8(nul >= 0 ? body.subarray(0, nul) : body)) {
      bad = firstInvalidUtf8(body);
      problem = 'is not valid UTF-8 text (binary data, or another encoding such as Latin-1?)';
    }
    if (bad < 0) return;
    const line = this.line + countLfBytes(leftover, leftover.length) + countLfBytes(body, bad);
    throw new SnapshotFormatError(this.source, line, problem);
  }

  /** Parses complete records of `bytes` (whole UTF-8 characters); returns how many bytes at the end it left. */
  private parse(bytes: Buffer, final: boolean): number {
    if (this.opts.format === 'ndjson') {
      const rest = this.parseNdjson(bytes.toString('utf8'), final);
      return rest.length ? Buffer.byteLength(rest, 'utf8') : 0;
    }
    if (!this.tokenizer) {
      // The delimiter is detected from the header's first physical line.
      const nl = bytes.indexOf(10);
      if (nl < 0 && !final) return bytes.length;
      if (bytes.length === 0) return 0;
      const d = this.opts.delimiter ?? detectDelimiter(bytes.toString('utf8', 0, nl < 0 ? bytes.length : nl), this.wantedColumns());
      this.delimiter = d;
      this.tokenizer = new CsvTokenizer(d.charCodeAt(0), this.line, this.queue);
    }
    const t = this.tokenizer;
    const used = t.push(bytes, 0, bytes.length, final, this.csvSink);
    this.line = t.line;
    return bytes.length - used;
  }

  private wantedColumns(): string[] {
    const w = this.plans.map((p) => p.column);
    if (this.countryColumn) w.push(this.countryColumn);
    return w;
  }

  private readonly csvSink: CsvRecordSink = {
    record: (buf, fields, count, line, scanIndex) => {
      if (!this.header) {
        const names: string[] = [];
        for (let i = 0; i < count; i++) names.push(fields.text(buf, i).trim());
        this.useHeader(names, this.delimiter ?? ',', line);
        this.scanBatched = false;
        return;
      }
      this.csvRecord(buf, fields, count, line, this.scanBatched ? scanIndex : -1);
    },
    scanned: (found) => this.scanBatch(found),
    malformed: (line, problem) => {
      if (!this.header) throw new SnapshotFormatError(this.source, line, `header row: ${problem}`);
      this.rowReject(++this.counts.rows, line, 'malformed_row', problem);
    },
  };

  private useHeader(names: string[], delimiter: CsvDelimiter, line: number): void {
    this.header = names;
    this.delimiter = delimiter;
    const find = (column: string, what: string): number => {
      let idx = names.indexOf(column);
      if (idx >= 0 && names.indexOf(column, idx + 1) >= 0)
        throw new SnapshotFormatError(this.source, line, `header names column "${column}" more than once`);
      if (idx < 0) {
        const lower = column.toLowerCase();
        const matches = names.flatMap((n, i) => (n.toLowerCase() === lower ? [i] : []));
        if (matches.length === 1) idx = matches[0]!;
      }
      if (idx < 0) {
        const hint = names[0]?.startsWith('{')
          ? ' (it looks like JSON: is this file NDJSON rather than CSV?)'
          : ' (the file needs a header row naming its columns; check the delimiter and the mapping)';
        throw new SnapshotFormatError(this.source, line, `header has no column "${column}" (mapped as ${what})${hint}`);
      }
      return idx;
    };
    for (const p of this.plans) p.index = find(p.column, p.type);
    if (this.countryColumn) this.countryIndex = find(this.countryColumn, 'country');
  }

  /**
   * The rules and SHA-256 for the mapped fields of `found` records the scanner just found,
   * in WebAssembly, column by column (asciiRules.wat `batchScan`): csvRecord then only
   * reads each field's code. Columns past BATCH_CODE_SETS, and phones with a country
   * column (a country per row), take the per-value path.
   */
  private scanBatch(found: number): void {
    this.scanBatched = false;
    if (!this.header) return;
    const q = this.queue;
    q.beginBatch();
    for (const p of this.plans) {
      if (p.set < 0 || p.index < 0) continue;
      const h = p.hasher;
      const country = h.kind === 'phone' ? q.phoneCountry(this.opts.normalization.defaultCountry) : 0;
      q.runScanBatch(h.kindCode, found, p.index, p.set, h.flags, country);
    }
    q.runHash(this.raw);
    this.scanCodes = q.i32;
    this.scanWords = q.words;
    this.scanBatched = true;
  }

  private scanBatched = false;

  private scanCodes: Int32Array = new Int32Array(0);
  /** The kernel memory, where the scan batch's digests are (Sha256HexQueue.batchHexAt). */
  private scanWords: Uint32Array = new Uint32Array(0);

  /** A field the scan batch decided (code < 0 and not SLOW): count it, reject it. */
  private scanOutcome(p: ColumnPlan, code: number, buf: Buffer, start: number, end: number, row: number, line: number): void {
    const outcome = p.hasher.batchOutcomeCode(code);
    countOutcome(p.counts, outcome);
    if (outcome !== 'empty') this.rejects.push({ row, line, column: p.column, type: p.type, reason: outcome, value: buf.toString('utf8', start, end) });
  }

  private csvRecord(buf: Buffer, fields: CsvFields, count: number, line: number, scanIndex: number): void {
    const row = ++this.counts.rows;
    const width = this.header!.length;
    if (count > width) {
      for (let i = width; i < count; i++) {
        if (fields.text(buf, i).trim() !== '') {
          this.rowReject(row, line, 'malformed_row', `row has ${count} fields; the header has ${width}`);
          return;
        }
      }
    }
    const country = this.countryIndex >= 0 && this.countryIndex < count ? countryCell(buf, fields, this.countryIndex) : undefined;
    let present = 0;
    const plans = this.plans;
    for (let k = 0; k < plans.length; k++) {
      const p = plans[k]!;
      const i = p.index;
      if (i >= count) continue;
      present++;
      if (fields.texts[i] === null && fields.marks[i] === 0) {
        if (scanIndex >= 0 && p.set >= 0) {
          const code = this.scanCodes[this.codesAt + p.set * BATCH_VALUES + scanIndex]!;
          if (code >= 0) {
            p.sink.digests.pushWords(this.scanWords, this.queue.batchHexAt + this.scanStride * code);
            p.counts.accepted++;
            continue;
          }
          if (code !== SLOW) {
            this.scanOutcome(p, code, buf, fields.starts[i]!, fields.ends[i]!, row, line);
            continue;
          }
        }
        this.valueBytes(p, buf, fields.starts[i]!, fields.ends[i]!, row, line, country);
      } else this.cell(p, fields.text(buf, i), row, line, country);
    }
    if (present === 0) this.rowReject(row, line, 'unmapped_column', 'none of the mapped identifier columns is present in this row');
  }

  /** A single value given as bytes (an unquoted CSV field without multi-value separators). */
  private valueBytes(p: ColumnPlan, buf: Buffer, start: number, end: number, row: number, line: number, country: string | undefined): void {
    // The piece is staged in the hasher's queue (stage()): its address there is its offset.
    const base = buf.byteOffset;
    const outcome = p.staged
      ? p.hasher.addStaged(base + start, base + end, p.sink.digests, country)
      : p.hasher.addBytes(buf, start, end, p.sink.digests, country);
    if (outcome === 'hashed') p.counts.accepted++;
    else if (outcome === 'prehashed') p.counts.prehashed++;
    else {
      countOutcome(p.counts, outcome);
      if (outcome !== 'empty') this.rejects.push({ row, line, column: p.column, type: p.type, reason: outcome, value: buf.toString('utf8', start, end) });
    }
  }

  private parseNdjson(text: string, final: boolean): string {
    const n = text.length;
    let pos = 0;
    // One call per line (see CsvTokenizer.push for why the loop here stays trivial).
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) {
        if (!final) break;
        nl = n;
      }
      this.ndjsonLine(text, pos, nl);
      pos = nl + 1;
    }
    return pos >= n ? '' : text.slice(pos);
  }

  private ndjsonLine(text: string, pos: number, nl: number): void {
    const line = this.line++;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    const s = text.slice(pos, end);
    if (s.trim() === '') return;
    let obj: unknown;
    let problem: string | null = null;
    try {
      obj = JSON.parse(s);
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) problem = 'line is JSON but not a JSON object';
    } catch {
      problem = 'line is not valid JSON';
    }
    if (problem !== null) {
      // The first record decides whether the file is NDJSON at all.
      if (!this.sawRecord) throw new SnapshotFormatError(this.source, line, `${problem}: is this file NDJSON (one JSON object per line)?`);
      this.rowReject(++this.counts.rows, line, 'malformed_row', problem);
      return;
    }
    this.sawRecord = true;
    this.ndjsonRecord(obj as Record<string, unknown>, line);
  }

  private ndjsonRecord(obj: Record<string, unknown>, line: number): void {
    const row = ++this.counts.rows;
    let country: string | undefined;
    if (this.countryColumn) {
      const c = obj[this.countryColumn];
      if (typeof c === 'string') country = normalizeCountryCell(c);
    }
    let present = 0;
    for (const p of this.plans) {
      if (!Object.prototype.hasOwnProperty.call(obj, p.column)) continue;
      present++;
      const v = obj[p.column];
      if (typeof v === 'string') this.cell(p, v, row, line, country);
      else if (typeof v === 'number' && Number.isSafeInteger(v)) this.cell(p, String(v), row, line, country);
      else if (v === null) this.value(p, '', row, line, country);
      else {
        const arr = jsonArrayValues(v);
        if (arr) for (const x of arr) this.value(p, x, row, line, country);
        else {
          countOutcome(p.counts, 'malformed_value');
          this.rejects.push({ row, line, column: p.column, type: p.type, reason: 'malformed_value', value: JSON.stringify(v) ?? '', detail: 'value is not a string, number or array of strings' });
        }
      }
    }
    if (present === 0) this.rowReject(row, line, 'unmapped_column', 'none of the mapped identifier keys is present in this object');
  }

  private cell(p: ColumnPlan, cell: string, row: number, line: number, country: string | undefined): void {
    if (!isMultiValueCell(cell)) {
      this.value(p, cell, row, line, country);
      return;
    }
    for (const v of splitMultiValueCell(cell)) this.value(p, v, row, line, country);
  }

  private value(p: ColumnPlan, raw: string, row: number, line: number, country: string | undefined): void {
    const outcome: Outcome = p.hasher.add(raw, p.sink.digests, country);
    if (outcome === 'hashed') {
      p.counts.accepted++;
      return;
    }
    if (outcome === 'prehashed') {
      p.counts.prehashed++;
      return;
    }
    countOutcome(p.counts, outcome);
    if (outcome !== 'empty') this.rejects.push({ row, line, column: p.column, type: p.type, reason: outcome, value: raw });
  }

  private rowReject(row: number, line: number, reason: RowRejectReason, detail: string): void {
    this.counts.rowsRejected[reason] = (this.counts.rowsRejected[reason] ?? 0) + 1;
    this.rejects.push({ row, line, column: null, type: null, reason, value: '', detail });
  }

  private takeBatch(byteOffset: number): SnapshotBatch {
    this.queue.flush();
    const digests: TypeDigests[] = [];
    for (const sink of this.sinks.values()) {
      const list = sink.digests;
      if (list.length === 0) continue;
      digests.push({ type: sink.type, digests: list });
      // Two lists per type, alternating: fresh memory per batch (megabytes outside the JS
      // heap) made V8 collect far more often. The batch before stays valid meanwhile.
      sink.digests = sink.spare;
      sink.spare = list;
      sink.digests.clear();
    }
    const rejects = this.rejects;
    this.rejects = [];
    const position: SnapshotPosition = { byteOffset, rows: this.counts.rows, line: this.line };
    if (this.header) position.header = this.header;
    if (this.delimiter) position.delimiter = this.delimiter;
    return { digests, rejects, position };
  }
}

/** Hex characters of a digest of this type (MD5 MAIDs 32, everything else SHA-256, 64). */
function hexWidth(type: IdentifierType): number {
  return targetOfType(type).hash === 'md5' ? 32 : 64;
}

/**
 * normalizeCountryCell of a CSV field. Country cells repeat a few two-letter codes, so
 * those come from a table instead of a new uppercased string per row.
 */
function countryCell(buf: Buffer, f: CsvFields, i: number): string | undefined {
  const s = f.starts[i]!;
  if (f.texts[i] === null && f.ends[i]! - s === 2) {
    const a = (buf[s]! | 32) - 97;
    const b = (buf[s + 1]! | 32) - 97;
    if (a >= 0 && a < 26 && b >= 0 && b < 26) return (COUNTRY_CODES ??= twoLetterCodes())[a * 26 + b];
  }
  return normalizeCountryCell(f.text(buf, i));
}

let COUNTRY_CODES: string[] | undefined;

function twoLetterCodes(): string[] {
  const out: string[] = [];
  for (let a = 0; a < 26; a++) for (let b = 0; b < 26; b++) out.push(String.fromCharCode(65 + a, 65 + b));
  return out;
}

/** UTF-16 length of the UTF-8 text b[s, e): one unit per character, two for 4-byte ones. */
function utf16Length(b: Buffer, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

function isBomPrefix(b: Buffer): boolean {
  const bom = [0xef, 0xbb, 0xbf];
  for (let i = 0; i < b.length && i < 3; i++) if (b[i] !== bom[i]) return false;
  return true;
}


function countLfBytes(b: Buffer, end: number): number {
  let c = 0;
  for (let i = b.indexOf(10); i >= 0 && i < end; i = b.indexOf(10, i + 1)) c++;
  return c;
}
