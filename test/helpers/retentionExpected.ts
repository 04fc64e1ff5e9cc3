/*
 * The retention policy's expected result, computed without the code under test: its own
 * month arithmetic (setUTCMonth on the 1st, then the day clamped), its own CSV field split
 * (the synthetic data has quoted fields but no quoted newlines) and its own per-day sums in
 * integer cents.
 */

export const TIKTOK = ['TikTok for Business – Android', 'TikTok for Business – iOS', 'TikTok for Business – SAN'];
export const CLEARED = ['idfa', 'gaid', 'idfv', 'ip', 'user_agent', 'click_id', 'customer_user_id', 'country', 'campaign', 'campaign_id', 'adgroup', 'creative'];

export function plusMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime();
}

/** Splits one CSV line into raw fields (quotes kept). */
export function splitCsv(line: string): string[] {
  return line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.filter((m, i, all) => !(m === '' && i === all.length - 1)).map((m) => m.replace(/,$/, ''));
}

const unquote = (f: string): string => (f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f);

/** The expected bytes of one synthetic partition file, and how many rows change. */
export function expectedPartition(text: string, asOf: string): { text: string; anonymized: number } {
  const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
  const lines = text.split('\n');
  const header = splitCsv(lines[0]!);
  const net = header.indexOf('network');
  const time = header.indexOf('attribution_time');
  let anonymized = 0;
  const out = lines.map((line, i) => {
    if (i === 0 || line === '') return line;
    const f = splitCsv(line);
    if (!TIKTOK.includes(unquote(f[net]!))) return line;
    if (plusMonths(Date.parse(unquote(f[time]!)), 6) > asOfMs) return line;
    anonymized++;
    return f.map((v, k) => (k === net ? 'Organic' : CLEARED.includes(header[k]!) ? '' : v)).join(',');
  });
  return { text: out.join('\n'), anonymized };
}

/** The same for an NDJSON partition: each line parsed, changed as a row, written back as JSON.stringify writes it (as the generator did). */
export function expectedNdjsonPartition(text: string, asOf: string): { text: string; anonymized: number } {
  const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
  let anonymized = 0;
  const out = text.split('\n').map((line) => {
    if (line === '') return line;
    const row = JSON.parse(line) as Record<string, string>;
    if (!TIKTOK.includes(row.network!)) return line;
    if (plusMonths(Date.parse(row.attribution_time!), 6) > asOfMs) return line;
    anonymized++;
    for (const k of Object.keys(row)) if (k === 'network') row[k] = 'Organic';
    else if (CLEARED.includes(k)) row[k] = '';
    return JSON.stringify(row);
  });
  return { text: out.join('\n'), anonymized };
}

export interface AggRow {
  date: string;
  network: string;
  campaign: string;
  installs: number;
  events: number;
  cents: number;
}

export function parseAggregate(text: string): AggRow[] {
  return text
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => {
      const [date, network, campaign, installs, events, revenue] = splitCsv(l).map(unquote) as [string, string, string, string, string, string];
      return { date, network, campaign, installs: Number(installs), events: Number(events), cents: Math.round(Number(revenue) * 100) };
    });
}

/** TikTok rows of days wholly past the window moved to Organic (campaign cleared) and merged by (date, network, campaign). */
export function expectedAggregate(rows: AggRow[], asOf: string): AggRow[] {
  const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
  const merged = new Map<string, AggRow>();
  for (const r of rows) {
    const dayEnd = Date.parse(`${r.date}T23:59:59.999Z`);
    const moved = TIKTOK.includes(r.network) && plusMonths(dayEnd, 6) <= asOfMs;
    const row = moved ? { ...r, network: 'Organic', campaign: '' } : { ...r };
    const k = `${row.date}|${row.network}|${row.campaign}`;
    const had = merged.get(k);
    if (had) {
      had.installs += row.installs;
      had.events += row.events;
      had.cents += row.cents;
    } else merged.set(k, row);
  }
  return sortRows([...merged.values()]);
}

export function sortRows(rows: AggRow[]): AggRow[] {
  const k = (r: AggRow): string => `${r.date}|${r.network}|${r.campaign}`;
  return [...rows].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export function dayTotals(rows: AggRow[]): Map<string, [number, number, number]> {
  const t = new Map<string, [number, number, number]>();
  for (const r of rows) {
    const v = t.get(r.date) ?? [0, 0, 0];
    v[0] += r.installs;
    v[1] += r.events;
    v[2] += r.cents;
    t.set(r.date, v);
  }
  return t;
}
