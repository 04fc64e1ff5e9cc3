import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkTemplateSchema, trackingLinks } from '../../../src/san-migration/links';

const template = LinkTemplateSchema.parse(JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'san-migration', 'links-appsflyer-like.json'), 'utf8')));
const ios = { appId: 'acme-ios', platform: 'ios' as const, storeAppId: 'id1234567890', tiktokAppId: '7200000000000000001' };
const android = { appId: 'acme-android', platform: 'android' as const, storeAppId: 'com.acme.game', tiktokAppId: '7200000000000000002' };

// Written out by hand from the fixture: the order of its params, macros from the digest §12.2.
const common =
  'pid=tiktokglobal_int&c=__CAMPAIGN_NAME__&af_c_id=__CAMPAIGN_ID__&af_adset=__AID_NAME__&af_adset_id=__AID__&af_ad=__CID_NAME__&af_ad_id=__CID__&af_channel=__PLACEMENT__&clickid=__CALLBACK_PARAM__';

describe('tracking links', () => {
  it('click-through and view-through for an iOS app, IDFA only', () => {
    expect(trackingLinks(template, ios)).toEqual({
      mmp: 'appsflyer-like',
      appId: 'acme-ios',
      platform: 'ios',
      reengagement: false,
      clickThroughUrl: `https://app.mmp.example/id1234567890?${common}&idfa=__IDFA__&af_ip=__IP__&af_ua=__UA__&af_lang=__SL__&af_click_lookback=7d`,
      viewThroughUrl: `https://impression.mmp.example/id1234567890?${common}&idfa=__IDFA__&af_ip=__IP__&af_ua=__UA__&af_lang=__SL__&af_viewthrough_lookback=1d`,
      unconfirmedMacros: [],
    });
  });

  it('re-engagement links carry the flag; Android gets the GAID', () => {
    const l = trackingLinks(template, android, { reengagement: true });
    expect(l.clickThroughUrl).toBe(`https://app.mmp.example/com.acme.game?${common}&advertising_id=__GAID__&af_ip=__IP__&af_ua=__UA__&af_lang=__SL__&af_click_lookback=7d&is_retargeting=true`);
    expect(l.viewThroughUrl.endsWith('&af_viewthrough_lookback=1d&is_retargeting=true')).toBe(true);
    expect(l.reengagement).toBe(true);
  });

  it('names unconfirmed macros, keeps "~" in names, and encodes fixed values', () => {
    const t = LinkTemplateSchema.parse({
      mmp: 'branch-like',
      click: { url: 'https://l.mmp.example/{tiktokAppId}' },
      impression: { url: 'https://l.mmp.example/{tiktokAppId}?imp=1' },
      params: [
        { name: '~campaign_id', macro: 'campaign_id' },
        { name: 'os', macro: 'os' },
        { name: 'note', value: 'a b&c' },
      ],
      reengagement: { name: '$re', value: 'yes' },
    });
    const l = trackingLinks(t, ios, { reengagement: true });
    expect(l.clickThroughUrl).toBe('https://l.mmp.example/7200000000000000001?~campaign_id=__CAMPAIGN_ID__&os=__OS__&note=a%20b%26c&%24re=yes');
    expect(l.viewThroughUrl).toBe('https://l.mmp.example/7200000000000000001?imp=1&~campaign_id=__CAMPAIGN_ID__&os=__OS__&note=a%20b%26c&%24re=yes');
    expect(l.unconfirmedMacros).toEqual(['__OS__']);
  });

  it('refuses a param with both or neither of macro and value, an unknown macro and a non-https URL', () => {
    const r = LinkTemplateSchema.safeParse({
      mmp: 'x',
      click: { url: 'http://insecure.example' },
      impression: { url: 'https://ok.example' },
      params: [{ name: 'a' }, { name: 'b', macro: 'nope' }],
      reengagement: { name: 'r', value: '1' },
    });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['click.url', 'params.0', 'params.1.macro']));
  });
});
