import { describe, expect, it } from 'vitest';
import { DestinationConfigError } from '../../../src/audience-sync/config';
import { maskRejectValue } from '../../../src/snapshot';
import { destination, prepareBytes } from './prepareHelper';

const SNAPSHOT = 'email,phone\njohn.doe-example.com,+1 415 555 0100\nvalid@example.com,12\n';

describe('rejects.values: what a rejects file keeps of each rejected value', () => {
  it('raw (the default) keeps the value, masked its shape only, none nothing; rows and reasons stay', async () => {
    const out: Record<string, string> = {};
    for (const mode of ['raw', 'masked', 'none'] as const) {
      const { rejectsCsv, result } = await prepareBytes(SNAPSHOT, { rejectValues: mode });
      expect(result.rejects).toBe(2);
      out[mode] = rejectsCsv;
    }
    expect(out.raw).toContain('john.doe-example.com');
    expect(out.raw).toContain(',12\n');
    expect(out.masked).not.toContain('john');
    expect(out.masked).toContain('xxxx.xxx-xxxxxxx.xxx');
    expect(out.masked).toContain(',99\n');
    // Same rows, reasons and columns in every mode; only the value column differs.
    const withoutValue = (csv: string) => csv.trim().split('\n').map((l) => l.split(',').slice(0, 6).join(','));
    expect(withoutValue(out.masked!)).toEqual(withoutValue(out.raw!));
    expect(withoutValue(out.none!)).toEqual(withoutValue(out.raw!));
    expect(out.none!.trim().split('\n').slice(1).every((l) => l.endsWith(','))).toBe(true);
  });

  it('masks letters and digits of any script, keeps punctuation', () => {
    expect(maskRejectValue('Jöhn_Ω+44 (0)20-7946')).toBe('xxxx_x+99 (9)99-9999');
  });

  it('is validated with the destination config', () => {
    expect(destination({ rejects: { values: 'masked' } }).rejects?.values).toBe('masked');
    expect(destination().rejects).toBeUndefined();
    expect(() => destination({ rejects: { values: 'hashed' } })).toThrow(DestinationConfigError);
    expect(() => destination({ rejects: { values: 'hashed' } })).toThrow(/\$\.rejects\.values: must be "raw", "masked" or "none"/);
  });
});
