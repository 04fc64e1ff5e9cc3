import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { REJECTS_CSV_COLUMNS, type SnapshotRejectReason } from './rejects';

/** One line of a rejects file without its value (the value is personal data and stays in the file). */
export interface RejectSample {
  row: number;
  line: number;
  column: string | null;
  type: string | null;
  reason: SnapshotRejectReason | string;
  detail: string | null;
}

/**
 * The first `n` records of a rejects file (REJECTS_CSV_COLUMNS, header first, RFC 4180
 * quoting as rejectsToCsv writes it), without their values. Reads only as much of the
 * stream as it needs, then destroys it: a rejects file can be large.
 */
export async function readRejectsSample(stream: Readable, n = 10): Promise<RejectSample[]> {
  const out: RejectSample[] = [];
  if (n <= 0) {
    stream.destroy();
    return out;
  }
  const col = (name: (typeof REJECTS_CSV_COLUMNS)[number]): number => REJECTS_CSV_COLUMNS.indexOf(name);
  let header: string[] | null = null;
  const onRecord = (fields: string[]): boolean => {
    if (!header) {
      header = fields;
      return false;
    }
    const at = (name: (typeof REJECTS_CSV_COLUMNS)[number]): string => fields[header!.indexOf(name) >= 0 ? header!.indexOf(name) : col(name)] ?? '';
    out.push({
      row: Number(at('row')),
      line: Number(at('line')),
      column: at('column') || null,
      type: at('type') || null,
      reason: at('reason'),
      detail: at('detail') || null,
    });
    return out.length >= n;
  };
  const parser = new CsvRecords(onRecord);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of stream) {
      if (parser.push(typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer))) return out;
    }
    parser.push(decoder.end());
    parser.end();
    return out;
  } finally {
    stream.destroy();
  }
}

/** A small RFC 4180 record splitter (quotes, doubled quotes, LF or CRLF, newlines inside quotes). */
class CsvRecords {
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  /** The last character was a quote inside a quoted field: either its end or the first of a doubled quote. */
  private quoteSeen = false;
  private fieldStarted = false;
  private stopped = false;
  constructor(private readonly onRecord: (fields: string[]) => boolean) {}

  /** True once onRecord asked to stop. */
  push(text: string): boolean {
    for (let i = 0; i < text.length && !this.stopped; i++) {
      const c = text[i]!;
      if (this.quoted) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (c === '"') {
            this.field += '"';
            continue;
          }
          this.quoted = false;
        } else if (c === '"') {
          this.quoteSeen = true;
          continue;
        } else {
          this.field += c;
          continue;
        }
      }
      if (c === '"' && !this.fieldStarted) {
        this.quoted = true;
        this.fieldStarted = true;
      } else if (c === ',') this.endField();
      else if (c === '\n') this.endRecord();
      else if (c !== '\r') {
        this.field += c;
        this.fieldStarted = true;
      }
    }
    return this.stopped;
  }

  end(): void {
    if (this.quoteSeen) this.quoted = false;
    if (this.fieldStarted || this.fields.length) this.endRecord();
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.fieldStarted = false;
  }

  private endRecord(): void {
    this.endField();
    const fields = this.fields;
    this.fields = [];
    if (fields.length === 1 && fields[0] === '') return;
    if (this.onRecord(fields)) this.stopped = true;
  }
}
