/*
 * TikTok API limits ttsync plans around. Pure (workflows import it).
 */

/**
 * File paths one audience create/update call carries: TikTok allows 500 per audience and
 * recommends fewer than 50 per request. The workflow splits into calls of this size and the
 * activity refuses more, so both read it here.
 */
export const MAX_FILE_PATHS_PER_CALL = 50;

/** Custom audiences per advertiser (customer-file and partner together): a create beyond it is refused. */
export const CUSTOM_AUDIENCE_CAP = 400;
