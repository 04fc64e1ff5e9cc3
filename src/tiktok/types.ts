import { IDENTIFIER_TYPES, type IdentifierType } from '../identifiers/schema';

/**
 * Request-side types. Enum values follow the digest (shared/tiktok-api.md §3.1, §4.2, §5).
 * Pure (workflows import it). Identifier type names come from src/identifiers, the one list
 * of them; this module says which of them each TikTok field takes.
 */

/**
 * Identifier types no customer file is typed as: the file upload calls Android's advertising
 * id GAID (AAID is segment mapping's name), and external ids have no customer-file type.
 */
const NOT_FILE_TYPES = ['AAID_SHA256', 'AAID_MD5', 'EXTERNAL_ID_SHA256'] as const satisfies readonly IdentifierType[];
type FileIdentifierType = Exclude<IdentifierType, (typeof NOT_FILE_TYPES)[number]>;
const isFileType = (t: IdentifierType): t is FileIdentifierType => !(NOT_FILE_TYPES as readonly string[]).includes(t);

/** TikTok's customer-file types: ttsync's identifier types plus two TikTok has and ttsync does not produce, and the mix. */
export const CALCULATE_TYPES = [...IDENTIFIER_TYPES.filter(isFileType), 'FIRST_SHA256', 'FIRST_MD5', 'MULTIPLE_TYPES'] as const;
export type CalculateType = (typeof CALCULATE_TYPES)[number];

/** The identifier types segment mapping's id_schema takes. */
export const ID_SCHEMAS = ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256', 'IDFA_MD5', 'AAID_SHA256', 'AAID_MD5'] as const satisfies readonly IdentifierType[];
export type IdSchema = (typeof ID_SCHEMAS)[number];

/**
 * TikTok's calculate_type for a file of one identifier type (tiktok-api.md §3.1): AAID files
 * are GAID files. External ids have no customer-file type; destination configs refuse them
 * before this point.
 */
export function calculateTypeOf(type: IdentifierType): CalculateType {
  switch (type) {
    case 'AAID_SHA256':
      return 'GAID_SHA256';
    case 'AAID_MD5':
      return 'GAID_MD5';
    case 'EXTERNAL_ID_SHA256':
      throw new RangeError('EXTERNAL_ID_SHA256 has no TikTok customer-file calculate_type');
    default:
      return type;
  }
}

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
