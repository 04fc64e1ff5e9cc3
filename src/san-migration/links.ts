import { z } from 'zod';
import type { App } from './model';

/*
 * TikTok tracking links for an app: the click-through and view-through URLs an MMP's tracker
 * expects, with TikTok's URL macros (digest §12) in the MMP's own parameter names. The
 * template and the macro map are config (they differ per MMP); TikTok fills the macros at
 * click or impression time. Links remain for legacy and non-SAN setups.
 */

/** TikTok's macros by meaning. `confirmed`: named by several TikTok sources (digest §12.2); the rest are UNCONFIRMED. */
export const TIKTOK_MACROS = {
  campaign_id: { macro: '__CAMPAIGN_ID__', confirmed: true },
  campaign_name: { macro: '__CAMPAIGN_NAME__', confirmed: true },
  adgroup_id: { macro: '__AID__', confirmed: true },
  adgroup_name: { macro: '__AID_NAME__', confirmed: true },
  /** The ad (creative) id and name: TikTok has no separate creative id macro. */
  ad_id: { macro: '__CID__', confirmed: true },
  ad_name: { macro: '__CID_NAME__', confirmed: true },
  placement: { macro: '__PLACEMENT__', confirmed: true },
  /** The click or impression token TikTok expects back in attribution callbacks. */
  callback: { macro: '__CALLBACK_PARAM__', confirmed: true },
  idfa: { macro: '__IDFA__', confirmed: true },
  gaid: { macro: '__GAID__', confirmed: true },
  ip: { macro: '__IP__', confirmed: true },
  user_agent: { macro: '__UA__', confirmed: true },
  language: { macro: '__SL__', confirmed: true },
  /** One TikTok source only (digest §12.2). */
  os: { macro: '__OS__', confirmed: false },
  android_id: { macro: '__ANDROIDID1__', confirmed: false },
  creative_type: { macro: '__CTYPE__', confirmed: false },
  callback_url: { macro: '__CALLBACK_URL__', confirmed: false },
} as const;
export type MacroName = keyof typeof TIKTOK_MACROS;
const MACRO_NAMES = Object.keys(TIKTOK_MACROS) as [MacroName, ...MacroName[]];

const ParamSchema = z
  .object({
    /** The MMP's parameter name, e.g. "af_c_id" or "~campaign_id". */
    name: z.string().min(1),
    /** Which TikTok macro fills it… */
    macro: z.enum(MACRO_NAMES).optional(),
    /** …or a fixed value (e.g. the media source "pid=tiktok"). */
    value: z.string().optional(),
    /** Only on links of these platforms (device ids: idfa on iOS, gaid on Android). */
    platforms: z.array(z.enum(['android', 'ios'])).optional(),
  })
  .refine((p) => (p.macro === undefined) !== (p.value === undefined), 'give exactly one of "macro" and "value"');

const LinkKindSchema = z.object({
  /** The tracker URL; {appId}, {storeAppId}, {tiktokAppId} and {platform} are filled from the app. */
  url: z.string().regex(/^https:\/\/[^\s]+$/, 'must be an https:// URL (placeholders {appId}, {storeAppId}, {tiktokAppId}, {platform} allowed)'),
  /** Parameters of this kind of link only (e.g. a click or a view-through lookback window). */
  params: z.array(ParamSchema).default([]),
});

export const LinkTemplateSchema = z.object({
  /** The MMP whose link format this is (a name for people). */
  mmp: z.string().min(1),
  click: LinkKindSchema,
  impression: LinkKindSchema,
  /** Parameters on both links, in order. */
  params: z.array(ParamSchema).min(1),
  /** What marks a re-engagement (retargeting) link, e.g. {"name": "is_retargeting", "value": "true"}. */
  reengagement: z.object({ name: z.string().min(1), value: z.string().min(1) }),
});
export type LinkTemplate = z.infer<typeof LinkTemplateSchema>;
export type LinkTemplateInput = z.input<typeof LinkTemplateSchema>;

export interface TrackingLinks {
  mmp: string;
  appId: string;
  platform: 'android' | 'ios';
  reengagement: boolean;
  clickThroughUrl: string;
  viewThroughUrl: string;
  /** Macro names used that TikTok sources do not confirm (README: UNCONFIRMED). */
  unconfirmedMacros: string[];
}

type LinkApp = Pick<App, 'appId' | 'platform' | 'storeAppId' | 'tiktokAppId'>;

function fill(url: string, app: LinkApp): string {
  return url.replace(/\{(appId|storeAppId|tiktokAppId|platform)\}/g, (_, k: keyof LinkApp) => encodeURIComponent(app[k]));
}

/**
 * Query parameters are appended as written: names and fixed values percent-encoded the way
 * encodeURIComponent does (which keeps "~", "_", "." and "-"), macros verbatim, because TikTok
 * replaces the literal `__NAME__` text.
 */
function build(base: string, params: z.infer<typeof ParamSchema>[], app: LinkApp, extra: { name: string; value: string } | null): string {
  const parts: string[] = [];
  for (const p of params) {
    if (p.platforms && !p.platforms.includes(app.platform)) continue;
    const v = p.macro ? TIKTOK_MACROS[p.macro].macro : encodeURIComponent(fill(p.value!, app));
    parts.push(`${encodeURIComponent(p.name)}=${v}`);
  }
  if (extra) parts.push(`${encodeURIComponent(extra.name)}=${encodeURIComponent(extra.value)}`);
  if (!parts.length) return base;
  return `${base}${base.includes('?') ? '&' : '?'}${parts.join('&')}`;
}

export function trackingLinks(template: LinkTemplate, app: LinkApp, opts: { reengagement?: boolean } = {}): TrackingLinks {
  const re = opts.reengagement ? template.reengagement : null;
  const used = [...template.params, ...template.click.params, ...template.impression.params].filter((p) => p.macro && (!p.platforms || p.platforms.includes(app.platform)));
  return {
    mmp: template.mmp,
    appId: app.appId,
    platform: app.platform,
    reengagement: Boolean(opts.reengagement),
    clickThroughUrl: build(fill(template.click.url, app), [...template.params, ...template.click.params], app, re),
    viewThroughUrl: build(fill(template.impression.url, app), [...template.params, ...template.impression.params], app, re),
    unconfirmedMacros: [...new Set(used.filter((p) => !TIKTOK_MACROS[p.macro!].confirmed).map((p) => TIKTOK_MACROS[p.macro!].macro))],
  };
}
