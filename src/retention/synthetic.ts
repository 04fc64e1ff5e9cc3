import type { BlobStore } from '../storage';
import { DEFAULT_TIKTOK_NETWORKS } from '../tiktok/networks';
import { mulberry32 } from '../util/prng';
import { addDays } from './window';

/*
 * A synthetic attribution dataset for the demo, the tests and the benchmark: installs and
 * in-app events attributed to TikTok's networks and to others, one partition per day
 * (`records/date=YYYY-MM-DD/part-0000.csv|ndjson`), some rows arriving late (their
 * attribution days before their partition), user agents and campaign names that need CSV
 * quoting, and an aggregate table by day × network × campaign derived from the same rows
 * (`aggregates/installs_by_day.csv`). Deterministic from its seed.
 */

export const SYNTHETIC_COLUMNS = [
  'event_id',
  'event_name',
  'network',
  'attribution_time',
  'event_time',
  'idfa',
  'gaid',
  'idfv',
  'ip',
  'user_agent',
  'click_id',
  'customer_user_id',
  'campaign',
  'campaign_id',
  'adgroup',
  'creative',
  'country',
  'revenue',
] as const;

const OTHER_NETWORKS = ['Organic', 'Meta Ads', 'Google Ads', 'Apple Search Ads', 'Unity Ads'];
const CAMPAIGNS = ['spring_sale', 'Retarget, lapsed users', 'brand "hero" video', 'ua_broad', 'playable_v2'];
const AGENTS = ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)', 'okhttp/4.12.0'];
const COUNTRIES = ['US', 'GB', 'DE', 'BR', 'JP'];

export interface SyntheticOptions {
  /** First partition day (YYYY-MM-DD). */
  start: string;
  /** How many days of partitions (9 months ≈ 273). */
  days: number;
  rowsPerDay: number;
  format?: 'csv' | 'ndjson';
  seed?: number;
  /** Share of rows attributed to TikTok's networks (default 0.4). */
  tiktokShare?: number;
  /** Share of rows that land up to 5 days after their attribution day (default 0.05). */
  lateShare?: number;
  /** Line ending of the CSV (default "\n"). */
  eol?: '\n' | '\r\n';
}

export interface SyntheticSummary {
  rows: number;
  partitions: number;
  bytes: number;
  recordsKeys: string[];
  aggregateKey: string;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const hex = (rnd: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rnd() * 16)];
  return s;
};
const uuid = (rnd: () => number): string => `${hex(rnd, 8)}-${hex(rnd, 4)}-4${hex(rnd, 3)}-a${hex(rnd, 3)}-${hex(rnd, 12)}`.toUpperCase();

/** Writes the dataset under `records/` and `aggregates/` of `store`. */
export async function generateSyntheticDataset(store: BlobStore, opts: SyntheticOptions): Promise<SyntheticSummary> {
  const rnd = mulberry32(opts.seed ?? 17);
  const format = opts.format ?? 'csv';
  const eol = opts.eol ?? '\n';
  const tiktokShare = opts.tiktokShare ?? 0.4;
  const lateShare = opts.lateShare ?? 0.05;
  // date → network → campaign → [installs, events, revenue cents]
  const agg = new Map<string, Map<string, [number, number, number]>>();
  const summary: SyntheticSummary = { rows: 0, partitions: 0, bytes: 0, recordsKeys: [], aggregateKey: 'aggregates/installs_by_day.csv' };
  let id = 0;
  for (let d = 0; d < opts.days; d++) {
    const partition = addDays(opts.start, d);
    const lines: string[] = format === 'csv' ? [SYNTHETIC_COLUMNS.join(',')] : [];
    for (let r = 0; r < opts.rowsPerDay; r++) {
      id++;
      const tiktok = rnd() < tiktokShare;
      const network = tiktok ? DEFAULT_TIKTOK_NETWORKS[Math.floor(rnd() * DEFAULT_TIKTOK_NETWORKS.length)]! : OTHER_NETWORKS[Math.floor(rnd() * OTHER_NETWORKS.length)]!;
      const late = rnd() < lateShare ? 1 + Math.floor(rnd() * 5) : 0;
      const attrDay = late && d - late >= 0 ? addDays(partition, -late) : partition;
      const secs = Math.floor(rnd() * 86_400);
      const attribution = `${attrDay}T${String(Math.floor(secs / 3600)).padStart(2, '0')}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}Z`;
      const isInstall = rnd() < 0.5;
      const ios = network.endsWith('iOS') || (!tiktok && rnd() < 0.5);
      const campaign = network === 'Organic' ? '' : CAMPAIGNS[Math.floor(rnd() * CAMPAIGNS.length)]!;
      const cents = isInstall ? 0 : Math.floor(rnd() * 2000);
      const row: Record<(typeof SYNTHETIC_COLUMNS)[number], string> = {
        event_id: String(id),
        event_name: isInstall ? 'install' : 'purchase',
        network,
        attribution_time: attribution,
        event_time: `${partition}T${attribution.slice(11)}`,
        idfa: ios ? uuid(rnd) : '',
        gaid: ios ? '' : uuid(rnd).toLowerCase(),
        idfv: ios ? uuid(rnd) : '',
        ip: `${10 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
        user_agent: AGENTS[Math.floor(rnd() * AGENTS.length)]!,
        click_id: network === 'Organic' ? '' : `E.C.P.${hex(rnd, 24)}`,
        customer_user_id: rnd() < 0.3 ? `user-${Math.floor(rnd() * 1e6)}` : '',
        campaign,
        campaign_id: campaign ? String(1700000000000000 + Math.floor(rnd() * 1e6)) : '',
        adgroup: campaign ? `ag_${Math.floor(rnd() * 50)}` : '',
        creative: campaign ? `cr_${Math.floor(rnd() * 200)}` : '',
        country: COUNTRIES[Math.floor(rnd() * COUNTRIES.length)]!,
        revenue: (cents / 100).toFixed(2),
      };
      lines.push(format === 'csv' ? SYNTHETIC_COLUMNS.map((c) => csvField(row[c])).join(',') : JSON.stringify(row));
      const byNet = agg.get(attrDay) ?? new Map<string, [number, number, number]>();
      agg.set(attrDay, byNet);
      const k = `${network}\u0000${campaign}`;
      const cell = byNet.get(k) ?? [0, 0, 0];
      if (isInstall) cell[0]++;
      else cell[1]++;
      cell[2] += cents;
      byNet.set(k, cell);
    }
    const key = `records/date=${partition}/part-0000.${format}`;
    const body = lines.join(eol) + eol;
    await store.write(key, body, { md5: false });
    summary.rows += opts.rowsPerDay;
    summary.partitions++;
    summary.bytes += Buffer.byteLength(body);
    summary.recordsKeys.push(key);
  }
  const aggLines = ['date,network,campaign,installs,events,revenue'];
  for (const date of [...agg.keys()].sort())
    for (const [k, [installs, events, cents]] of [...agg.get(date)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const [network, campaign] = k.split('\u0000') as [string, string];
      aggLines.push([date, csvField(network), csvField(campaign), String(installs), String(events), (cents / 100).toFixed(2)].join(','));
    }
  await store.write(summary.aggregateKey, aggLines.join('\n') + '\n');
  return summary;
}

/** The dataset config of a synthetic dataset at `root` (a folder URI), auditing under `audit`. */
export function syntheticDatasetConfig(datasetId: string, root: string, audit: string, format: 'csv' | 'ndjson' = 'csv') {
  const base = root.replace(/\/?$/, '/');
  return {
    datasetId,
    records: { uri: `${base}records/`, format, extraUserLevelColumns: ['country'], tiktokAttributionColumns: ['campaign', 'campaign_id', 'adgroup', 'creative'] },
    aggregates: [{ name: 'installs_by_day', uri: `${base}aggregates/`, metricColumns: ['installs', 'events', 'revenue'], clearColumns: ['campaign'] }],
    audit,
  };
}
