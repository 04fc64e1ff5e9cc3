/*
 * How mobile measurement partners name TikTok as an ad network in their reporting. The
 * retention policy recognises TikTok-attributed rows by these names, and the SAN migration
 * writes the same names, so both read them from here. Pure: workflows import it.
 */

export const TIKTOK_NETWORK_NAMES = {
  android: 'TikTok for Business – Android',
  ios: 'TikTok for Business – iOS',
  san: 'TikTok for Business – SAN',
} as const;

/** Every default TikTok network name, in a stable order. */
export const DEFAULT_TIKTOK_NETWORKS: readonly string[] = [TIKTOK_NETWORK_NAMES.android, TIKTOK_NETWORK_NAMES.ios, TIKTOK_NETWORK_NAMES.san];

/** The network users fall back to once TikTok's attribution is withdrawn. */
export const ORGANIC_NETWORK = 'Organic';
