import { clearedColumns, windowOf, type DatasetConfig } from './config';
import { dateToMs, expiresAt } from './window';

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

/** An attribution time → ms since the epoch (UTC), or undefined when it is not one. A time without a zone is UTC. */
export function parseAttributionTime(text: unknown, format: TimeFormat): number | undefined {
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

export function decideRow(policy: RowPolicy, network: unknown, time: unknown): RowDecision {
  if (typeof network !== 'string') return { kind: 'other' };
  const months = policy.windows.get(network.trim());
  if (months === undefined) return { kind: 'other' };
  const at = parseAttributionTime(time, policy.timeFormat);
  if (at === undefined) return { kind: 'unreadable_time' };
  const exp = expiresAt(at, months);
  return exp <= policy.asOfMs ? { kind: 'past_window' } : { kind: 'within_window', expiresAtMs: exp };
}
