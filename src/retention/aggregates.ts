import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isStorageError, readJsonObject, type BlobStore } from '../storage';
import { AuditKeys } from './audit';
import type { AggregateConfig, DatasetConfig } from './config';
import { RetentionError, RetentionFailureType } from './failures';
import type { AggregateResult } from './messages';
import { dayPastWindow } from './window';

/*
 * Aggregate tables (day × network × other dimensions → metrics, CSV with a header): the rows
 * of a TikTok network for a day that is wholly past its window move to the organic network,
 * their cleared dimensions emptied, and merge into the row with the same dimensions if there
 * is one (metrics summed exactly, as decimals). So each day's totals stay what they were.
 * Untouched rows keep their bytes. A table is small next to the user-level data: it is
 * rewritten whole, by compare-and-swap on the generation read.
 */

interface Rec {
  /** Byte-exact text of the record without its line ending, and the ending. */
  text: string;
  ending: string;
}

/** Records of a CSV text, quotes respected (a quoted field may hold newlines). */
export function csvRecords(text: string): Rec[] {
  const out: Rec[] = [];
  let s = 0;
  let open = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 34) open = !open;
    else if (ch === 10 && !open) {
      const cr = i > s && text.charCodeAt(i - 1) === 13;
      out.push({ text: text.slice(s, cr ? i - 1 : i), ending: cr ? '\r\n' : '\n' });
      s = i + 1;
    }
  }
  if (s < text.length) out.push({ text: text.slice(s), ending: '' });
  return out;
}

/** Fields of one record: raw text (with its quotes) and value. */
export function csvFields(text: string, delimiter: string): { raw: string; value: string }[] {
  const out: { raw: string; value: string }[] = [];
  let p = 0;
  for (;;) {
    let end: number;
    if (text[p] === '"') {
      let q = p + 1;
      for (;;) {
        q = text.indexOf('"', q);
        if (q === -1) {
          q = text.length;
          break;
        }
        if (text[q + 1] === '"') q += 2;
        else {
          q += 1;
          break;
        }
      }
      end = text.indexOf(delimiter, q);
      if (end === -1) end = text.length;
      const raw = text.slice(p, end);
      out.push({ raw, value: raw.replace(/^"|"$/g, '').replace(/""/g, '"') });
    } else {
      end = text.indexOf(delimiter, p);
      if (end === -1) end = text.length;
      const raw = text.slice(p, end);
      out.push({ raw, value: raw });
    }
    if (end >= text.length) return out;
    p = end + delimiter.length;
  }
}

const DECIMAL = /^\s*(-?)(\d*)(?:\.(\d+))?\s*$/;

/** A metric as an exact scaled integer; '' is 0. */
export function parseDecimal(s: string): { units: bigint; scale: number } | undefined {
  if (s.trim() === '') return { units: 0n, scale: 0 };
  const m = DECIMAL.exec(s);
  if (!m || (m[2] === '' && !m[3])) return undefined;
  const frac = m[3] ?? '';
  const units = BigInt(`${m[2] || '0'}${frac}`) * (m[1] === '-' ? -1n : 1n);
  return { units, scale: frac.length };
}

function rescale(d: { units: bigint; scale: number }, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale);
}

export function addDecimals(a: string, b: string): string | undefined {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (!x || !y) return undefined;
  const scale = Math.max(x.scale, y.scale);
  const sum = rescale(x, scale) + rescale(y, scale);
  if (scale === 0) return sum.toString();
  const neg = sum < 0n;
  const digits = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

export interface AggregateRewrite {
  output: string;
  rowsMoved: number;
  rowsMerged: number;
  days: string[];
}

function quote(value: string, delimiter: string): string {
  return /["\r\n]/.test(value) || value.includes(delimiter) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The table's text with TikTok rows of days past the window moved to Organic; per-day totals checked. */
export function moveAggregateRows(text: string, table: AggregateConfig, config: DatasetConfig, asOf: string, source: string): AggregateRewrite {
  const d = table.delimiter;
  const recs = csvRecords(text);
  const unreadable = (why: string): never => {
    throw new RetentionError(RetentionFailureType.DatasetUnreadable, `${source}: ${why}`);
  };
  if (recs.length === 0) return { output: text, rowsMoved: 0, rowsMerged: 0, days: [] };
  const header = csvFields(recs[0]!.text.replace(/^\ufeff/, ''), d).map((f) => f.value.trim());
  const idx = (c: string): number => {
    const i = header.indexOf(c);
    if (i === -1) unreadable(`the header lacks the column "${c}"`);
    return i;
  };
  const dateIdx = idx(table.dateColumn);
  const netIdx = idx(table.networkColumn);
  const metricIdx = table.metricColumns.map(idx);
  const clearIdx = new Set(table.clearColumns.map((c) => header.indexOf(c)).filter((i) => i >= 0));
  const windows = new Map(config.tiktokNetworks.map((n) => [n, config.windowMonthsByNetwork[n] ?? config.windowMonths] as const));

  type Row = { rec: Rec; fields: { raw: string; value: string }[]; changed: boolean; dropped: boolean };
  const rows: Row[] = recs.slice(1).map((rec) => ({ rec, fields: rec.text === '' ? [] : csvFields(rec.text, d), changed: false, dropped: false }));
  const dimKey = (fields: { value: string }[]): string => JSON.stringify(fields.map((f, i) => (metricIdx.includes(i) ? null : f.value)));
  const totals = (): Map<string, string[]> => {
    const t = new Map<string, string[]>();
    for (const r of rows) {
      if (r.dropped || r.fields.length === 0) continue;
      const date = r.fields[dateIdx]?.value ?? '';
      const sums = t.get(date) ?? metricIdx.map(() => '0');
      metricIdx.forEach((mi, k) => {
        sums[k] = addDecimals(sums[k]!, r.fields[mi]?.value ?? '') ?? unreadable(`metric "${header[mi]}" of the ${date} row is not a number: ${JSON.stringify(r.fields[mi]?.value)}`);
      });
      t.set(date, sums);
    }
    return t;
  };
  const moves = (r: Row): boolean => {
    const months = windows.get(r.fields[netIdx]?.value.trim() ?? '');
    return months !== undefined && dayPastWindow(r.fields[dateIdx]?.value.trim() ?? '', months, asOf);
  };
  if (!rows.some((r) => r.fields.length && moves(r))) return { output: text, rowsMoved: 0, rowsMerged: 0, days: [] };
  const before = totals();

  // Existing organic rows are merge targets first, so they keep their place in the file.
  const targets = new Map<string, Row>();
  for (const r of rows) if (r.fields.length && r.fields[netIdx]?.value.trim() === config.organicNetwork) targets.set(dimKey(r.fields), r);
  let rowsMoved = 0;
  let rowsMerged = 0;
  const days = new Set<string>();
  for (const r of rows) {
    if (!r.fields.length) continue;
    if (!moves(r)) continue;
    const date = r.fields[dateIdx]!.value.trim();
    rowsMoved++;
    days.add(date);
    r.fields = r.fields.map((f, i) => (i === netIdx ? { raw: quote(config.organicNetwork, d), value: config.organicNetwork } : clearIdx.has(i) ? { raw: '', value: '' } : f));
    r.changed = true;
    const key = dimKey(r.fields);
    const target = targets.get(key);
    if (!target) {
      targets.set(key, r);
      continue;
    }
    rowsMerged++;
    r.dropped = true;
    target.changed = true;
    metricIdx.forEach((mi) => {
      const sum = addDecimals(target.fields[mi]!.value, r.fields[mi]?.value ?? '')!;
      target.fields[mi] = { raw: quote(sum, d), value: sum };
    });
  }
  const after = totals();
  for (const [date, sums] of before) {
    const now = after.get(date) ?? sums.map(() => '0');
    sums.forEach((v, k) => {
      if (!sameDecimal(v, now[k]!))
        throw new RetentionError(RetentionFailureType.CountMismatch, `${source}: moving TikTok rows of ${date} would change its ${header[metricIdx[k]!]} total (${v} → ${now[k]}); nothing was written`);
    });
  }
  let output = recs[0]!.text + recs[0]!.ending;
  for (const r of rows) {
    if (r.dropped) continue;
    output += (r.changed ? r.fields.map((f) => f.raw).join(d) : r.rec.text) + r.rec.ending;
  }
  // A file without a final line ending keeps none, even when its last row merged away.
  if (recs.at(-1)!.ending === '' && rows.at(-1)?.dropped) output = output.replace(/\r?\n$/, '');
  return { output, rowsMoved, rowsMerged, days: [...days].sort() };
}

function sameDecimal(a: string, b: string): boolean {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (!x || !y) return false;
  const scale = Math.max(x.scale, y.scale);
  return rescale(x, scale) === rescale(y, scale);
}

/** Every CSV object of one aggregate table, moved and put in place by compare-and-swap. */
const AggregateMoveSchema = z.object({
  table: z.string(),
  key: z.string(),
  rowsMoved: z.number(),
  rowsMerged: z.number(),
  days: z.number(),
  oldSha256: z.string(),
  newSha256: z.string(),
});

/**
 * Where a run notes each move before it replaces the object: a retry of the run's step (its
 * worker died after the replace, or the answer was lost) finds nothing left to move, and
 * reports the move it made from the note when the object still holds what it wrote, so the
 * audit counts the rows once.
 */
export interface AggregateMoveJournal {
  audit: BlobStore;
  datasetId: string;
  runId: string;
}

async function notedMove(journal: AggregateMoveJournal, table: string, key: string): Promise<z.output<typeof AggregateMoveSchema> | null> {
  try {
    return await readJsonObject(journal.audit, AuditKeys.aggregateMove(journal.datasetId, journal.runId, table, key), AggregateMoveSchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) return null;
    throw err;
  }
}

export async function moveAggregateTable(store: BlobStore, table: AggregateConfig, config: DatasetConfig, asOf: string, dryRun: boolean, journal?: AggregateMoveJournal): Promise<AggregateResult[]> {
  const results: AggregateResult[] = [];
  for await (const info of store.list('')) {
    const bytes = await store.readBuffer(info.key).catch((err: unknown) => {
      if (isStorageError(err, 'not_found')) return undefined;
      throw err;
    });
    if (!bytes) continue;
    const rewrite = moveAggregateRows(bytes.toString('utf8'), table, config, asOf, store.uriOf(info.key));
    const oldSha = createHash('sha256').update(bytes).digest('hex');
    if (rewrite.rowsMoved === 0) {
      const noted = !dryRun && journal ? await notedMove(journal, table.name, info.key) : null;
      if (noted && noted.newSha256 === oldSha) results.push({ ...noted, outcome: 'moved' });
      continue;
    }
    const out = Buffer.from(rewrite.output, 'utf8');
    const newSha = createHash('sha256').update(out).digest('hex');
    const base = { table: table.name, key: info.key, rowsMoved: rewrite.rowsMoved, rowsMerged: rewrite.rowsMerged, days: rewrite.days.length, oldSha256: oldSha, newSha256: newSha };
    if (dryRun) {
      results.push({ ...base, outcome: 'would_move' });
      continue;
    }
    if (journal) await journal.audit.write(AuditKeys.aggregateMove(journal.datasetId, journal.runId, table.name, info.key), JSON.stringify(base) + '\n', { contentType: 'application/json' });
    try {
      await store.writeIfGeneration(info.key, out, info.generation);
    } catch (err) {
      if (isStorageError(err, 'precondition_failed'))
        throw new RetentionError(RetentionFailureType.ObjectChanged, `${store.uriOf(info.key)} changed while its TikTok rows were moved; it is read again`);
      throw err;
    }
    results.push({ ...base, outcome: 'moved' });
  }
  return results;
}
