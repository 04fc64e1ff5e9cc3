/** Request-side types. Enum values follow the digest (shared/tiktok-api.md §3.1, §4.2, §5). */

export const CALCULATE_TYPES = [
  'EMAIL_SHA256',
  'PHONE_SHA256',
  'IDFA_SHA256',
  'IDFA_MD5',
  'GAID_SHA256',
  'GAID_MD5',
  'FIRST_SHA256',
  'FIRST_MD5',
  'MAID_SHA256',
  'MAID_MD5',
  'MULTIPLE_TYPES',
] as const;
export type CalculateType = (typeof CALCULATE_TYPES)[number];

export const ID_SCHEMAS = ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256', 'IDFA_MD5', 'AAID_SHA256', 'AAID_MD5'] as const;
export type IdSchema = (typeof ID_SCHEMAS)[number];

export type AudienceAction = 'APPEND' | 'REMOVE' | 'REPLACE';

export interface CreateAudienceRequest {
  advertiserId: string;
  name: string;
  calculateType: CalculateType;
  filePaths: string[];
  retentionInDays?: number;
  audienceSubType?: 'NORMAL' | 'REACH_FREQUENCY';
}

export interface UpdateAudienceRequest {
  advertiserId: string;
  audienceId: string;
  name?: string;
  action?: AudienceAction;
  filePaths?: string[];
}

export interface SegmentMappingRequest {
  advertiserIds: string[];
  action: 'add' | 'delete';
  idSchema: IdSchema[];
  /** One entry per user: identifier digests keyed by schema; missing keys become `{}`. */
  users: Array<Partial<Record<IdSchema, string>>>;
  audienceIds: string[];
}

export type EventSource = 'web' | 'app' | 'offline' | 'crm';

export interface TrackedEvent {
  event: string;
  event_time: number;
  event_id?: string;
  user?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  page?: { url?: string; referrer?: string };
  app?: Record<string, unknown>;
  ad?: Record<string, unknown>;
  lead?: Record<string, unknown>;
  limited_data_use?: boolean;
}

export interface TrackEventsRequest {
  eventSource: EventSource;
  eventSourceId: string;
  data: TrackedEvent[];
  partnerName?: string;
  testEventCode?: string;
}

export type ReportDataLevel = 'AUCTION_ADVERTISER' | 'AUCTION_CAMPAIGN' | 'AUCTION_ADGROUP' | 'AUCTION_AD';

export interface IntegratedReportRequest {
  advertiserId: string;
  reportType?: 'BASIC';
  dataLevel: ReportDataLevel;
  dimensions: string[];
  metrics: string[];
  /** YYYY-MM-DD, inclusive, in the advertiser's time zone. */
  startDate: string;
  endDate: string;
  page?: number;
  pageSize?: number;
}
