import { z } from 'zod';

/**
 * Response shapes of the endpoints ttsync uses (one schema per concept; types derive from
 * them). Objects are loose: TikTok adds fields over time and extra fields must not break us.
 * Ids are strings in v1.3; numbers are accepted and turned into strings because older
 * responses used them.
 */
const id = z.union([z.string(), z.number()]).transform(String);

export const EnvelopeSchema = z.looseObject({
  code: z.number().int(),
  message: z.string().default(''),
  request_id: z.string().optional(),
  data: z.unknown().optional(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const PageInfoSchema = z.looseObject({
  page: z.number().int(),
  page_size: z.number().int(),
  total_number: z.number().int(),
  total_page: z.number().int(),
});
export type PageInfo = z.infer<typeof PageInfoSchema>;

export const EmptyDataSchema = z.unknown();

export const AccessTokenDataSchema = z.looseObject({
  access_token: z.string().min(1),
  advertiser_ids: z.array(id).default([]),
  scope: z.array(z.union([z.number(), z.string()])).default([]),
});

export const AuthorizedAdvertisersDataSchema = z.looseObject({
  list: z.array(z.looseObject({ advertiser_id: id, advertiser_name: z.string().nullish() })),
});

export const AdvertiserInfoDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      advertiser_id: id,
      name: z.string().nullish(),
      currency: z.string().nullish(),
      timezone: z.string().nullish(),
      status: z.string().nullish(),
    }),
  ),
});

export const UserInfoDataSchema = z.looseObject({
  core_user_id: id.optional(),
  display_name: z.string().nullish(),
  email: z.string().nullish(),
  create_time: z.number().nullish(),
});

export const FileUploadDataSchema = z.looseObject({ file_path: z.string().min(1) });

export const AudienceCreateDataSchema = z.looseObject({ custom_audience_id: id });

export const AudienceSchema = z.looseObject({
  audience_id: id,
  name: z.string(),
  audience_type: z.string().nullish(),
  type: z.string().nullish(),
  audience_sub_type: z.string().nullish(),
  calculate_type: z.string().nullish(),
  cover_num: z.number().int().nullish(),
  is_valid: z.boolean(),
  is_expiring: z.boolean().nullish(),
  is_creator: z.boolean().nullish(),
  shared: z.boolean().nullish(),
  msg: z.string().nullish(),
  error_msg: z.string().nullish(),
  create_time: z.string().nullish(),
  expired_time: z.string().nullish(),
});
export type Audience = z.infer<typeof AudienceSchema>;

export const AudienceListDataSchema = z.looseObject({
  list: z.array(AudienceSchema),
  page_info: PageInfoSchema,
});

export const AudienceHistoryEntrySchema = z.looseObject({
  opt_time: z.string(),
  action: z.string(),
  action_detail: z.string().nullish(),
  editor: z.string().nullish(),
  msg: z.string().nullish(),
});
export type AudienceHistoryEntry = z.infer<typeof AudienceHistoryEntrySchema>;

export const AudienceGetDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      audience_details: AudienceSchema,
      audience_history: z.array(AudienceHistoryEntrySchema).default([]),
    }),
  ),
});

export const SegmentAudienceDataSchema = z.looseObject({ audience_id: id });

/** `report/integrated/get/` rows: dimension values and metric values both arrive as strings (or numbers). */
export const ReportRowSchema = z.looseObject({
  dimensions: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)),
  metrics: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
});
export type ReportRow = z.infer<typeof ReportRowSchema>;

export const ReportDataSchema = z.looseObject({
  list: z.array(ReportRowSchema),
  page_info: PageInfoSchema,
});
