import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { parseTikTokEnv, type TikTokEnv } from './config';
import { InvalidRequest } from './errors';
import type { MetricMeter } from '@temporalio/common';
import { tiktokCallMetrics } from './metrics';
import { appRateLimiters, type AppRateLimiters } from './rateLimiter';
import {
  AccessTokenDataSchema,
  AdgroupDayReportDataSchema,
  AdgroupListDataSchema,
  CampaignListDataSchema,
  AdvertiserInfoDataSchema,
  AudienceCreateDataSchema,
  AudienceGetDataSchema,
  AudienceListDataSchema,
  AuthorizedAdvertisersDataSchema,
  BcAssetsDataSchema,
  BusinessCentersDataSchema,
  EmptyDataSchema,
  FileUploadDataSchema,
  SegmentAudienceDataSchema,
  UserInfoDataSchema,
  reportDataSchema,
  type ReportRow,
} from './schemas';
import { Transport, type CallSpec, type RetryInfo, type RetryPolicy } from './transport';
import type {
  CalculateType,
  CreateAudienceRequest,
  IdSchema,
  IntegratedReportRequest,
  SegmentMappingRequest,
  TrackEventsRequest,
  UpdateAudienceRequest,
} from './types';

export interface TikTokClientOptions {
  /** Omit for the auth-only calls (auth_code exchange). Never logged, never serialized. */
  accessToken?: string;
  /** Keys the per-app rate limiter; clients of one app in one process share it. */
  appId?: string;
  env?: Partial<TikTokEnv>;
  limiters?: AppRateLimiters;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: RetryInfo) => void;
  /** Where each request's count and latency go (ttsync_tiktok_*); a worker's activities pass the SDK's meter. None: not measured. */
  meter?: MetricMeter;
  fetch?: typeof fetch;
}

export const MAX_EVENTS_PER_REQUEST = 1000;

/** Typed TikTok Business API v1.3 client for the endpoints ttsync uses. */
export class TikTokClient {
  private readonly t: Transport;
  readonly appId: string;

  constructor(options: TikTokClientOptions = {}) {
    const env: TikTokEnv = { ...parseTikTokEnv(process.env), ...options.env };
    this.appId = options.appId ?? env.TIKTOK_APP_ID ?? 'default';
    const limiters =
      options.limiters ??
      appRateLimiters(this.appId, { qps: env.TIKTOK_QPS, eventsQps: env.TIKTOK_EVENTS_QPS, workers: env.TIKTOK_QPS_WORKERS });
    this.t = new Transport(
      {
        baseUrl: env.TIKTOK_API_BASE_URL.replace(/\/+$/, ''),
        timeoutMs: env.TIKTOK_TIMEOUT_MS,
        uploadTimeoutMs: env.TIKTOK_UPLOAD_TIMEOUT_MS,
        limiters,
        retry: {
          maxAttempts: env.TIKTOK_MAX_ATTEMPTS,
          unexpectedResponseAttempts: env.TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS,
          initialDelayMs: 500,
          maxDelayMs: 30_000,
          ...options.retry,
        },
        onRetry: options.onRetry,
        ...(options.meter ? { onCall: tiktokCallMetrics(options.meter) } : {}),
        fetch: options.fetch,
      },
      options.accessToken,
    );
  }

  get baseUrl(): string {
    return this.t.baseUrl;
  }

  // Belt and braces: the token is in a #private field already, invisible to both.
  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, appId: this.appId };
  }
  [inspect.custom](): string {
    return `TikTokClient { baseUrl: '${this.baseUrl}', appId: '${this.appId}' }`;
  }

  private async call<T>(spec: CallSpec<T>): Promise<T> {
    return (await this.t.call(spec)).data;
  }

  // ---------------------------------------------------------------- auth

  /** Exchanges a single-use auth_code (1 h) for a long-lived advertiser token. */
  async exchangeAuthCode(req: { appId: string; secret: string; authCode: string }) {
    const d = await this.call({
      method: 'POST',
      path: 'oauth2/access_token/',
      json: { app_id: req.appId, secret: req.secret, auth_code: req.authCode },
      auth: false,
      bucket: 'default',
      // The code is single-use: a retry after an unknown outcome would fail with 40110 anyway.
      idempotent: false,
      schema: AccessTokenDataSchema,
    });
    return { accessToken: d.access_token, advertiserIds: d.advertiser_ids, scope: d.scope };
  }

  /** Advertisers that authorized this app for the token. */
  async getAuthorizedAdvertisers(req: { appId: string; secret: string }) {
    const d = await this.call({
      method: 'GET',
      path: 'oauth2/advertiser/get/',
      query: { app_id: req.appId, secret: req.secret },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: AuthorizedAdvertisersDataSchema,
    });
    return d.list.map((a) => ({ advertiserId: a.advertiser_id, name: a.advertiser_name ?? null }));
  }

  async getAdvertiserInfo(advertiserIds: string[], fields?: string[]) {
    const d = await this.call({
      method: 'GET',
      path: 'advertiser/info/',
      query: { advertiser_ids: advertiserIds, fields },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: AdvertiserInfoDataSchema,
    });
    return d.list;
  }

  /** Cheapest token check: code 0 means the token is valid. */
  async getUserInfo() {
    return this.call({
      method: 'GET',
      path: 'user/info/',
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: UserInfoDataSchema,
    });
  }

  // ---------------------------------------------------------------- Business Center (roles)

  /** One page of the Business Centers the token's user belongs to (page_size 1-50). */
  async getBusinessCenters(req: { page?: number; pageSize?: number } = {}) {
    const d = await this.call({
      method: 'GET',
      path: 'bc/get/',
      query: { page: req.page, page_size: req.pageSize },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: BusinessCentersDataSchema,
    });
    return { centers: d.list.map((c) => ({ bcId: c.bc_info.bc_id, name: c.bc_info.name ?? null, userRole: c.user_role ?? null })), pageInfo: d.page_info };
  }

  /** One page of a Business Center's assets of one type, with the user's role on each ad account. */
  async getBcAssets(req: { bcId: string; assetType?: 'ADVERTISER'; page?: number; pageSize?: number }) {
    const d = await this.call({
      method: 'GET',
      path: 'bc/asset/get/',
      query: { bc_id: req.bcId, asset_type: req.assetType ?? 'ADVERTISER', page: req.page, page_size: req.pageSize },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: BcAssetsDataSchema,
    });
    return { assets: d.list, pageInfo: d.page_info };
  }

  // ---------------------------------------------------------------- customer-file audiences

  /**
   * Uploads one customer file; file_signature is the MD5 of exactly these bytes. `md5` (hex)
   * is for a caller that has just hashed these very bytes (a file it verified before sending):
   * hashing a 30 MiB file again cost a third of the upload's CPU. A Blob (sent as it is,
   * without the copy a Uint8Array gets) comes only with its MD5.
   */
  async uploadAudienceFile(req: { advertiserId: string; calculateType: CalculateType; fileName: string } & ({ content: Uint8Array; md5?: string } | { content: Blob; md5: string })) {
    if (!/\.(csv|txt)$/.test(req.fileName)) {
      throw new InvalidRequest({
        code: null,
        requestId: null,
        httpStatus: null,
        endpoint: 'dmp/custom_audience/file/upload/',
        tiktokMessage: 'file name must end in .csv or .txt',
      });
    }
    const content = req.content;
    const signature = req.md5 ?? createHash('md5').update(content as Uint8Array).digest('hex');
    const file = content instanceof Blob ? content : new Blob([content]);
    const d = await this.call({
      method: 'POST',
      path: 'dmp/custom_audience/file/upload/',
      form: () => {
        const f = new FormData();
        f.set('advertiser_id', req.advertiserId);
        f.set('calculate_type', req.calculateType);
        f.set('file_signature', signature);
        f.set('file_name', req.fileName);
        f.set('file', file, req.fileName);
        return f;
      },
      auth: true,
      bucket: 'default',
      idempotent: true, // a repeated upload only yields another file_path
      schema: FileUploadDataSchema,
    });
    return { filePath: d.file_path, fileSignature: signature };
  }

  async createAudience(req: CreateAudienceRequest) {
    const d = await this.call({
      method: 'POST',
      path: 'dmp/custom_audience/create/',
      json: {
        advertiser_id: req.advertiserId,
        custom_audience_name: req.name,
        calculate_type: req.calculateType,
        file_paths: req.filePaths,
        retention_in_days: req.retentionInDays,
        audience_sub_type: req.audienceSubType,
      },
      auth: true,
      bucket: 'default',
      // No idempotency key: a create that timed out may exist; the caller lists and reconciles.
      idempotent: false,
      schema: AudienceCreateDataSchema,
    });
    return { audienceId: d.custom_audience_id };
  }

  /** APPEND adds rows, REMOVE removes matching rows, REPLACE swaps the whole set (TikTok's default). */
  async updateAudience(req: UpdateAudienceRequest): Promise<void> {
    if (req.filePaths && !req.action) {
      // TikTok's default is REPLACE: a forgotten action would silently drop the audience.
      throw new InvalidRequest({
        code: null,
        requestId: null,
        httpStatus: null,
        endpoint: 'dmp/custom_audience/update/',
        tiktokMessage: 'action (APPEND, REMOVE or REPLACE) is required with file_paths',
      });
    }
    await this.call({
      method: 'POST',
      path: 'dmp/custom_audience/update/',
      json: {
        advertiser_id: req.advertiserId,
        custom_audience_id: req.audienceId,
        custom_audience_name: req.name,
        action: req.filePaths ? req.action : undefined,
        file_paths: req.filePaths,
      },
      auth: true,
      bucket: 'default',
      idempotent: true, // set operations: applying twice gives the same set
      schema: EmptyDataSchema,
    });
  }

  async listAudiences(req: { advertiserId: string; audienceIds?: string[]; page?: number; pageSize?: number }) {
    const d = await this.call({
      method: 'GET',
      path: 'dmp/custom_audience/list/',
      query: {
        advertiser_id: req.advertiserId,
        custom_audience_ids: req.audienceIds,
        page: req.page,
        page_size: req.pageSize,
      },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: AudienceListDataSchema,
    });
    return { audiences: d.list, pageInfo: d.page_info };
  }

  /** One page of the advertiser's campaigns (read-only; digest §11.2). `filtering` is TikTok's object form. */
  async getCampaigns(req: { advertiserId: string; filtering?: Record<string, unknown>; page?: number; pageSize?: number }) {
    const d = await this.call({
      method: 'GET',
      path: 'campaign/get/',
      query: { advertiser_id: req.advertiserId, filtering: req.filtering, page: req.page, page_size: req.pageSize },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: CampaignListDataSchema,
    });
    return { campaigns: d.list, pageInfo: d.page_info };
  }

  /** Every campaign of the advertiser (all pages of 1,000). */
  async listAllCampaigns(advertiserId: string, filtering?: Record<string, unknown>) {
    const all = [];
    for (let page = 1; ; page++) {
      const r = await this.getCampaigns({ advertiserId, filtering, page, pageSize: 1000 });
      all.push(...r.campaigns);
      if (page >= r.pageInfo.total_page) return all;
    }
  }

  /** One page of the advertiser's ad groups (read-only; digest §11.1). */
  async getAdgroups(req: { advertiserId: string; filtering?: Record<string, unknown>; page?: number; pageSize?: number }) {
    const d = await this.call({
      method: 'GET',
      path: 'adgroup/get/',
      query: { advertiser_id: req.advertiserId, filtering: req.filtering, page: req.page, page_size: req.pageSize },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: AdgroupListDataSchema,
    });
    return { adgroups: d.list, pageInfo: d.page_info };
  }

  /** Every ad group of the advertiser (all pages of 1,000), deleted ones included when `filtering` asks. */
  async listAllAdgroups(advertiserId: string, filtering?: Record<string, unknown>) {
    const all = [];
    for (let page = 1; ; page++) {
      const r = await this.getAdgroups({ advertiserId, filtering, page, pageSize: 1000 });
      all.push(...r.adgroups);
      if (page >= r.pageInfo.total_page || r.adgroups.length === 0) return all;
    }
  }

  /**
   * Which audiences each ad group targets and excludes now, with campaign names (from the ad
   * group where TikTok gives it, else from campaign/get). Deleted ad groups are included: a
   * report covers a month in which they may have run.
   */
  async adgroupTargeting(advertiserId: string): Promise<AdgroupTargeting[]> {
    const adgroups = await this.listAllAdgroups(advertiserId, { primary_status: 'STATUS_ALL' });
    const missing = adgroups.some((a) => !a.campaign_name);
    const names = new Map<string, string>();
    if (missing) for (const c of await this.listAllCampaigns(advertiserId, { primary_status: 'STATUS_ALL' })) names.set(c.campaign_id, c.campaign_name ?? '');
    return adgroups.map((a) => ({
      adgroupId: a.adgroup_id,
      adgroupName: a.adgroup_name ?? '',
      campaignId: a.campaign_id,
      campaignName: a.campaign_name ?? names.get(a.campaign_id) ?? '',
      audienceIds: [...new Set(a.audience_ids)].sort(),
      excludedAudienceIds: [...new Set([...a.excluded_audience_ids, ...a.exclude_audience_ids])].sort(),
    }));
  }

  /**
   * Impressions and spend per ad group per day (AUCTION_ADGROUP by stat_time_day), exactly:
   * counts as digit strings, spend as micro-units (src/tiktok/money.ts). The range is pulled
   * in windows of at most 30 days (TikTok's limit with a day dimension, digest §10.1), every
   * page of each; `adgroupIds` filters 100 at a time. Days are the advertiser's.
   */
  async adgroupDailyStats(req: { advertiserId: string; startDate: string; endDate: string; adgroupIds?: readonly string[]; pageSize?: number; onPage?: () => void }): Promise<AdgroupDayStats[]> {
    const out: AdgroupDayStats[] = [];
    const chunks: Array<readonly string[] | undefined> = [];
    if (req.adgroupIds) for (let i = 0; i < req.adgroupIds.length; i += MAX_REPORT_FILTER_IDS) chunks.push(req.adgroupIds.slice(i, i + MAX_REPORT_FILTER_IDS));
    else chunks.push(undefined);
    for (const [startDate, endDate] of reportWindows(req.startDate, req.endDate, MAX_REPORT_DAYS_BY_DAY)) {
      for (const ids of chunks) {
        if (ids && ids.length === 0) continue;
        for (let page = 1; ; page++) {
          const d = await this.call({
            method: 'GET',
            path: 'report/integrated/get/',
            query: {
              advertiser_id: req.advertiserId,
              report_type: 'BASIC',
              service_type: 'AUCTION',
              data_level: 'AUCTION_ADGROUP',
              dimensions: ['adgroup_id', 'stat_time_day'],
              metrics: ['impressions', 'spend', 'currency'],
              start_date: startDate,
              end_date: endDate,
              // Deleted ad groups spent too (digest §10.1: the default filter hides them).
              filtering: [
                { field_name: 'adgroup_status', filter_type: 'IN', filter_value: JSON.stringify(['STATUS_ALL']) },
                ...(ids ? [{ field_name: 'adgroup_ids', filter_type: 'IN', filter_value: JSON.stringify(ids) }] : []),
              ],
              page,
              page_size: req.pageSize ?? 1000,
            },
            auth: true,
            bucket: 'default',
            idempotent: true,
            schema: AdgroupDayReportDataSchema,
          });
          for (const r of d.list)
            out.push({
              adgroupId: r.dimensions.adgroup_id,
              day: r.dimensions.stat_time_day.slice(0, 10),
              impressions: r.metrics.impressions,
              spendMicros: r.metrics.spend,
              currency: r.metrics.currency ?? null,
            });
          req.onPage?.();
          if (page >= d.page_info.total_page || d.list.length === 0) break;
        }
      }
    }
    return out;
  }

  async getAudiences(req: { advertiserId: string; audienceIds: string[]; historySize?: number }) {
    const d = await this.call({
      method: 'GET',
      path: 'dmp/custom_audience/get/',
      query: { advertiser_id: req.advertiserId, custom_audience_ids: req.audienceIds, history_size: req.historySize },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: AudienceGetDataSchema,
    });
    return d.list.map((e) => ({ details: e.audience_details, history: e.audience_history }));
  }

  async deleteAudiences(req: { advertiserId: string; audienceIds: string[] }): Promise<void> {
    await this.call({
      method: 'POST',
      path: 'dmp/custom_audience/delete/',
      json: { advertiser_id: req.advertiserId, custom_audience_ids: req.audienceIds },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: EmptyDataSchema,
    });
  }

  // ---------------------------------------------------------------- partner segment API

  async createSegmentAudience(req: { advertiserId: string; name: string }) {
    const d = await this.call({
      method: 'POST',
      path: 'segment/audience/',
      json: { advertiser_id: req.advertiserId, action: 'create', custom_audience_name: req.name },
      auth: true,
      bucket: 'default',
      idempotent: false, // duplicate names are allowed: a retry would create a second audience
      schema: SegmentAudienceDataSchema,
    });
    return { audienceId: d.audience_id };
  }

  async deleteSegmentAudience(req: { advertiserId: string; audienceId: string }): Promise<void> {
    await this.call({
      method: 'POST',
      path: 'segment/audience/',
      json: { advertiser_id: req.advertiserId, action: 'delete', delete_audience_id: req.audienceId },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: EmptyDataSchema,
    });
  }

  /**
   * Adds or deletes users. Each user becomes one positional row with one slot per idSchema
   * entry; a missing identifier is `{}` so the slots stay aligned.
   */
  async segmentMapping(req: SegmentMappingRequest): Promise<void> {
    const batch = buildSegmentBatch(req.idSchema, req.users, req.audienceIds);
    await this.call({
      method: 'POST',
      path: 'segment/mapping/',
      json: { advertiser_ids: req.advertiserIds, action: req.action, id_schema: req.idSchema, batch_data: batch },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: EmptyDataSchema,
    });
  }

  // ---------------------------------------------------------------- events

  /** Resolves with `partial: true` on code 20001 (some events not accepted; the message says which). */
  async trackEvents(req: TrackEventsRequest): Promise<{ partial: boolean; message: string; requestId: string | null }> {
    if (req.data.length === 0 || req.data.length > MAX_EVENTS_PER_REQUEST) {
      throw new InvalidRequest({
        code: null,
        requestId: null,
        httpStatus: null,
        endpoint: 'event/track/',
        tiktokMessage: `data must hold 1 to ${MAX_EVENTS_PER_REQUEST} events, got ${req.data.length}`,
      });
    }
    const r = await this.t.call({
      method: 'POST',
      path: 'event/track/',
      json: {
        event_source: req.eventSource,
        event_source_id: req.eventSourceId,
        partner_name: req.partnerName,
        test_event_code: req.testEventCode,
        data: req.data,
      },
      auth: true,
      bucket: 'events',
      idempotent: true, // TikTok dedups on (event_source_id, event_id, event)
      schema: EmptyDataSchema,
    });
    return { partial: r.code === 20001, message: r.message, requestId: r.requestId };
  }

  // ---------------------------------------------------------------- reporting

  async getIntegratedReport(req: IntegratedReportRequest) {
    const d = await this.call({
      method: 'GET',
      path: 'report/integrated/get/',
      query: {
        advertiser_id: req.advertiserId,
        report_type: req.reportType ?? 'BASIC',
        service_type: 'AUCTION',
        data_level: req.dataLevel,
        dimensions: req.dimensions,
        metrics: req.metrics,
        start_date: req.startDate,
        end_date: req.endDate,
        page: req.page,
        page_size: req.pageSize,
      },
      auth: true,
      bucket: 'default',
      idempotent: true,
      schema: reportDataSchema(req.dimensions, req.metrics),
    });
    return { rows: d.list, pageInfo: d.page_info };
  }

  /**
   * Daily impressions and spend per campaign (or per advertiser) for an inclusive date range,
   * all pages. Metric strings become numbers; spend is in the advertiser's currency.
   */
  async dailySpend(req: {
    advertiserId: string;
    level: 'AUCTION_ADVERTISER' | 'AUCTION_CAMPAIGN';
    startDate: string;
    endDate: string;
    pageSize?: number;
  }): Promise<Array<{ id: string; day: string; impressions: number; spend: number }>> {
    const idDim = req.level === 'AUCTION_CAMPAIGN' ? 'campaign_id' : 'advertiser_id';
    const out: Array<{ id: string; day: string; impressions: number; spend: number }> = [];
    for (let page = 1; ; page++) {
      const { rows, pageInfo } = await this.getIntegratedReport({
        advertiserId: req.advertiserId,
        dataLevel: req.level,
        dimensions: [idDim, 'stat_time_day'],
        metrics: ['impressions', 'spend'],
        startDate: req.startDate,
        endDate: req.endDate,
        page,
        pageSize: req.pageSize ?? 1000,
      });
      for (const r of rows) out.push(parseSpendRow(r, idDim));
      if (page >= pageInfo.total_page) return out;
    }
  }
}

function parseSpendRow(r: ReportRow, idDim: string) {
  // "-" and null are TikTok's "no value" (digest §10.2): nothing delivered, nothing spent.
  const num = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' || v === '-' ? 0 : Number(v));
  return {
    // Both dimensions were requested, so the schema has made them present.
    id: r.dimensions[idDim] ?? '',
    // stat_time_day comes as "YYYY-MM-DD 00:00:00".
    day: (r.dimensions.stat_time_day ?? '').slice(0, 10),
    impressions: num(r.metrics.impressions),
    spend: num(r.metrics.spend),
  };
}

/** TikTok's longest range with stat_time_day (digest §10.1). */
export const MAX_REPORT_DAYS_BY_DAY = 30;
/** Ids per report filter (digest §10.1). */
export const MAX_REPORT_FILTER_IDS = 100;

export interface AdgroupTargeting {
  adgroupId: string;
  adgroupName: string;
  campaignId: string;
  campaignName: string;
  /** Sorted, distinct. */
  audienceIds: string[];
  excludedAudienceIds: string[];
}

export interface AdgroupDayStats {
  adgroupId: string;
  /** YYYY-MM-DD in the advertiser's time zone. */
  day: string;
  /** A whole count as digits. */
  impressions: string;
  /** Spend in micro-units of the account currency (exact). */
  spendMicros: bigint;
  currency: string | null;
}

const DAY_MS = 86_400_000;

/** [start, end] inclusive day ranges of at most `maxDays` days covering start..end. */
export function reportWindows(startDate: string, endDate: string, maxDays: number): Array<[string, string]> {
  const start = Date.parse(`${startDate}T00:00:00Z`);
  const end = Date.parse(`${endDate}T00:00:00Z`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError(`report range ${startDate}..${endDate}: days must be YYYY-MM-DD`);
  const out: Array<[string, string]> = [];
  for (let from = start; from <= end; from += maxDays * DAY_MS) {
    const to = Math.min(end, from + (maxDays - 1) * DAY_MS);
    out.push([new Date(from).toISOString().slice(0, 10), new Date(to).toISOString().slice(0, 10)]);
  }
  return out;
}

/** Positional rows for segment/mapping: slot i holds the identifier for idSchema[i], or `{}`. */
export function buildSegmentBatch(
  idSchema: readonly IdSchema[],
  users: ReadonlyArray<Partial<Record<IdSchema, string>>>,
  audienceIds: readonly string[],
): Array<Array<{ id: string; audience_ids: string[] } | Record<string, never>>> {
  const empty: Record<string, never> = {};
  return users.map((u) =>
    idSchema.map((k) => {
      const v = u[k];
      return v ? { id: v, audience_ids: [...audienceIds] } : { ...empty };
    }),
  );
}
