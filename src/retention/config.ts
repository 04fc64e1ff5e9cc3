import { z } from 'zod';
import { ConfigError, jsonPathOf, type ConfigProblem } from '../config/errors';
import { NoticeRouteSchema } from '../notices/schema';
import { storageUriSchema } from '../storage/uriSchema';
import { DEFAULT_TIKTOK_NETWORKS, ORGANIC_NETWORK } from '../tiktok/networks';

/*
 * An attribution dataset the TikTok retention policy covers: where its user-level records
 * and aggregate tables live, which columns hold what, which networks are TikTok's and how
 * long their attribution may be kept. Pure (workflows validate their input with it);
 * reading a file is configFile.ts.
 */

/** The user-level fields every dataset clears: device ids, IP, user agent, click ids, customer user id. */
export const DEFAULT_USER_LEVEL_COLUMNS = ['idfa', 'gaid', 'idfv', 'ip', 'user_agent', 'click_id', 'customer_user_id'] as const;
/** TikTok-specific attribution fields cleared with them by default. */
export const DEFAULT_TIKTOK_ATTRIBUTION_COLUMNS = ['campaign', 'campaign_id', 'adgroup', 'adgroup_id', 'creative', 'creative_id'] as const;

const DATASET_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const column = z.string().min(1, 'a column name cannot be empty');
const columns = z.array(column);
const delimiter = z.enum([',', ';', '\t', '|']);

export const RecordsSchema = z.strictObject({
  /** Folder holding `date=YYYY-MM-DD/` partitions (any object names inside them). */
  uri: storageUriSchema('records folder'),
  format: z.enum(['csv', 'ndjson']),
  /** CSV only; the first record is the header. */
  delimiter: delimiter.default(','),
  networkColumn: column.default('network'),
  attributionTimeColumn: column.default('attribution_time'),
  /** iso: `2026-05-01T10:00:00Z` (no zone = UTC); epoch_seconds / epoch_millis: numbers. */
  timeFormat: z.enum(['iso', 'epoch_seconds', 'epoch_millis']).default('iso'),
  /** User-level fields emptied (not hashed: the data must be gone). */
  userLevelColumns: columns.default([...DEFAULT_USER_LEVEL_COLUMNS]),
  /** More user-level fields of this dataset, emptied too. */
  extraUserLevelColumns: columns.default([]),
  /** TikTok-specific attribution fields cleared once the row reads Organic. */
  tiktokAttributionColumns: columns.default([...DEFAULT_TIKTOK_ATTRIBUTION_COLUMNS]),
});

export const AggregateSchema = z.strictObject({
  /** A name for reports and the audit, e.g. "installs_by_day". */
  name: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'lowercase letters, digits, "_" and "-", up to 64'),
  /** Folder of CSV tables (every object under it). */
  uri: storageUriSchema('aggregate folder'),
  delimiter: delimiter.default(','),
  dateColumn: column.default('date'),
  networkColumn: column.default('network'),
  /** Summed when TikTok rows merge into Organic; every other column is a dimension. */
  metricColumns: columns.min(1, 'name at least one metric column'),
  /** Dimensions cleared when a row moves to Organic (campaign and the like). */
  clearColumns: columns.default(['campaign']),
});

export const DatasetConfigSchema = z
  .strictObject({
    datasetId: z.string().regex(DATASET_ID, 'lowercase letters, digits and "-", 1-63, starting with a letter or digit'),
    records: RecordsSchema,
    aggregates: z.array(AggregateSchema).default([]),
    /** Network names that are TikTok's (exact, after trimming spaces). */
    tiktokNetworks: z.array(z.string().trim().min(1)).min(1).default([...DEFAULT_TIKTOK_NETWORKS]),
    /** Calendar months from the original attribution, UTC (see window.ts for the rule). */
    windowMonths: z.number().int().min(1).max(120).default(6),
    /** A different window for some of the TikTok networks. */
    windowMonthsByNetwork: z.record(z.string(), z.number().int().min(1).max(120)).default({}),
    organicNetwork: z.string().min(1).default(ORGANIC_NETWORK),
    /** Partitions up to cutoff + slack are scanned: late rows sit in newer partitions. */
    slackDays: z.number().int().min(0).max(366).default(7),
    /** Folder of the audit: run records, per-object progress and staged versions. */
    audit: storageUriSchema('audit folder'),
    /** Objects anonymized at once (each streams one partition object). */
    parallelism: z.number().int().min(1).max(16).default(2),
    /** Who hears of a failed run (email, webhook); default the workers' TTSYNC_NOTICE_EMAIL / _WEBHOOK. */
    alerts: NoticeRouteSchema.optional(),
  })
  .superRefine((c, ctx) => {
    for (const name of Object.keys(c.windowMonthsByNetwork))
      if (!c.tiktokNetworks.includes(name)) ctx.addIssue({ code: 'custom', path: ['windowMonthsByNetwork', name], message: 'is not one of tiktokNetworks' });
    if (c.tiktokNetworks.includes(c.organicNetwork)) ctx.addIssue({ code: 'custom', path: ['organicNetwork'], message: 'cannot be a TikTok network' });
    const r = c.records;
    for (const col of [...r.userLevelColumns, ...r.extraUserLevelColumns, ...r.tiktokAttributionColumns])
      if (col === r.networkColumn || col === r.attributionTimeColumn)
        ctx.addIssue({ code: 'custom', path: ['records'], message: `column "${col}" cannot be both cleared and the network or attribution time` });
    const names = new Set<string>();
    c.aggregates.forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['aggregates', i, 'name'], message: `duplicate aggregate name "${a.name}"` });
      names.add(a.name);
      for (const m of a.metricColumns)
        if (m === a.dateColumn || m === a.networkColumn || a.clearColumns.includes(m))
          ctx.addIssue({ code: 'custom', path: ['aggregates', i, 'metricColumns'], message: `"${m}" cannot be a metric and a dimension` });
    });
  });

export type DatasetConfigInput = z.input<typeof DatasetConfigSchema>;
export type DatasetConfig = z.output<typeof DatasetConfigSchema>;
export type AggregateConfig = DatasetConfig['aggregates'][number];

export class DatasetConfigError extends ConfigError {
  override name = 'DatasetConfigError';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`invalid retention dataset config ${source}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
}

export function parseDatasetConfig(input: unknown, source = 'input'): DatasetConfig {
  const r = DatasetConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.flatMap((i): ConfigProblem[] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: jsonPathOf([...i.path, k]), message: 'is not a known setting (check the spelling)' }))
      : [{ path: jsonPathOf(i.path), message: i.message }],
  );
  throw new DatasetConfigError(source, problems);
}

export function parseDatasetJson(text: string, source: string): DatasetConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DatasetConfigError(source, [{ path: '$', message: `not JSON: ${(err as Error).message}` }]);
  }
  return parseDatasetConfig(value, source);
}

/** The window of one TikTok network, in months. */
export function windowOf(config: DatasetConfig, network: string): number {
  return config.windowMonthsByNetwork[network] ?? config.windowMonths;
}

/** Every column a TikTok row past its window loses (emptied), deduplicated, in config order. */
export function clearedColumns(config: DatasetConfig): string[] {
  const r = config.records;
  return [...new Set([...r.userLevelColumns, ...r.extraUserLevelColumns, ...r.tiktokAttributionColumns])];
}
