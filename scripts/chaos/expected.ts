import { createHash } from 'node:crypto';

/*
 * The input files of a chaos or load run, and what TikTok must hold after it, computed here
 * with node:crypto from the same rows: never through ttsync's normalizer, hasher or diff.
 */

export const sha256 = (v: string): string => createHash('sha256').update(v).digest('hex');

/** Person i (0 ≤ i < 90,000) as an export writes them, and the values TikTok hashes (email lowercased, phone E.164 without "+"). */
export function person(i: number): { email: string; phone: string; normalized: [string, string] } {
  const exchange = 201 + Math.floor(i / 10_000);
  const line = String(i % 10_000).padStart(4, '0');
  return { email: `Person${i}@Example.ORG`, phone: `(212) ${exchange}-${line}`, normalized: [`person${i}@example.org`, `1212${exchange}${line}`] };
}

/** The people of one snapshot generation: a window of `size` that moves by `churn` per generation (exits and enters). */
export function generationPeople(base: number, generation: number, size: number, churn: number): number[] {
  const start = base + generation * churn;
  return Array.from({ length: size }, (_, k) => (start + k) % 90_000);
}

/** A snapshot CSV of these people, with two rows every sync must reject (they are in no audience). */
export function snapshotCsv(people: number[]): string {
  const rows = people.map((i) => `${person(i).email},${person(i).phone}`);
  rows.splice(Math.min(3, rows.length), 0, 'not-an-email,');
  rows.push(',12');
  return ['email,phone', ...rows].join('\n') + '\n';
}

/** The digests an audience of these people holds, as a set. */
export function audienceDigests(people: number[]): Set<string> {
  return new Set(people.flatMap((i) => person(i).normalized.map(sha256)));
}

/** An events file: one Purchase per row, each with its own order id (what the check counts by). */
export function eventsCsv(orderIds: string[], at: Date): string {
  const ts = at.toISOString();
  return ['ts,email,order,value,currency', ...orderIds.map((o, k) => `${ts},buyer.${o}@example.com,${o},${(k % 97) + 1}.50,USD`)].join('\n') + '\n';
}

/** What a set comparison found: expected items missing, items present that were not expected. */
export function compareSets(expected: Set<string>, actual: Iterable<string>): { missing: number; unexpected: number } {
  const seen = new Set<string>();
  let unexpected = 0;
  for (const a of actual) {
    if (expected.has(a)) seen.add(a);
    else unexpected++;
  }
  return { missing: expected.size - seen.size, unexpected };
}

// --- retention ------------------------------------------------------------------------
// The policy as the README states it, written again here: a TikTok row whose attribution
// time plus 6 calendar months (day clamped to the month's end) is not after the as-of day's
// midnight UTC loses its user-level and TikTok attribution fields (emptied) and reads Organic;
// every other byte stays. Aggregate rows of TikTok days wholly past the window (the day's last
// millisecond plus 6 months) merge into the day's Organic row (campaign emptied), sums kept.

export const RETENTION_TIKTOK = ['TikTok for Business – Android', 'TikTok for Business – iOS', 'TikTok for Business – SAN'];
export const RETENTION_COLUMNS = ['event_id', 'event_name', 'network', 'attribution_time', 'event_time', 'idfa', 'gaid', 'ip', 'user_agent', 'click_id', 'customer_user_id', 'campaign', 'campaign_id', 'country', 'revenue'];
/** What a row past the window loses: the default user-level and TikTok attribution columns present here, and `country` (the chaos dataset's extra user-level column). */
export const RETENTION_CLEARED = ['idfa', 'gaid', 'ip', 'user_agent', 'click_id', 'customer_user_id', 'campaign', 'campaign_id', 'country'];
const OTHER_NETWORKS = ['Organic', 'Meta Ads', 'Google Ads'];
const RET_CAMPAIGNS = ['spring_sale', '"Retarget, lapsed users"', '"brand ""hero"" video"', 'ua_broad'];
const RET_AGENTS = ['"Mozilla/5.0 (Linux; Android 14, Pixel 8)"', 'okhttp/4.12.0', '"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4, like Mac OS X)"'];

const DAY = 86_400_000;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** ms plus whole calendar months, UTC, the day clamped to the target month's length. */
export function addMonthsUtc(ms: number, months: number): number {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** Splits a CSV line into raw fields, quotes kept (the dataset has no quoted newlines). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let j = i;
    if (line[i] === '"') {
      j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) throw new Error(`unbalanced quote in ${line}`);
        if (line[q + 1] === '"') j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
    } else {
      const c = line.indexOf(',', i);
      j = c < 0 ? line.length : c;
    }
    out.push(line.slice(i, j));
    if (j >= line.length) return out;
    i = j + 1;
  }
}
const unquoted = (f: string): string => (f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f);

export interface RetentionDataset {
  /** Object name (under the dataset's prefix) → bytes. */
  partitions: Map<string, string>;
  aggregate: string;
  rows: number;
}

/** Days of partitions from `start`, `rowsPerDay` each; some rows attributed up to 3 days before their partition (late). */
export function retentionDataset(start: string, days: number, rowsPerDay: number, seed: number): RetentionDataset {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const partitions = new Map<string, string>();
  const agg = new Map<string, { installs: number; events: number; cents: number }>();
  const t0 = Date.parse(`${start}T00:00:00Z`);
  let n = 0;
  for (let d = 0; d < days; d++) {
    const day = isoDay(t0 + d * DAY);
    const lines = [RETENTION_COLUMNS.join(',')];
    for (let r = 0; r < rowsPerDay; r++) {
      n++;
      const tiktok = rnd() < 0.45;
      const network = tiktok ? pick(RETENTION_TIKTOK) : pick(OTHER_NETWORKS);
      const late = rnd() < 0.1 ? 1 + Math.floor(rnd() * 3) : 0;
      const attributed = t0 + (d - late) * DAY + Math.floor(rnd() * DAY / 1000) * 1000;
      const install = rnd() < 0.5;
      const cents = install ? 0 : Math.floor(rnd() * 5000);
      const campaign = network === 'Organic' ? '' : pick(RET_CAMPAIGNS);
      const row = [
        `ev-${seed}-${n}`,
        install ? 'install' : 'purchase',
        network,
        new Date(attributed).toISOString().replace('.000Z', 'Z'),
        new Date(attributed + 3_600_000).toISOString().replace('.000Z', 'Z'),
        `IDFA-${n}`,
        `gaid-${n}`,
        `10.${n % 250}.${(n * 7) % 250}.${(n * 13) % 250}`,
        pick(RET_AGENTS),
        `click-${n}`,
        `user-${n % 97}`,
        campaign,
        campaign ? `17${String(n % 13).padStart(3, '0')}` : '',
        pick(['US', 'GB', 'DE']),
        (cents / 100).toFixed(2),
      ];
      lines.push(row.join(','));
      const k = `${isoDay(attributed)}|${network}|${unquoted(campaign)}`;
      const a = agg.get(k) ?? { installs: 0, events: 0, cents: 0 };
      if (install) a.installs++;
      else a.events++;
      a.cents += cents;
      agg.set(k, a);
    }
    partitions.set(`records/date=${day}/part-0000.csv`, lines.join('\n') + '\n');
  }
  const aggLines = ['date,network,campaign,installs,events,revenue'];
  for (const [k, a] of [...agg].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    const [date, network, campaign] = k.split('|') as [string, string, string];
    const c = /[",]/.test(campaign) ? `"${campaign.replace(/"/g, '""')}"` : campaign;
    aggLines.push(`${date},${network},${c},${a.installs},${a.events},${(a.cents / 100).toFixed(2)}`);
  }
  return { partitions, aggregate: aggLines.join('\n') + '\n', rows: n };
}

/** A partition file as the policy leaves it on `asOf`, and how many of its rows were anonymized. */
export function expectedRetentionPartition(text: string, asOf: string): { text: string; anonymized: number; rows: number } {
  const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
  const lines = text.split('\n');
  const header = csvFields(lines[0]!);
  const net = header.indexOf('network');
  const time = header.indexOf('attribution_time');
  let anonymized = 0;
  let rows = 0;
  const out = lines.map((line, i) => {
    if (i === 0 || line === '') return line;
    rows++;
    const f = csvFields(line);
    if (!RETENTION_TIKTOK.includes(unquoted(f[net]!))) return line;
    if (addMonthsUtc(Date.parse(unquoted(f[time]!)), 6) > asOfMs) return line;
    anonymized++;
    return f.map((v, k) => (k === net ? 'Organic' : RETENTION_CLEARED.includes(header[k]!) ? '' : v)).join(',');
  });
  return { text: out.join('\n'), anonymized, rows };
}

export interface AggregateSums {
  installs: number;
  events: number;
  cents: number;
}

/** The aggregate table as (date|network|campaign) → sums, and the lines as they are. */
export function parseRetentionAggregate(text: string): { rows: Map<string, AggregateSums>; lines: string[]; duplicates: number } {
  const rows = new Map<string, AggregateSums>();
  const lines = text.split(/\r?\n/).slice(1).filter((l) => l !== '');
  let duplicates = 0;
  for (const l of lines) {
    const [date, network, campaign, installs, events, revenue] = csvFields(l).map(unquoted) as [string, string, string, string, string, string];
    const k = `${date}|${network}|${campaign}`;
    if (rows.has(k)) duplicates++;
    const [whole, frac = ''] = revenue.split('.');
    const cents = Number(whole) * 100 + Math.sign(Number(`${whole}1`)) * Number(frac.padEnd(2, '0').slice(0, 2));
    const had = rows.get(k) ?? { installs: 0, events: 0, cents: 0 };
    rows.set(k, { installs: had.installs + Number(installs), events: had.events + Number(events), cents: had.cents + cents });
  }
  return { rows, lines, duplicates };
}

/** The aggregate's rows after the policy on `asOf`, how many TikTok rows moved, and the lines that must stay byte for byte. */
export function expectedRetentionAggregate(original: string, asOf: string): { rows: Map<string, AggregateSums>; moved: number; keptLines: string[] } {
  const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
  const { rows, lines } = parseRetentionAggregate(original);
  const out = new Map<string, AggregateSums>();
  const movedDays = new Set<string>();
  let moved = 0;
  for (const [k, v] of rows) {
    const [date, network] = k.split('|') as [string, string, string];
    const gone = RETENTION_TIKTOK.includes(network) && addMonthsUtc(Date.parse(`${date}T23:59:59.999Z`), 6) <= asOfMs;
    const key = gone ? `${date}|Organic|` : k;
    if (gone) {
      moved++;
      movedDays.add(date);
    }
    const had = out.get(key) ?? { installs: 0, events: 0, cents: 0 };
    out.set(key, { installs: had.installs + v.installs, events: had.events + v.events, cents: had.cents + v.cents });
  }
  const keptLines = lines.filter((l) => {
    const [date, network, campaign] = csvFields(l).map(unquoted) as [string, string, string];
    if (!movedDays.has(date)) return true;
    return !RETENTION_TIKTOK.includes(network) && !(network === 'Organic' && campaign === '');
  });
  return { rows: out, moved, keptLines };
}

/** Per-day totals of an aggregate's rows. */
export function dayTotals(rows: Map<string, AggregateSums>): Map<string, AggregateSums> {
  const out = new Map<string, AggregateSums>();
  for (const [k, v] of rows) {
    const date = k.split('|')[0]!;
    const had = out.get(date) ?? { installs: 0, events: 0, cents: 0 };
    out.set(date, { installs: had.installs + v.installs, events: had.events + v.events, cents: had.cents + v.cents });
  }
  return out;
}

/** Whether two row maps hold the same keys and sums. */
export function sameSums(a: Map<string, AggregateSums>, b: Map<string, AggregateSums>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.installs !== v.installs || w.events !== v.events || w.cents !== v.cents) return false;
  }
  return true;
}

// --- usage report ---------------------------------------------------------------------
// The emulator's documented seed (src/emulator README): sha256("advertiser|adgroup|day"),
// first 4 bytes big-endian h; impressions = h mod 50,000; CPM = 200 + (h div 50,000) mod 1000
// cents; spend = round(impressions × CPM / 1000) cents. Data cost = spend × price% rounded half
// up to cents.

export function seededAdgroupDay(advertiserId: string, adgroupId: string, day: string): { impressions: number; spendCents: number } {
  const h = createHash('sha256').update(`${advertiserId}|${adgroupId}|${day}`).digest().readUInt32BE(0);
  const impressions = h % 50_000;
  return { impressions, spendCents: Math.round((impressions * (200 + (Math.floor(h / 50_000) % 1000))) / 1000) };
}

export function monthDays(month: string): string[] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return Array.from({ length: new Date(Date.UTC(y, m, 0)).getUTCDate() }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

export const centsText = (c: bigint): string => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;

export function dataCostCents(spendCents: bigint, percent: string): bigint {
  const [i, f = ''] = percent.split('.');
  const num = spendCents * (BigInt(i!) * 10_000n + BigInt(f.padEnd(4, '0')));
  const den = 1_000_000n;
  return (num + den / 2n) / den;
}

export interface UsageSegmentPlan {
  audienceId: string;
  providerId: string;
  segmentId: string;
  destinationId: string;
  pricePercent: string;
}

export interface UsageAdgroupPlan {
  adgroupId: string;
  campaignId: string;
  campaignName: string;
  adgroupName: string;
  /** The audiences it targets all month (the report reads targeting at report time: no daily records). */
  audienceIds: string[];
}

/** The report's CSV lines (header first) for one advertiser and month, from the seed and the plan. */
export function expectedUsageCsv(advertiserId: string, month: string, segments: UsageSegmentPlan[], adgroups: UsageAdgroupPlan[]): string[] {
  const lines: { sort: string[]; line: string }[] = [];
  for (const seg of segments) {
    for (const g of adgroups) {
      if (!g.audienceIds.includes(seg.audienceId)) continue;
      let impressions = 0n;
      let cents = 0n;
      const used: string[] = [];
      for (const day of monthDays(month)) {
        const s = seededAdgroupDay(advertiserId, g.adgroupId, day);
        if (s.impressions === 0 && s.spendCents === 0) continue;
        impressions += BigInt(s.impressions);
        cents += BigInt(s.spendCents);
        used.push(day);
      }
      if (!used.length) continue;
      const shared = segments.filter((x) => g.audienceIds.includes(x.audienceId)).length > 1;
      const row = [
        month, advertiserId, seg.providerId, seg.segmentId, seg.destinationId, seg.audienceId, g.campaignId, g.campaignName, g.adgroupId, g.adgroupName,
        String(impressions), centsText(cents), 'USD', seg.pricePercent, centsText(dataCostCents(cents, seg.pricePercent)), String(used.length), used[0]!, used[used.length - 1]!, shared ? 'yes' : 'no', 'report_time',
      ];
      lines.push({ sort: [seg.providerId, seg.segmentId, seg.destinationId, g.campaignId, g.adgroupId], line: row.join(',') });
    }
  }
  lines.sort((a, b) => {
    for (let i = 0; i < a.sort.length; i++) if (a.sort[i] !== b.sort[i]) return a.sort[i]! < b.sort[i]! ? -1 : 1;
    return 0;
  });
  const header = 'report_month,advertiser_id,provider_id,segment_id,destination_id,audience_id,campaign_id,campaign_name,adgroup_id,adgroup_name,impressions,amount_spent,currency,price_percent,data_cost,days_in_use,first_day,last_day,shared_adgroup,targeting_source';
  return [header, ...lines.map((l) => l.line)];
}

// --- notices ----------------------------------------------------------------------------

/** The Message-ID a notice's email carries: the first 40 hex of sha256(key) at notices.ttsync. */
export const noticeMailId = (key: string): string => `${sha256(key).slice(0, 40)}@notices.ttsync`;
