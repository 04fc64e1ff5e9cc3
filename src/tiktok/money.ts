/*
 * Money as TikTok sends it (decimal strings such as "20.00", "6865538", "0.290"; digest
 * §10.2) turned into exact integers, never binary floats: an amount is a bigint count of
 * micro-units (10^-6 of the currency's unit), which holds every decimal TikTok shows (at
 * most 3 places seen) without rounding. Pure: usable anywhere.
 */

/** Decimal places kept exactly. */
export const MICRO_DIGITS = 6;
const MICRO = 10n ** BigInt(MICRO_DIGITS);

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * "12.34" → 12340000n. Null for text that is not a plain decimal or has more than six
 * decimal places (the caller says where it came from). A JSON number is read by its
 * shortest printed form, which is the text TikTok's encoder wrote.
 */
export function parseMicros(value: string | number): bigint | null {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value.trim();
  const m = DECIMAL.exec(text);
  if (!m) return null;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > MICRO_DIGITS) return null;
  const micros = BigInt(m[2]!) * MICRO + BigInt(frac.padEnd(MICRO_DIGITS, '0') || '0');
  return m[1] === '-' ? -micros : micros;
}

/**
 * Micro-units as decimal text with at least `minDigits` decimal places (the currency's minor
 * unit) and more only where the amount has them: 12340000n, 2 → "12.34".
 */
export function formatMicros(micros: bigint, minDigits = 2): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const int = abs / MICRO;
  let frac = (abs % MICRO).toString().padStart(MICRO_DIGITS, '0').replace(/0+$/, '');
  if (frac.length < minDigits) frac = frac.padEnd(minDigits, '0');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/**
 * Rounds micro-units to `digits` decimal places, half away from zero (the commercial rule:
 * 0.005 → 0.01). Exact: integer arithmetic only.
 */
export function roundMicros(micros: bigint, digits: number): bigint {
  if (digits >= MICRO_DIGITS) return micros;
  const step = 10n ** BigInt(MICRO_DIGITS - digits);
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const q = (abs + step / 2n) / step;
  return (neg ? -q : q) * step;
}

/**
 * `amount × percent / 100`, rounded half away from zero to `digits` places. `percent` is a
 * decimal text ("12.5"; at most 4 places); the product is computed exactly before the one rounding.
 */
export function percentOf(micros: bigint, percent: string, digits: number): bigint {
  const m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(percent);
  if (!m) throw new RangeError(`not a percentage with at most 4 decimal places: ${JSON.stringify(percent)}`);
  const scaled = BigInt(m[1]!) * 10_000n + BigInt((m[2] ?? '').padEnd(4, '0') || '0'); // percent × 10^4
  const num = micros * scaled; // micros × percent × 10^4
  const den = 100n * 10_000n;
  const step = 10n ** BigInt(Math.max(0, MICRO_DIGITS - digits));
  const unit = den * step;
  const neg = num < 0n;
  const abs = neg ? -num : num;
  const q = (abs + unit / 2n) / unit;
  return (neg ? -q : q) * step;
}

/**
 * Decimal places of a currency's minor unit (ISO 4217): 0 for JPY, KRW, VND…, 3 for KWD,
 * BHD…, 2 otherwise. A table, not Intl: the answer must not depend on the runtime's ICU.
 */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
export function currencyDigits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}
