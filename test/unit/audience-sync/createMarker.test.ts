import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMarker, hasMarker, nameWithMarker, nameWithoutMarker, pickAudience } from '../../../src/audience-sync/createMarker';

describe('the create marker of an audience name', () => {
  it('is ttsync- and 12 hex digits of sha256(destination id, newline, token): the same for every attempt, another for another destination or token', () => {
    const expected = `ttsync-${createHash('sha256').update('vip-buyers\nrun-1').digest('hex').slice(0, 12)}`;
    expect(createMarker('vip-buyers', 'run-1')).toBe(expected);
    expect(createMarker('vip-buyers', 'run-2')).not.toBe(expected);
    expect(createMarker('other', 'run-1')).not.toBe(expected);
  });

  it('ends the name after a space, keeps within TikTok 128 characters, and is recognised only at the end', () => {
    const m = createMarker('d', 't');
    expect(nameWithMarker('VIP buyers', m)).toBe(`VIP buyers ${m}`);
    const long = nameWithMarker('ü'.repeat(200), m);
    expect([...long]).toHaveLength(128);
    expect(long.endsWith(` ${m}`)).toBe(true);
    expect(hasMarker(`VIP buyers ${m}`, m)).toBe(true);
    expect(hasMarker('VIP buyers', m)).toBe(false);
    expect(hasMarker(`${m} VIP buyers`, m)).toBe(false);
    expect(hasMarker(`VIP buyers ${createMarker('d', 'u')}`, m)).toBe(false);
  });

  it('picks the lowest id as a number, whatever the order listed', () => {
    expect(pickAudience(['1000000000000000021', '999', '1000000000000000003'])).toBe('999');
    expect(pickAudience(['7300000000000000022', '7300000000000000011'])).toBe('7300000000000000011');
    expect(pickAudience([])).toBeUndefined();
  });
});

describe('nameWithoutMarker: the configured name back from the name TikTok holds', () => {
  it('takes off any destination\'s marker, and nothing else', () => {
    const marker = createMarker('dest-1', 'cycle-7');
    expect(nameWithoutMarker(nameWithMarker('ttsync scale dest-1', marker))).toBe('ttsync scale dest-1');
    expect(nameWithoutMarker('Movers (created before markers)')).toBe('Movers (created before markers)');
    // Not a marker: upper-case hex, eleven digits, no space before it.
    expect(nameWithoutMarker('Movers ttsync-ABCDEF123456')).toBe('Movers ttsync-ABCDEF123456');
    expect(nameWithoutMarker('Movers ttsync-abcdef12345')).toBe('Movers ttsync-abcdef12345');
    expect(nameWithoutMarker('Moversttsync-abcdef123456')).toBe('Moversttsync-abcdef123456');
  });
});
