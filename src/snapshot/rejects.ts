import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import type { IdentifierType } from '../identifiers/schema';
import type { ValueRejectReason } from '../identifiers/normalizer';

/** Value-level reasons: identifiers.md's codes plus a JSON value that is not a string/number/array. */
export type ValueReason = ValueRejectReason | 'malformed_value';
/**
 * Row-level reasons: identifiers.md's `unmapped_column` (none of the row's identifier
 * columns is present) and `malformed_row` (the record cannot be tokenized or parsed).
 */
export type RowRejectReason = 'unmapped_column' | 'malformed_row';
export type SnapshotRejectReason = ValueReason | RowRejectReason;

/**
 * One rejected value (or row). `value` is the raw value as found, because the rejects
 * file lives on the user's own storage next to the snapshot and users need to see what
 * was rejected to fix it. It is personal data: a RejectRecord goes to the rejects file
 * and nowhere else (no logs, errors or workflow payloads).
 */
export interface RejectRecord {
  /** 1-based data record number (the header is not counted). */
  row: number;
  /** 1-based physical line where the record starts. */
  line: number;
  column: string | null;
  type: IdentifierType | null;
  reason: SnapshotRejectReason;
  value: string;
  /** For row-level rejects: what is wrong, without quoting content. */
  detail?: string;
}

export const REJECTS_CSV_COLUMNS = ['row', 'line', 'column', 'type', 'reason', 'detail', 'value'] as const;

/**
 * What a rejects file keeps of each rejected value: `raw` (the default: an operator needs it
 * to fix the data), `masked` (its shape only), or `none` (an empty value column).
 */
export const REJECT_VALUE_MODES = ['raw', 'masked', 'none'] as const;
export type RejectValueMode = (typeof REJECT_VALUE_MODES)[number];

/**
 * A value's shape without its content: letters become x, digits 9, other characters stay
 * (`john.doe@example` → `xxxx.xxx@xxxxxxx`), so a missing `@` or a short number still shows.
 */
export function maskRejectValue(value: string): string {
  return value.replace(/\p{L}/gu, 'x').replace(/\p{N}/gu, '9');
}

const shownValue = (value: string, mode: RejectValueMode): string => (mode === 'raw' ? value : mode === 'masked' ? maskRejectValue(value) : '');

/** CSV text for a batch of rejects (one stringify call per batch, not per record). */
export function rejectsToCsv(records: readonly RejectRecord[], withHeader = false, values: RejectValueMode = 'raw'): string {
  return stringify(
    records.map((r) => [r.row, r.line, r.column ?? '', r.type ?? '', r.reason, r.detail ?? '', shownValue(r.value, values)]),
    { header: withHeader, columns: withHeader ? [...REJECTS_CSV_COLUMNS] : undefined },
  );
}

/** Writes rejects as CSV to a stream in batches, respecting backpressure. */
export class RejectsCsvWriter {
  private wroteHeader = false;
  count = 0;
  constructor(private readonly out: Writable) {}

  async write(records: readonly RejectRecord[]): Promise<void> {
    if (!this.wroteHeader) {
      this.wroteHeader = true;
      if (!this.out.write(rejectsToCsv([], true))) await once(this.out, 'drain');
    }
    if (records.length === 0) return;
    this.count += records.length;
    if (!this.out.write(rejectsToCsv(records))) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    await this.write([]);
    this.out.end();
    await once(this.out, 'finish');
  }
}
