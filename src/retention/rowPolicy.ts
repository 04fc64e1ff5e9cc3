import { clearedColumns, windowOf, type DatasetConfig } from './config';
import { addDays, cutoffDate, dateToMs, dayPastWindow, daysInMonth, expiresAt } from './window';

/*
 * The row-level decision: a row's own network and attribution time decide, whatever its
 * partition says. Pure (no I/O); the streaming anonymizers call it only for rows whose
 * bytes could name a TikTok network.
 */

export type RowDecision =
  | { kind: 'other' }
  | { kind: 'past_window' }
  | { kind: 'within_window'; expiresAtMs: number }
  | { kind: 'unreadable_time' };

export type TimeFormat = DatasetConfig['records']['timeFormat'];

export interface RowPolicy {
  /** TikTok network name → window in months. */
  windows: ReadonlyMap<string, number>;
  asOfMs: number;
  organic: string;
  cleared: readonly string[];
  networkColumn: string;
  timeColumn: string;
  timeFormat: TimeFormat;
  /**
   * ASCII runs that every TikTok network name's bytes contain, however a CSV quotes or a
   * JSON writer escapes the rest: a row containing none of them cannot be TikTok's and is
   * copied without being parsed. null: some name has no such run; every row is parsed.
   */
  needles: Buffer[] | null;
  /**
   * Per TikTok network, its window and the instant before which every row is past it without
   * calendar arithmetic: the end of the latest day wholly past the window. Adding months is
   * not monotone in the instant (31 Aug 00:00 + 6 months = 28 Feb 00:00, yet 28 Aug 12:00
   * lands on 28 Feb 12:00), but the images of whole days' ends are, so rows from that day on
   * are computed one by one.
   */
  bounds: ReadonlyMap<string, { months: number; pastBefore: number }>;
}

export function rowPolicyOf(config: DatasetConfig, asOf: string): RowPolicy {
  const asOfMs = dateToMs(asOf);
  if (asOfMs === undefined) throw new RangeError(`as-of must be a date YYYY-MM-DD, not ${JSON.stringify(asOf)}`);
  const windows = new Map(config.tiktokNetworks.map((n) => [n, windowOf(config, n)] as const));
  return {
    windows,
    asOfMs,
    organic: config.organicNetwork,
    cleared: clearedColumns(config),
    networkColumn: config.records.networkColumn,
    timeColumn: config.records.attributionTimeColumn,
    timeFormat: config.records.timeFormat,
    needles: needlesOf(config.tiktokNetworks),
    bounds: new Map(
      [...windows].map(([n, months]) => {
        return [n, { months, pastBefore: wholePastUntil(months, asOf) }] as const;
      }),
    ),
  };
}

/** The longest run of plain ASCII (no quote, backslash or slash, which writers may escape) of each name. */
export function needlesOf(names: readonly string[]): Buffer[] | null {
  const runs = new Set<string>();
  for (const name of names) {
    const best = (name.match(/[\x20-\x21\x23-\x2e\x30-\x5b\x5d-\x7e]+/g) ?? []).sort((a, b) => b.length - a.length)[0] ?? '';
    // Leading or trailing spaces may be trimmed away in the data.
    const run = best.trim();
    if (run.length < 3) return null;
    runs.add(run);
  }
  // A run that contains another is redundant: the shorter one already matches it.
  const all = [...runs];
  return all.filter((r) => !all.some((o) => o !== r && r.includes(o))).map((r) => Buffer.from(r, 'latin1'));
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function digits(t: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The shapes writers use most, read without a regular expression: `YYYY-MM-DD`, then
 * optionally `THH:MM:SS` (or a space), then optionally `Z`. undefined: another shape, for
 * the full reader.
 */
function quickIso(t: string): number | undefined {
  const len = t.length;
  if (len !== 10 && len !== 19 && len !== 20) return undefined;
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45) return undefined;
  const y = digits(t, 0, 4);
  const mo = digits(t, 5, 2);
  const d = digits(t, 8, 2);
  let ms: number;
  // Rows of one partition share their day or a few: the last day's first instant is kept.
  const ymd = y * 10000 + mo * 100 + d;
  if (ymd === lastYmd && y >= 0) ms = lastDayMs;
  else {
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo - 1)) return undefined;
    ms = Date.UTC(y, mo - 1, d);
    lastYmd = ymd;
    lastDayMs = ms;
  }
  if (len === 10) return ms;
  const sep = t.charCodeAt(10);
  if ((sep !== 84 && sep !== 32) || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return undefined;
  if (len === 20 && t.charCodeAt(19) !== 90 && t.charCodeAt(19) !== 122) return undefined;
  const h = digits(t, 11, 2);
  const mi = digits(t, 14, 2);
  const sec = digits(t, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return undefined;
  ms += ((h * 60 + mi) * 60 + sec) * 1000;
  return ms;
}

/** An attribution time → ms since the epoch (UTC), or undefined when it is not one. A time without a zone is UTC. */
export function parseAttributionTime(text: unknown, format: TimeFormat): number | undefined {
  if (format === 'iso' && typeof text === 'string') {
    const quick = quickIso(text);
    if (quick !== undefined) return quick;
  }
  if (format !== 'iso') {
    const n = typeof text === 'number' ? text : typeof text === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(n)) return undefined;
    return Math.round(format === 'epoch_seconds' ? n * 1000 : n);
  }
  if (typeof text !== 'string') return undefined;
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const day = dateToMs(`${m[1]}-${m[2]}-${m[3]}`);
  if (day === undefined) return undefined;
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (h > 23 || mi > 59 || s > 60) return undefined;
  const frac = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let offset = 0;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offset = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
  }
  return day + ((h * 60 + mi) * 60 + s) * 1000 + frac - offset;
}

/** The first instant after the latest day wholly past a window of `months` on `asOf` (-Infinity: none found near the cutoff). */
function wholePastUntil(months: number, asOf: string): number {
  // That day is the cutoff day or, when clamping folds month ends, a few days before it.
  let d = cutoffDate(months, asOf);
  for (let i = 0; i < 8; i++, d = addDays(d, -1)) if (dayPastWindow(d, months, asOf)) return dateToMs(d)! + 86_400_000;
  return -Infinity;
}

const OTHER: RowDecision = { kind: 'other' };
const PAST: RowDecision = { kind: 'past_window' };
const UNREADABLE: RowDecision = { kind: 'unreadable_time' };

export function decideRow(policy: RowPolicy, network: unknown, time: unknown): RowDecision {
  if (typeof network !== 'string') return OTHER;
  const b = policy.bounds.get(network) ?? policy.bounds.get(network.trim());
  if (b === undefined) return OTHER;
  const at = parseAttributionTime(time, policy.timeFormat);
  if (at === undefined) return UNREADABLE;
  return decideAt(policy, b, at);
}

/** The decision for a row of a TikTok network (its bounds) attributed at `at`. */
export function decideAt(policy: RowPolicy, b: { months: number; pastBefore: number }, at: number): RowDecision {
  if (at < b.pastBefore) return PAST;
  const exp = expiresAt(at, b.months);
  return exp <= policy.asOfMs ? PAST : { kind: 'within_window', expiresAtMs: exp };
}

let lastYmd = -1;
let lastDayMs = 0;

function digitsAt(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * quickIso on bytes [s, e) (a CSV field or a JSON string's content), without making a
 * string: the same shapes, the same instants. undefined: another shape, for the full reader.
 */
export function quickIsoBytes(buf: Uint8Array, s: number, e: number): number | undefined {
  const len = e - s;
  if (len !== 10 && len !== 19 && len !== 20) return undefined;
  if (buf[s + 4] !== 45 || buf[s + 7] !== 45) return undefined;
  const y = digitsAt(buf, s, 4);
  const mo = digitsAt(buf, s + 5, 2);
  const d = digitsAt(buf, s + 8, 2);
  let ms: number;
  // Rows of one partition share their day or a few: the last day's first instant is kept.
  const ymd = y * 10000 + mo * 100 + d;
  if (ymd === lastYmd && y >= 0) ms = lastDayMs;
  else {
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo - 1)) return undefined;
    ms = Date.UTC(y, mo - 1, d);
    lastYmd = ymd;
    lastDayMs = ms;
  }
  if (len === 10) return ms;
  const sep = buf[s + 10];
  if ((sep !== 84 && sep !== 32) || buf[s + 13] !== 58 || buf[s + 16] !== 58) return undefined;
  if (len === 20 && buf[s + 19] !== 90 && buf[s + 19] !== 122) return undefined;
  const h = digitsAt(buf, s + 11, 2);
  const mi = digitsAt(buf, s + 14, 2);
  const sec = digitsAt(buf, s + 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return undefined;
  ms += ((h * 60 + mi) * 60 + sec) * 1000;
  return ms;
}
