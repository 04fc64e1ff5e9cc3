import { describe, expect, it } from 'vitest';
import { currencyDigits, formatMicros, parseMicros, percentOf, roundMicros } from '../../../src/tiktok/money';

describe('exact money from TikTok decimal strings', () => {
  it.each([
    ['20.00', 20_000_000n],
    ['0.290', 290_000n],
    ['6865538', 6_865_538_000_000n],
    [' 1.5 ', 1_500_000n],
    [0.1, 100_000n],
    ['-3.25', -3_250_000n],
    ['90071992547409.93', 90_071_992_547_409_930_000n],
  ])('%j → %s micro-units', (text, micros) => expect(parseMicros(text)).toBe(micros));

  it.each(['1e3', '1,5', '', '-', 'NaN', '0.0000001', '1.2.3'])('%j is not an amount', (text) => expect(parseMicros(text)).toBeNull());

  it('formats with the currency minor unit, more places only when the amount has them', () => {
    expect(formatMicros(20_000_000n, 2)).toBe('20.00');
    expect(formatMicros(290_000n, 2)).toBe('0.29');
    expect(formatMicros(1_234_500n, 2)).toBe('1.2345');
    expect(formatMicros(7_000_000n, 0)).toBe('7');
    expect(formatMicros(-5_000n, 2)).toBe('-0.005');
  });

  it('rounds half away from zero, once, after the exact product', () => {
    // 10.01 × 12.5% = 1.25125 → 1.25; 0.05 × 10% = 0.005 → 0.01; 19.99 × 33.3333% = 6.66332667 → 6.66.
    expect(formatMicros(percentOf(10_010_000n, '12.5', 2), 2)).toBe('1.25');
    expect(formatMicros(percentOf(50_000n, '10', 2), 2)).toBe('0.01');
    expect(formatMicros(percentOf(19_990_000n, '33.3333', 2), 2)).toBe('6.66');
    expect(formatMicros(percentOf(1_000_000_000n, '7.5', 0), 0)).toBe('75');
    expect(formatMicros(roundMicros(-2_345_000n, 2), 2)).toBe('-2.35');
    expect(() => percentOf(1n, '1e2', 2)).toThrow(RangeError);
  });

  it('knows zero- and three-decimal currencies', () => {
    expect([currencyDigits('USD'), currencyDigits('JPY'), currencyDigits('KWD')]).toEqual([2, 0, 3]);
  });
});
