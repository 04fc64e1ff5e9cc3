import { describe, expect, it } from 'vitest';
import {
  DestinationConfigError,
  DestinationConfigSchema,
  audienceNameFor,
  columnMappingOf,
  parseDestinationConfig,
  parseDestinationJson,
  segmentConflicts,
  type DestinationConfigInput,
} from '../../../src/audience-sync/config';
import { durationMsOf } from '../../../src/config/duration';

const base = (): DestinationConfigInput => ({
  destinationId: 'vip-buyers-us',
  advertiserId: '7012345678901234567',
  audienceName: 'VIP buyers US',
  action: 'create',
  identifiers: { email: 'email', mobile: 'phone', device_id: 'maid' },
  accessToken: 'env:TIKTOK_ACCESS_TOKEN',
  sourceSegmentId: 'seg-42',
});

/** The readable lines of a refusal: "$.path: message". */
function problems(input: unknown): string[] {
  try {
    parseDestinationConfig(input, 'dest.json');
  } catch (err) {
    expect(err).toBeInstanceOf(DestinationConfigError);
    expect((err as Error).message.startsWith('invalid destination config dest.json:\n')).toBe(true);
    return (err as DestinationConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('the config was accepted');
}

describe('destination config', () => {
  it('accepts a minimal config and fills the documented defaults', () => {
    const c = parseDestinationConfig(base());
    expect(c).toMatchObject({
      maidHash: 'sha256',
      phoneFormat: 'digits',
      syncMode: 'mirror',
      separateCopy: false,
      readinessWindow: '36h',
      maxProcessingWait: '48h',
      fileSizeCapBytes: 50_000_000,
      maxIdsPerFile: 500_000,
      storage: {},
    });
    expect(durationMsOf(c.readinessWindow)).toBe(36 * 3_600_000);
    // A parsed config is valid input again (workflow input, continue-as-new).
    expect(parseDestinationConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  it('accepts a full config', () => {
    const c = parseDestinationConfig({
      ...base(),
      action: 'append',
      audienceId: '1234567890',
      retentionDays: 180,
      countryColumn: 'country',
      maidHash: 'md5',
      defaultCountry: 'gb',
      phoneFormat: 'e164',
      syncMode: 'addOnly',
      appId: '7300000000000',
      separateCopy: true,
      readinessWindow: '1h30m',
      maxProcessingWait: '2s',
      fileSizeCapBytes: 250_000_000,
      maxIdsPerFile: 1000,
      accessToken: 'file:/run/secrets/tiktok_token',
      storage: { snapshot: 'gs://cdp-exports/segments/seg-42/latest.csv', workdir: 'file:///var/lib/ttsync/work' },
    });
    expect(c.defaultCountry).toBe('GB');
    expect(columnMappingOf(c)).toEqual({
      identifiers: [
        { column: 'email', type: 'EMAIL_SHA256' },
        { column: 'mobile', type: 'PHONE_SHA256' },
        { column: 'device_id', type: 'MAID_MD5' },
      ],
      countryColumn: 'country',
    });
  });

  it('maps idfa and gaid columns with the chosen MAID hash', () => {
    const c = parseDestinationConfig({ ...base(), identifiers: { a: 'idfa', g: 'gaid' } });
    expect(columnMappingOf(c).identifiers.map((i) => i.type)).toEqual(['IDFA_SHA256', 'GAID_SHA256']);
  });

  it('renders a naming template at creation time', () => {
    const c = parseDestinationConfig({ ...base(), audienceName: { template: '{prefix} {audience_slug} {current_time}', prefix: 'acme' } });
    expect(audienceNameFor(c, new Date(Date.UTC(2026, 0, 2, 3, 4)))).toBe('acme seg-42 20260102-0304');
    expect(audienceNameFor(parseDestinationConfig(base()), new Date())).toBe('VIP buyers US');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['advertiser id with letters', { advertiserId: '70123abc' }, '$.advertiserId: advertiserId must be digits only'],
    ['advertiser id as a JSON number', { advertiserId: 7012345678901 }, '$.advertiserId: advertiserId must be a string of digits (quote it: long ids lose precision as JSON numbers)'],
    ['name too short', { audienceName: 'VIP' }, '$.audienceName: must be 10-70 characters of letters, digits, spaces, "-" and "_" (it has 3 characters)'],
    ['name too long', { audienceName: 'a'.repeat(71) }, '$.audienceName: must be 10-70 characters of letters, digits, spaces, "-" and "_" (it has 71 characters)'],
    ['name with punctuation', { audienceName: 'VIP buyers: US!' }, '$.audienceName: must be 10-70 characters of letters, digits, spaces, "-" and "_"; it contains ":", "!"'],
    ['name with a leading space', { audienceName: ' VIP buyers US' }, '$.audienceName: must not start or end with a space'],
    ['name as a number', { audienceName: 42 }, '$.audienceName: must be a name (10-70 characters of letters, digits, spaces, "-" and "_") or a naming template object {"template": "{prefix} {audience_slug} {current_time}"}'],
    ['template with an unknown placeholder', { audienceName: { template: '{brand} {current_time}' } }, '$.audienceName.template: naming template uses the unknown placeholder {brand}; known: {prefix} {audience_slug} {destination_id} {source_segment_id} {current_time} {date}'],
    ['retention 0', { retentionDays: 0 }, '$.retentionDays: must be 1-365 days'],
    ['retention 366', { retentionDays: 366 }, '$.retentionDays: must be 1-365 days'],
    ['retention 1.5', { retentionDays: 1.5 }, '$.retentionDays: must be a whole number of days'],
    ['keepRuns negative', { storage: { keepRuns: -1 } }, '$.storage.keepRuns: must be 0-1000'],
    ['keepRuns 2.5', { storage: { keepRuns: 2.5 } }, '$.storage.keepRuns: must be a whole number of runs'],
    ['unknown action', { action: 'upsert' }, '$.action: Invalid option: expected one of "create"|"append"|"replace"'],
    ['slug with capitals', { destinationId: 'VIP_Buyers' }, '$.destinationId: must be a slug: 1-64 lowercase letters, digits and "-", not starting or ending with "-"'],
    ['unknown identifier type', { identifiers: { email: 'mail' } }, '$.identifiers.email: Invalid option: expected one of "email"|"phone"|"maid"|"idfa"|"gaid"|"external_id"'],
    ['external_id in an audience', { identifiers: { 'customer id': 'external_id' } }, '$.identifiers["customer id"]: external_id cannot go into a TikTok customer-file audience (TikTok has no calculate_type for it); map email, phone, maid, idfa or gaid'],
    ['no identifier columns', { identifiers: {} }, '$.identifiers: map at least one identifier column'],
    ['country column also an identifier', { identifiers: { country: 'phone' }, countryColumn: 'country' }, '$.identifiers.country: column "country" is also the countryColumn'],
    ['bad country', { defaultCountry: 'XX' }, '$.defaultCountry: must be an ISO 3166-1 alpha-2 country code known to libphonenumber-js (e.g. US, GB, DE)'],
    ['bad maid hash', { maidHash: 'sha1' }, '$.maidHash: Invalid option: expected one of "sha256"|"md5"'],
    ['bad phone format', { phoneFormat: 'national' }, '$.phoneFormat: Invalid option: expected one of "digits"|"e164"'],
    ['bad duration', { readinessWindow: '36 hours' }, '$.readinessWindow: must be a duration such as "36h", "2d", "1h30m", "45s" or "500ms" (whole numbers; units d, h, m, s, ms, largest first)'],
    ['duration too long', { maxProcessingWait: '400d' }, '$.maxProcessingWait: must be at most 365d'],
    ['zero duration', { readinessWindow: '0h' }, '$.readinessWindow: must be longer than zero'],
    ['file cap above 250 MB', { fileSizeCapBytes: 250_000_001 }, '$.fileSizeCapBytes: must be at most 250000000 bytes (250 MB)'],
    ['too many ids per file', { maxIdsPerFile: 500_001 }, "$.maxIdsPerFile: must be at most 500000 (TikTok's per-file limit)"],
    ['bad storage URI', { storage: { workdir: 's3://bucket/x' } }, '$.storage.workdir: must be a workdir folder URI: gs://bucket/path, file:///absolute/path or an absolute path'],
    ['empty segment in a gs:// workdir', { storage: { workdir: 'gs://cdp-exports//work' } }, '$.storage.workdir: must be a workdir folder URI (gs://bucket/path, file:///absolute/path or an absolute path): the object prefix contains an empty segment ("//")'],
    ['relative storage path', { storage: { snapshot: 'data/s.csv' } }, '$.storage.snapshot: must be a snapshot object URI (gs://bucket/path, file:///absolute/path or an absolute path): it is a relative path'],
    ['snapshot naming a folder', { storage: { snapshot: 'gs://cdp-exports/segments/' } }, '$.storage.snapshot: must name an object (a file), not a folder or a bucket'],
    ['snapshot naming a bucket', { storage: { snapshot: 'gs://cdp-exports' } }, '$.storage.snapshot: must name an object (a file), not a folder or a bucket'],
    ['misspelled setting', { retentionDay: 30 }, '$.retentionDay: is not a known setting (check the spelling)'],
    ['replace with addOnly', { action: 'replace', audienceId: '1', syncMode: 'addOnly' }, '$.syncMode: action "replace" removes everyone missing from the snapshot, which contradicts syncMode "addOnly"; choose one'],
    ['append to a templated name without id', { action: 'append', audienceName: { template: '{prefix} {current_time}' } }, '$.audienceId: action "append" needs the audience to exist: give its audienceId, or a literal audienceName to find it by (a naming template renders a new name each time)'],
    ['create with an audience id', { audienceId: '123' }, '$.audienceId: action "create" makes a new audience; remove audienceId, or use action "append" or "replace" to feed that audience'],
    ['missing required settings', { advertiserId: undefined }, '$.advertiserId: advertiserId must be a string of digits'],
  ])('refuses %s', (_label, patch, expected) => {
    expect(problems({ ...base(), ...patch })).toEqual([expected]);
  });

  it('reports every problem at once', () => {
    expect(problems({ ...base(), advertiserId: 'x', retentionDays: 999, action: 'nope' })).toHaveLength(3);
  });

  it('never repeats a token pasted where a secret reference belongs', () => {
    const token = 'act.3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a';
    const lines = problems({ ...base(), accessToken: token });
    expect(lines).toEqual(['$.accessToken: must be a secret reference such as "env:TIKTOK_ACCESS_TOKEN" or "file:/run/secrets/tiktok_token", never the token itself']);
    try {
      parseDestinationConfig({ ...base(), accessToken: token });
    } catch (err) {
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(token);
    }
    for (const ok of ['env:TIKTOK_ACCESS_TOKEN', 'file:/run/secrets/t', 'file:///run/secrets/t']) expect(DestinationConfigSchema.safeParse({ ...base(), accessToken: ok }).success, ok).toBe(true);
    for (const bad of ['env:', 'env:1X', 'file:relative', 'file:/dir/', 'file://host/x']) expect(DestinationConfigSchema.safeParse({ ...base(), accessToken: bad }).success, bad).toBe(false);
  });

  it('parses JSON text, pointing at syntax errors by line and column', () => {
    expect(parseDestinationJson(JSON.stringify(base()), 'a.json').destinationId).toBe('vip-buyers-us');
    expect(() => parseDestinationJson('{\n  "destinationId": "x",\n}', 'b.json')).toThrow(/^invalid destination config b\.json:\n {2}line 3 column 1: not valid JSON: /);
  });
});

describe('two-advertiser rule across destinations', () => {
  const dest = (over: Partial<DestinationConfigInput>) => parseDestinationConfig({ ...base(), ...over });

  it('refuses one segment in a second advertiser unless it is a separate copy with its own name', () => {
    const a = dest({ destinationId: 'a', advertiserId: '111' });
    const sameAdvertiser = dest({ destinationId: 'a2', advertiserId: '111', audienceName: 'VIP buyers again' });
    expect(segmentConflicts([a, sameAdvertiser])).toEqual([]);

    const b = dest({ destinationId: 'b', advertiserId: '222', audienceName: 'VIP buyers UK copy' });
    expect(segmentConflicts([a, b])).toEqual([
      {
        destinationId: 'b',
        message:
          'source segment "seg-42" is already synced to advertiser 111 by destination "a"; TikTok refuses one segment in two ad accounts. Set separateCopy: true and give this copy its own audienceName',
      },
    ]);
    const copySameName = dest({ destinationId: 'c', advertiserId: '222', separateCopy: true });
    expect(segmentConflicts([a, copySameName])).toEqual([
      { destinationId: 'c', message: 'separate copy of segment "seg-42" must have its own audienceName (it repeats the one of destination "a")' },
    ]);
    const copy = dest({ destinationId: 'd', advertiserId: '222', separateCopy: true, audienceName: 'VIP buyers UK copy' });
    expect(segmentConflicts([copy, a])).toEqual([]);
    expect(segmentConflicts([a, dest({ destinationId: 'e', advertiserId: '333', sourceSegmentId: 'other' })])).toEqual([]);
  });
});
