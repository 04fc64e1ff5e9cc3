import { describe, expect, it } from 'vitest';
import {
  AUDIENCE_NAME_MAX,
  AudienceNameSchema,
  NameTemplateSchema,
  NAME_PLACEHOLDERS,
  formatNameTime,
  parseNameTemplate,
  renderAudienceName,
  sanitizeNameText,
  type NameVariables,
} from '../../../src/audience-sync/config';
import { mulberry32 } from '../../../src/util/prng';


const NOW = new Date(Date.UTC(2026, 10, 21, 21, 46, 59));

describe('audience naming templates', () => {
  it('renders the documented example deterministically from the given time (UTC)', () => {
    const vars: NameVariables = { prefix: 'acme', audience_slug: 'vip-buyers' };
    const name = renderAudienceName('{prefix} {audience_slug} {current_time}', vars, NOW);
    expect(name).toBe('acme vip-buyers 20261121-2146');
    expect(renderAudienceName('{prefix} {audience_slug} {current_time}', vars, NOW)).toBe(name);
    expect(renderAudienceName('{prefix} {audience_slug} {current_time}', vars, new Date(Date.UTC(2026, 10, 21, 21, 47)))).toBe('acme vip-buyers 20261121-2147');
    expect(renderAudienceName('{audience_slug}_{date}', { audience_slug: 'churned' }, NOW)).toBe('churned_2026-11-21');
  });

  it('sanitizes values: disallowed characters become "-", whitespace collapses, ends are trimmed', () => {
    expect(sanitizeNameText('  VIP: buyers (EU) / 2026  ')).toBe('VIP- buyers -EU- - 2026');
    expect(sanitizeNameText('acme.com\tsegment\n#1')).toBe('acme-com segment -1');
    expect(sanitizeNameText('Café Crème')).toBe('Café Crème');
    expect(renderAudienceName('{prefix} {audience_slug} {current_time}', { prefix: 'a.b', audience_slug: '🎉 party 🎉' }, NOW)).toBe('a-b party 20261121-2146');
  });

  it('shortens the longest values first and never the time', () => {
    const long = 'x'.repeat(120);
    const name = renderAudienceName('{prefix} {audience_slug} {current_time}', { prefix: 'brand', audience_slug: long }, NOW);
    expect([...name].length).toBe(AUDIENCE_NAME_MAX);
    expect(name.startsWith('brand x')).toBe(true);
    expect(name.endsWith(' 20261121-2146')).toBe(true);
    const both = renderAudienceName('{prefix} {audience_slug} {current_time}', { prefix: 'p'.repeat(100), audience_slug: 's'.repeat(100) }, NOW);
    // On a tie the prefix gives way first: the slug says more about the audience.
    expect(both).toBe(`${'p'.repeat(27)} ${'s'.repeat(28)} 20261121-2146`);
  });

  it('pads names that come out too short', () => {
    expect(renderAudienceName('{audience_slug}', { audience_slug: 'vip' }, NOW)).toBe('vip audience');
    expect(renderAudienceName('{prefix}', {}, NOW)).toBe('ttsync audience');
  });

  it('refuses bad templates in config with the reason', () => {
    const msg = (template: string): string => {
      const r = NameTemplateSchema.safeParse({ template });
      expect(r.success, template).toBe(false);
      return r.success ? '' : (r.error.issues[0]?.message ?? '');
    };
    expect(msg('{prefix} {segment} {current_time}')).toContain('unknown placeholder {segment}; known: {prefix} {audience_slug}');
    expect(msg('{prefix} {audience_slug')).toContain('unmatched "{"');
    expect(msg('{prefix}: {audience_slug}')).toContain('contains ":"');
    expect(msg(`${'a'.repeat(60)} {current_time}`)).toContain('take 74 characters');
    expect(NameTemplateSchema.safeParse({ template: '{prefix} {audience_slug} {current_time}', prefix: 'acme' }).success).toBe(true);
    expect(NameTemplateSchema.safeParse({ template: '{prefix}', extra: 1 }).success).toBe(false);
  });

  it('property: every template the schema accepts renders a valid name for any values and time', () => {
    const rnd = mulberry32(0x7717c);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const literalChars = [...'abcXYZ019 _-éßЖ中ا', ' ', ' '];
    // Values may hold anything: emoji, controls, braces, combining marks, RTL, lone surrogates.
    const valueChars = [...'aZ09 _-.:/{}()#@!?,;\'"\t\n\r\u0000\u0007\u200b\u0301\u0627', '🎉', '👩‍👩‍👧', '\ud800', 'ǅ', 'Å', 'A\u030a', '中文', '   '];
    const randomString = (chars: readonly string[], max: number): string => Array.from({ length: Math.floor(rnd() * max) }, () => pick(chars)).join('');
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const parts = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => (rnd() < 0.5 ? `{${pick(NAME_PLACEHOLDERS)}}` : randomString(literalChars, rnd() < 0.1 ? 80 : 8)));
      const template = parts.join(rnd() < 0.7 ? ' ' : '');
      if (!NameTemplateSchema.safeParse({ template }).success) continue;
      accepted++;
      const vars: NameVariables = {
        prefix: randomString(valueChars, rnd() < 0.2 ? 150 : 12),
        audience_slug: randomString(valueChars, rnd() < 0.2 ? 150 : 20),
        destination_id: randomString(valueChars, 30),
        source_segment_id: randomString(valueChars, 30),
      };
      const now = new Date(Math.floor(rnd() * Date.UTC(2200, 0, 1)));
      const name = renderAudienceName(template, vars, now);
      const check = AudienceNameSchema.safeParse(name);
      expect(check.success, `seed case ${i}: ${JSON.stringify({ template, vars, now, name })}`).toBe(true);
      expect(renderAudienceName(template, vars, now)).toBe(name);
      if (template.includes('{current_time}')) expect(name).toContain(formatNameTime(now));
      expect(parseNameTemplate(template)).toHaveProperty('parts');
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
