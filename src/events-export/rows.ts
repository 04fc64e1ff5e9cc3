import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { incompleteTailLength } from '../snapshot/utf8';
import { CsvTokenizer, detectDelimiter, type CsvRecordSink } from '../snapshot/csvTokenizer';
import { EventsDataError, EventsExportFailureType } from './failures';

/*
 * Event files and profile snapshots as a stream of rows, in bounded memory: CSV (header row,
 * RFC 4180 quotes, `,` `;` or tab, BOM, CRLF) through the snapshot kernel's tokenizer, or
 * NDJSON. A row carries its cells and a digest of its content (the "same source row" of a
 * deterministic event_id); it is personal data and never leaves the activity but into
 * batch and rejects files.
 */

export type RowFormat = 'csv' | 'ndjson';

export interface InputRow {
  /** 1-based data record number (the header is not counted). */
  row: number;
  /** 1-based physical line where the record starts. */
  line: number;
  /** A cell by column (CSV: a string; NDJSON: any JSON value); undefined when absent. */
  cells: Record<string, unknown>;
  /** Hex SHA-256 of the record's content, independent of where the file lives. */
  digest: string;
}

export interface MalformedRow {
  row: number;
  line: number;
  malformed: string;
}

export function isMalformed(r: InputRow | MalformedRow): r is MalformedRow {
  return 'malformed' in r;
}

/** The format from an object name: .csv or .ndjson/.jsonl/.json (optionally after a query-free URI). */
export function formatOf(uri: string, given?: RowFormat): RowFormat {
  if (given) return given;
  const name = uri.toLowerCase();
  if (/\.(ndjson|jsonl|json)$/.test(name)) return 'ndjson';
  if (/\.(csv|tsv|txt)$/.test(name)) return 'csv';
  throw new EventsDataError(EventsExportFailureType.InputUnreadable, `cannot tell the format of ${uri} from its name: give "format": "csv" or "ndjson"`);
}

const LF = 10;

/** Reads rows; `wanted` are the mapped columns (they pick the CSV delimiter). */
export async function* readRows(source: AsyncIterable<Uint8Array | string>, format: RowFormat, wanted: readonly string[]): AsyncGenerator<InputRow | MalformedRow> {
  for await (const chunk of readRowChunks(source, format, wanted)) yield* chunk;
}

/** The rows of each piece of input at once: one await per piece, not per row. */
export function readRowChunks(source: AsyncIterable<Uint8Array | string>, format: RowFormat, wanted: readonly string[]): AsyncGenerator<Array<InputRow | MalformedRow>> {
  const text = utf8Only(source);
  return format === 'ndjson' ? readNdjson(text) : readCsv(text, wanted);
}

/**
 * Refuses input that is not UTF-8 text (a gzip or a spreadsheet uploaded by mistake) instead
 * of turning it into thousands of malformed rows; a character split across pieces waits
 * for the next piece.
 */
async function* utf8Only(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array | string> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    if (typeof chunk === 'string') {
      yield chunk;
      continue;
    }
    const buf = carry.length ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const keep = incompleteTailLength(buf);
    const body = buf.subarray(0, buf.length - keep);
    if (!isUtf8(body)) throw new EventsDataError(EventsExportFailureType.InputUnreadable, 'the input is not UTF-8 text (a compressed or binary file?): export it as CSV or NDJSON in UTF-8');
    carry = Buffer.from(buf.subarray(buf.length - keep));
    if (body.length) yield body;
  }
  if (carry.length) throw new EventsDataError(EventsExportFailureType.InputUnreadable, 'the input ends in the middle of a UTF-8 character: it is truncated or not UTF-8');
}

async function* readNdjson(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Array<InputRow | MalformedRow>> {
  let rest = '';
  let line = 0;
  let row = 0;
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const one = (text: string): InputRow | MalformedRow | null => {
    line++;
    const t = text.trim();
    if (!t) return null;
    row++;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      return { row, line, malformed: 'the line is not valid JSON' };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { row, line, malformed: 'the line is not a JSON object' };
    return { row, line, cells: v as Record<string, unknown>, digest: hash('sha256', t, 'hex') };
  };
  for await (const chunk of source) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (line === 0 && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
    let nl: number;
    const out: Array<InputRow | MalformedRow> = [];
    while ((nl = rest.indexOf('\n')) >= 0) {
      const r = one(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      if (r) out.push(r);
    }
    if (out.length) yield out;
  }
  rest += decoder.decode();
  if (rest.length) {
    const r = one(rest);
    if (r) yield [r];
  }
}

async function* readCsv(source: AsyncIterable<Uint8Array | string>, wanted: readonly string[]): AsyncGenerator<Array<InputRow | MalformedRow>> {
  let buf: Buffer = Buffer.alloc(0);
  let tokenizer: CsvTokenizer | null = null;
  let header: string[] | null = null;
  let row = 0;
  let first = true;
  const out: Array<InputRow | MalformedRow> = [];
  const sink: CsvRecordSink = {
    record(b, f, count, line) {
      if (header === null) {
        header = [];
        for (let i = 0; i < count; i++) header.push(f.text(b, i).trim());
        return;
      }
      row++;
      if (count === 1 && f.ends[0]! - f.starts[0]! === 0 && f.texts[0] == null) {
        row--; // a blank line is not a record
        return;
      }
      if (count !== header.length) {
        out.push({ row, line, malformed: `the record has ${count} fields, the header ${header.length}` });
        return;
      }
      const cells: Record<string, unknown> = {};
      // The digest is of every cell followed by a NUL, in header order.
      let content = '';
      for (let i = 0; i < count; i++) {
        const v = f.text(b, i);
        cells[header[i]!] = v;
        content += `${v}\u0000`;
      }
      out.push({ row, line, cells, digest: hash('sha256', content, 'hex') });
    },
    malformed(line, problem) {
      row++;
      out.push({ row, line, malformed: problem });
    },
  };
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    buf = buf.length ? Buffer.concat([buf, bytes]) : bytes;
    if (first) {
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
      const nl = buf.indexOf(LF);
      if (nl < 0) continue; // the header line is not complete yet
      first = false;
      const d = detectDelimiter(buf.toString('utf8', 0, nl).replace(/\r$/, ''), wanted);
      tokenizer = new CsvTokenizer(d.charCodeAt(0));
    }
    const stop = tokenizer!.push(buf, 0, buf.length, false, sink);
    buf = buf.subarray(stop);
    if (out.length) yield out.splice(0);
  }
  if (first) {
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    tokenizer = new CsvTokenizer(detectDelimiter(buf.toString('utf8'), wanted).charCodeAt(0));
  }
  if (buf.length) tokenizer!.push(buf, 0, buf.length, true, sink);
  if (out.length) yield out.splice(0);
  if (header === null) throw new EventsDataError(EventsExportFailureType.InputUnreadable, 'the CSV file is empty: it has no header row');
}
