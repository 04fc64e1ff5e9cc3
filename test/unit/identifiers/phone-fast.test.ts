import { getCountries, getCountryCallingCode, parsePhoneNumber, type CountryCode } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { IdentifierHasher, type Outcome } from '../../../src/identifiers';
import { fastE164 } from '../../../src/identifiers/phoneFast';

/** What libphonenumber-js alone answers for the same input (the contract's reference). */
function library(s: string, country: CountryCode | undefined): string | null {
  try {
    const p = parsePhoneNumber(s, { defaultCountry: s.startsWith('+') ? undefined : country, extract: false });
    return p && p.isPossible() ? p.number : null;
  } catch {
    return null;
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 4294967296;
  };
}

function digits(r: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String((r() * 10) | 0);
  return out;
}

function format(r: () => number, d: string): string {
  if (r() < 0.5) return d;
  const seps = [' ', '-', '.'];
  let out = '';
  for (let i = 0; i < d.length; i++) {
    out += d[i];
    if (i < d.length - 1 && r() < 0.2) out += seps[(r() * 3) | 0];
  }
  return out;
}

describe('phone fast path agrees with libphonenumber-js', () => {
  it('on random international and national numbers of every country and length', () => {
    const r = rng(20261121);
    let decided = 0;
    let total = 0;
    const mismatches: string[] = [];
    for (const country of getCountries()) {
      const cc = getCountryCallingCode(country);
      for (let len = 2; len <= 14; len++) {
        for (let k = 0; k < 12; k++) {
          const national = digits(r, len);
          for (const input of [`+${cc}${format(r, national)}`, format(r, national)]) {
            if (input.replace(/\D/g, '').length < 4) continue;
            total++;
            const fast = fastE164(input, country);
            if (fast === undefined) continue;
            decided++;
            const lib = library(input, country);
            if (fast !== lib) mismatches.push(`${country} ${JSON.stringify(input)}: fast ${fast} library ${lib}`);
          }
        }
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The fast path must actually carry most of the load, or it is not worth having.
    expect(decided / total).toBeGreaterThan(0.5);
  });

  it('on realistic shapes: E.164, national with separators, leading national prefixes and IDD', () => {
    const cases: Array<[string, CountryCode]> = [
      ['+12133734253', 'US'],
      ['+1 213 373 4253', 'US'],
      ['213-373-4253', 'US'],
      ['213.373.4253', 'CA'],
      ['12133734253', 'US'],
      ['0112133734253', 'US'],
      ['+447911123456', 'GB'],
      ['07911 123456', 'GB'],
      ['7911 123456', 'GB'],
      ['+4930123456', 'DE'],
      ['030 123456', 'DE'],
      ['+37493828222', 'AM'],
      ['093828222', 'AM'],
      ['+5491123456789', 'AR'],
      ['011 15 2345 6789', 'AR'],
      ['+5511987654321', 'BR'],
      ['(11) 98765-4321', 'BR'],
      ['+79161234567', 'RU'],
      ['8 916 123 45 67', 'RU'],
      ['+8613912345678', 'CN'],
      ['+33612345678', 'FR'],
      ['06 12 34 56 78', 'FR'],
      ['+80012345678', 'US'],
      ['+0123456789', 'US'],
    ];
    for (const [input, country] of cases) {
      const fast = fastE164(input, country);
      if (fast !== undefined) expect(fast, `${country} ${input}`).toBe(library(input, country));
    }
    // The common shapes are decided on the fast path.
    expect(fastE164('+12133734253', 'US')).toBe('+12133734253');
    expect(fastE164('213-373-4253', 'US')).toBe('+12133734253');
    expect(fastE164('+447911123456', undefined)).toBe('+447911123456');
    // Inputs the library would reinterpret go to the library.
    expect(fastE164('12133734253', 'US')).toBeUndefined(); // starts with the calling code
    expect(fastE164('0112133734253', 'US')).toBeUndefined(); // IDD prefix
    expect(fastE164('07911 123456', 'GB')).toBeUndefined(); // national prefix
    expect(fastE164('+80012345678', undefined)).toBeUndefined(); // non-geographic code
  });
});

/**
 * Runs IdentifierHasher.addAll (the WebAssembly rules of asciiRules.wat, then the
 * JavaScript paths for what they leave) and records which values reached the JavaScript
 * path (add()), so the test knows what WebAssembly decided by itself.
 */
function wasmPhones(values: string[], country: CountryCode | undefined, plus: boolean): { outcomes: Outcome[]; digests: string[]; byJs: Set<number> } {
  const h = new IdentifierHasher({ kind: 'phone', hash: 'sha256' }, plus ? { context: 'events', defaultCountry: country } : { context: 'audience', defaultCountry: country });
  const byJs = new Set<number>();
  const add = h.add.bind(h);
  let at = 0;
  h.add = (raw, out, rowCountry) => {
    while (values[at] !== raw) at++;
    byJs.add(at++);
    return add(raw, out, rowCountry);
  };
  const outcomes: Outcome[] = [];
  const out: string[] = [];
  h.addAll(values, 0, values.length, out, outcomes);
  h.flush();
  // One digest per accepted value, in order: spread them over the values.
  const digests: string[] = [];
  let k = 0;
  for (const o of outcomes) digests.push(o === 'hashed' ? out[k++]! : '');
  return { outcomes, digests, byJs };
}

describe('phone rule in WebAssembly (batches) agrees with libphonenumber-js', () => {
  it('on random numbers of every country: international, 00, national, with separators and brackets', () => {
    const r = rng(20261122);
    let decided = 0;
    let total = 0;
    const mismatches: string[] = [];
    const shapes = (cc: string, national: string): string[] => {
      const f = format(r, national);
      return [`+${cc}${f}`, `00${cc}${f}`, f, `(${national.slice(0, 3)}) ${national.slice(3)}`, `+${cc} (${national.slice(0, 2)}) ${national.slice(2)}`, ` -${f}`, `0${f}`];
    };
    for (const country of getCountries()) {
      const cc = getCountryCallingCode(country);
      const values: string[] = [];
      for (let len = 2; len <= 14; len++) for (let k = 0; k < 6; k++) values.push(...shapes(cc, digits(r, len)));
      for (const plus of [false, true]) {
        const got = wasmPhones(values, country, plus);
        values.forEach((v, i) => {
          total++;
          if (got.byJs.has(i)) return;
          decided++;
          // The contract's reference: the library on the value as the string rules give it
          // (brackets removed, "00" read as "+").
          let s = v.replace(/[()[\]]/g, '').trim();
          s = s.replace(/^[-.\s]*00/, '+');
          const lib = library(s, country);
          const want = lib === null || lib.length - 1 > 15 ? null : lib;
          const digest = want === null ? '' : createHash('sha256').update(plus ? want : want.slice(1)).digest('hex');
          const wantOutcome = want === null ? 'invalid_phone' : 'hashed';
          if (got.outcomes[i] !== wantOutcome || got.digests[i] !== digest) mismatches.push(`${country} ${JSON.stringify(v)} plus=${plus}: want ${want}, got ${got.outcomes[i]}`);
        });
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // WebAssembly must carry most of these shapes itself, or it is not worth having.
    expect(decided / total).toBeGreaterThan(0.5);
  });
});
