import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { normalizeStream } from '../../../src/cli/commands/ids';
import { IdentifierHasher, IdentifierNormalizer, type IdentifierTarget, type NormalizationOptions } from '../../../src/identifiers';
import { mulberry32 } from '../../../src/util/prng';
import { emails, externalIds, maids, phones, prehashed, tooLong } from './generators';

/*
 * `ids normalize`'s byte pipeline (lines cut from chunks, batch rules in WebAssembly, JSON
 * written as bytes) against the plain reading of the contract: the text split at "\n", one
 * trailing "\r" dropped, a leading byte-order mark dropped, and each line run through the
 * string rules (IdentifierNormalizer) and JSON.stringify. Inputs of every shape, cut into
 * chunks at random places (inside multi-byte characters and between "\r" and "\n" too).
 */

function expected(text: string, target: IdentifierTarget, options: NormalizationOptions): string {
  const n = new IdentifierNormalizer(target, options);
  let decoded = Buffer.from(text, 'utf8').toString('utf8');
  if (decoded.startsWith('\ufeff')) decoded = decoded.slice(1);
  const pieces = decoded.split('\n');
  if (pieces.at(-1) === '') pieces.pop();
  let out = '';
  for (let line of pieces) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const o = n.process(line);
    const hashed = o === 'hashed';
    const digest = hashed || o === 'prehashed';
    out += `${JSON.stringify({
      input: line,
      normalized: hashed ? n.normalized : null,
      hash: digest ? n.digest : null,
      prehashed: o === 'prehashed',
      error: hashed || o === 'prehashed' || o === 'empty' ? null : o,
    })}\n`;
  }
  return out;
}

async function streamed(text: string, target: IdentifierTarget, options: NormalizationOptions, cut: (bytes: Buffer) => Buffer[]): Promise<string> {
  const parts: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(Buffer.from(chunk));
      cb();
    },
  });
  const chunks = cut(Buffer.from(text, 'utf8'));
  await normalizeStream((async function* () { yield* chunks; })(), out, new IdentifierHasher(target, options));
  return Buffer.concat(parts).toString('utf8');
}

const whole = (b: Buffer) => [b];
const randomCuts = (seed: number) => (b: Buffer) => {
  const r = mulberry32(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = 1 + Math.floor(r() * (r() < 0.2 ? 8 : 5000));
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
};

const CASES: Array<{ name: string; target: IdentifierTarget; options: NormalizationOptions; values: (r: () => number) => string[] }> = [
  { name: 'email, audience', target: { kind: 'email', hash: 'sha256' }, options: { context: 'audience' }, values: (r) => [...emails(r, 6000), ...prehashed(r), ...tooLong()] },
  {
    // Long valid addresses: a group's JSON outgrows the room the WebAssembly writer gets at once.
    name: 'email, long addresses',
    target: { kind: 'email', hash: 'sha256' },
    options: { context: 'audience' },
    values: (r) => Array.from({ length: 3000 }, (_, i) => `${'Ab'.repeat(30)}${i}+x@${'c'.repeat(1 + Math.floor(r() * 60))}.${'D'.repeat(60)}.${'e'.repeat(60)}.com`),
  },
  { name: 'email, events', target: { kind: 'email', hash: 'sha256' }, options: { context: 'events' }, values: (r) => emails(r, 3000) },
  { name: 'phone, US default', target: { kind: 'phone', hash: 'sha256' }, options: { context: 'audience', defaultCountry: 'US' }, values: (r) => phones(r).map(([v]) => v).slice(0, 4000) },
  { name: 'phone, events', target: { kind: 'phone', hash: 'sha256' }, options: { context: 'events', defaultCountry: 'GB' }, values: (r) => phones(r).map(([v]) => v).slice(0, 2000) },
  { name: 'MAID, SHA-256', target: { kind: 'maid', hash: 'sha256' }, options: { context: 'audience' }, values: (r) => [...maids(r, 3000), ...prehashed(r)] },
  { name: 'MAID, MD5', target: { kind: 'maid', hash: 'md5' }, options: { context: 'audience' }, values: (r) => [...maids(r, 2000), ...prehashed(r)] },
  { name: 'external id', target: { kind: 'external_id', hash: 'sha256' }, options: { context: 'events' }, values: (r) => [...externalIds(r, 4000), ...tooLong()] },
];

describe('ids normalize stream: the same bytes as the string rules and JSON.stringify', () => {
  for (const [i, c] of CASES.entries()) {
    it(c.name, async () => {
      const r = mulberry32(100 + i);
      const values = c.values(r);
      // CRLF for some lines, a BOM in front, no newline after the last line.
      const text = `\ufeff${values.map((v, k) => (k % 11 === 0 ? `${v}\r` : v)).join('\n')}`;
      const want = expected(text, c.target, c.options);
      expect(want.split('\n').length).toBeGreaterThan(values.length / 2);
      expect(await streamed(text, c.target, c.options, whole)).toBe(want);
      expect(await streamed(text, c.target, c.options, randomCuts(7 + i))).toBe(want);
      expect(await streamed(`${text}\n`, c.target, c.options, randomCuts(70 + i))).toBe(want);
    }, 120_000);
  }

  it('a byte-order mark split over chunks, and empty input', async () => {
    const t: IdentifierTarget = { kind: 'email', hash: 'sha256' };
    const text = '\ufeffa@b.co\n';
    const want = expected(text, t, { context: 'audience' });
    expect(await streamed(text, t, { context: 'audience' }, (b) => [b.subarray(0, 1), b.subarray(1, 2), b.subarray(2)])).toBe(want);
    expect(await streamed('', t, { context: 'audience' }, whole)).toBe('');
    expect(await streamed('\ufeff', t, { context: 'audience' }, whole)).toBe('');
  });
});
