import { describe, expect, it } from 'vitest';
import { DIGEST_INDEX, PREHASHED } from '../../../src/identifiers/hasher';
import {
  IdentifierHasher,
  IdentifierNormalizer,
  Sha256HexQueue,
  type IdentifierTarget,
  type NormalizationOptions,
  type Outcome,
} from '../../../src/identifiers';
import { mulberry32 } from '../../../src/util/prng';
import { emails, externalIds, maids, phones, prehashed, tooLong } from './generators';

// IdentifierHasher (byte-level ASCII rules + batched SHA-256) must give, value by value,
// exactly what IdentifierNormalizer.process gives (the string rules the contract tests
// pin down): the same outcome, digest and normalized value, from a string and from bytes.

interface Case {
  target: IdentifierTarget;
  options: NormalizationOptions;
}

function check(c: Case, inputs: Array<[raw: string, rowCountry?: string]>): void {
  const ref = new IdentifierNormalizer(c.target, c.options);
  const queue = new Sha256HexQueue();
  const fromString = new IdentifierHasher(c.target, c.options, queue);
  const fromBytes = new IdentifierHasher(c.target, c.options, queue);
  const outS: string[] = [];
  const outB: string[] = [];
  const expected: string[] = [];
  const mismatches: string[] = [];
  // Values sit inside a larger buffer, as cells of a CSV piece do.
  const pad = Buffer.from('x,', 'latin1');
  for (const [raw, country] of inputs) {
    const want = ref.process(raw, country);
    const wantNorm = want === 'hashed' ? ref.normalized : null;
    if (want === 'hashed' || want === 'prehashed') expected.push(ref.digest);
    const gotS = fromString.add(raw, outS, country);
    const normS = gotS === 'hashed' ? fromString.lastNormalized() : null;
    if (gotS !== want || normS !== wantNorm) mismatches.push(`string ${JSON.stringify(raw)} ${country ?? ''}: want ${want} ${JSON.stringify(wantNorm)}, got ${gotS} ${JSON.stringify(normS)}`);
    // What a file holds is UTF-8: a lone surrogate cannot be in it (it reads back as U+FFFD).
    const utf8 = Buffer.from(raw, 'utf8');
    const wantB = ref.process(utf8.toString('utf8'), country);
    const wantNormB = wantB === 'hashed' ? ref.normalized : null;
    const bytes = Buffer.concat([pad, utf8, pad]);
    const gotB = fromBytes.addBytes(bytes, 2, bytes.length - 2, outB, country);
    const normB = gotB === 'hashed' ? fromBytes.lastNormalized() : null;
    if (gotB !== wantB || normB !== wantNormB) mismatches.push(`bytes ${JSON.stringify(raw)} ${country ?? ''}: want ${wantB} ${JSON.stringify(wantNormB)}, got ${gotB} ${JSON.stringify(normB)}`);
  }
  expect(mismatches.slice(0, 10)).toEqual([]);
  fromString.flush();
  expect(outS).toEqual(expected);
  expect(outB).toEqual(expected);
  // addAll: all values, then the ASCII ones alone (a group of values with any non-ASCII
  // one takes the per-value path; an all-ASCII group is normalized in the kernel's memory).
  const ascii = inputs.filter(([v]) => Buffer.byteLength(v, 'utf8') === v.length);
  for (const group of [inputs, ascii]) checkAddAll(c, queue, group);
}

function checkAddAll(c: Case, queue: Sha256HexQueue, inputs: Array<[raw: string, rowCountry?: string]>): void {
  const ref = new IdentifierNormalizer(c.target, c.options);
  const expected: string[] = [];
  const wantOutcomes = inputs.map(([v, country]) => {
    const o = ref.process(v, country);
    if (o === 'hashed' || o === 'prehashed') expected.push(ref.digest);
    return o;
  });
  // addAll takes one row country for all: runs of values with the same one.
  const h = new IdentifierHasher(c.target, c.options, queue);
  const out: string[] = [];
  const outcomes: Outcome[] = [];
  const raws = inputs.map(([v]) => v);
  for (let i = 0; i < inputs.length; ) {
    let j = i;
    while (j < inputs.length && inputs[j]![1] === inputs[i]![1]) j++;
    h.addAll(raws, i, j, out, outcomes, inputs[i]![1]);
    i = j;
  }
  h.flush();
  const wrong = outcomes.flatMap((o, i) => (o === wantOutcomes[i] ? [] : [`${JSON.stringify(raws[i])}: want ${wantOutcomes[i]}, got ${o}`]));
  expect(wrong.slice(0, 10)).toEqual([]);
  expect(out).toEqual(expected);

  // hashBatch: the same answers as codes and hex bytes, read straight from each batch.
  const bOutcomes: Outcome[] = [];
  const bDigests: string[] = [];
  for (let i = 0; i < inputs.length; ) {
    let j = i;
    while (j < inputs.length && inputs[j]![1] === inputs[i]![1]) j++;
    for (let k = i; k < j; ) {
      const b = h.hashBatch(raws, k, j, inputs[i]![1]);
      expect(b.count).toBeGreaterThan(0);
      expect(b.hex.length).toBe(b.digests * b.width);
      for (let m = 0; m < b.count; m++) {
        const code = b.codes[m]!;
        if (code < 0) {
          bOutcomes.push(h.outcomeOf(code));
          continue;
        }
        const d = code & DIGEST_INDEX;
        bOutcomes.push(code & PREHASHED ? 'prehashed' : 'hashed');
        bDigests.push(b.hex.toString('latin1', d * b.width, (d + 1) * b.width));
      }
      k += b.count;
    }
    i = j;
  }
  expect(bOutcomes).toEqual(wantOutcomes);
  expect(bDigests).toEqual(expected);
}

describe('IdentifierHasher gives the string rules\' answer value by value', () => {
  it('email, both contexts, on generated addresses of every shape', () => {
    const r = mulberry32(1);
    const inputs = [...emails(r, 20_000), ...prehashed(r), ...tooLong()].map((v): [string] => [v]);
    check({ target: { kind: 'email', hash: 'sha256' }, options: { context: 'audience' } }, inputs);
    check({ target: { kind: 'email', hash: 'sha256' }, options: { context: 'events' } }, inputs);
  });

  it('phone, every country, all three output forms, with row countries', () => {
    const r = mulberry32(2);
    const inputs = [...phones(r), ...prehashed(r).map((v): [string] => [v]), ...tooLong().map((v): [string] => [v])];
    check({ target: { kind: 'phone', hash: 'sha256' }, options: { context: 'audience', defaultCountry: 'US' } }, inputs);
    check({ target: { kind: 'phone', hash: 'sha256' }, options: { context: 'audience', phoneFormat: 'e164', defaultCountry: 'GB' } }, inputs);
    check({ target: { kind: 'phone', hash: 'sha256' }, options: { context: 'events' } }, inputs);
  });

  it('MAID (SHA-256 and MD5) and external IDs', () => {
    const r = mulberry32(3);
    const m = [...maids(r, 20_000), ...prehashed(r), ...tooLong()].map((v): [string] => [v]);
    check({ target: { kind: 'maid', hash: 'sha256' }, options: { context: 'audience' } }, m);
    check({ target: { kind: 'maid', hash: 'md5' }, options: { context: 'audience' } }, m);
    const x = [...externalIds(r, 20_000), ...prehashed(r), ...tooLong()].map((v): [string] => [v]);
    check({ target: { kind: 'external_id', hash: 'sha256' }, options: { context: 'events' } }, x);
  });

  it('the fast path carries the common shapes (no string rule needed)', () => {
    // Measured indirectly: the normalizer's fields stay untouched when the fast path answers.
    const cases: Array<[IdentifierTarget, NormalizationOptions, string]> = [
      [{ kind: 'email', hash: 'sha256' }, { context: 'audience' }, ' Jane.Doe+promo@Example.COM '],
      [{ kind: 'phone', hash: 'sha256' }, { context: 'audience', defaultCountry: 'US' }, '(213) 373-4253'],
      [{ kind: 'phone', hash: 'sha256' }, { context: 'audience' }, '+44 7911 123456'],
      [{ kind: 'maid', hash: 'sha256' }, { context: 'audience' }, '7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB'],
      [{ kind: 'external_id', hash: 'sha256' }, { context: 'events' }, ' cust_1 '],
    ];
    for (const [target, options, raw] of cases) {
      const h = new IdentifierHasher(target, options);
      const out: string[] = [];
      expect(h.add(raw, out)).toBe('hashed');
      expect(h.normalizer.normalized, raw).toBeNull();
    }
  });
});
