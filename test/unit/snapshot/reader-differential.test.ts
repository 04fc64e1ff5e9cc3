import { describe, expect, it } from 'vitest';
import { IdentifierNormalizer, isMultiValueCell, splitMultiValueCell, targetOfType, type IdentifierType } from '../../../src/identifiers';
import type { RejectRecord, SnapshotReadOptions } from '../../../src/snapshot';
import { mulberry32 } from '../../../src/util/prng';
import { emails, externalIds, maids, phones, pick, prehashed } from '../identifiers/generators';
import { SnapshotReader } from '../../../src/snapshot';
import { chunked, readAll } from './helpers';

// The reader tokenizes bytes and hands byte ranges to the identifier rules. Whatever the
// quoting, line endings, multi-value cells, non-ASCII text and chunking, it must give what
// the string rules give value by value for the cells the file was written from.

interface Column {
  column: string;
  type: IdentifierType;
  values: string[];
}

/** What a UTF-8 text file can hold: no NUL (binary), no lone surrogates. */
const fileSafe = (vs: string[]): string[] => vs.map((v) => Buffer.from(v.replace(/\0/g, ''), 'utf8').toString('utf8'));

function csvField(r: () => number, v: string, d: string): string {
  const needs = v.includes(d) || v.includes('"') || v.includes('\n') || v.includes('\r') || v.startsWith(' ') || v.endsWith(' ');
  if (needs || r() < 0.15) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

function build(seed: number, d: string, crlf: boolean): { text: string; expected: Awaited<ReturnType<typeof expectedOf>> } {
  const r = mulberry32(seed);
  const phoneValues = phones(r).map(([v]) => v);
  const columns: Column[] = [
    { column: 'email', type: 'EMAIL_SHA256', values: fileSafe([...emails(r, 3000), ...prehashed(r)]) },
    { column: 'phone', type: 'PHONE_SHA256', values: fileSafe(phoneValues.filter((_, i) => i % 5 === 0)) },
    { column: 'idfa', type: 'IDFA_SHA256', values: fileSafe(maids(r, 3000)) },
    { column: 'external_id', type: 'EXTERNAL_ID_SHA256', values: fileSafe(externalIds(r, 3000)) },
  ];
  const rows: string[][] = [];
  for (let i = 0; i < 4000; i++) {
    rows.push(
      columns.map((c) => {
        const x = r();
        if (x < 0.05) return '';
        if (x < 0.1) return `${pick(r, c.values)};${pick(r, c.values)}`;
        if (x < 0.12) return JSON.stringify([pick(r, c.values), pick(r, c.values)]);
        return pick(r, c.values);
      }),
    );
  }
  const nl = crlf ? '\r\n' : '\n';
  // An unmapped column between mapped ones; the last column is mapped (its CR matters).
  const names = columns.map((c) => c.column);
  let text = `${[names[0], 'note', ...names.slice(1)].join(d)}${nl}`;
  for (const row of rows) {
    const note = csvField(r, pick(r, ['', 'x', 'a,b', 'é', 'line\nbreak']), d);
    const cells = row.map((v) => csvField(r, v, d));
    text += `${[cells[0], note, ...cells.slice(1)].join(d)}${nl}`;
  }
  return { text, expected: expectedOf(columns, rows, text, nl) };
}

function expectedOf(columns: Column[], rows: string[][], text: string, nl: string) {
  const digests: Record<string, string[]> = {};
  const rejects: Array<Omit<RejectRecord, 'detail'>> = [];
  const opts = { context: 'audience' as const, defaultCountry: 'US' as const };
  const norms = columns.map((c) => new IdentifierNormalizer(targetOfType(c.type), opts));
  // Physical line of each record: count the line breaks inside its quoted fields.
  const recordLines: number[] = [];
  let line = 2;
  const body = text.slice(text.indexOf(nl) + nl.length);
  let i = 0;
  let quoted = false;
  let start = line;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '\n') {
      line++;
      if (!quoted) {
        recordLines.push(start);
        start = line;
      }
    }
  }
  rows.forEach((row, k) => {
    row.forEach((cell, j) => {
      const c = columns[j]!;
      const values = isMultiValueCell(cell) ? splitMultiValueCell(cell) : [cell];
      for (const v of values) {
        const n = norms[j]!;
        const o = n.process(v);
        if (o === 'hashed' || o === 'prehashed') (digests[c.type] ??= []).push(n.digest);
        else if (o !== 'empty') rejects.push({ row: k + 1, line: recordLines[k]!, column: c.column, type: c.type, reason: o, value: v });
      }
    });
  });
  return { digests, rejects };
}

const options = (delimiter: ',' | ';' | '\t'): SnapshotReadOptions => ({
  format: 'csv',
  delimiter,
  mapping: {
    identifiers: [
      { column: 'email', type: 'EMAIL_SHA256' },
      { column: 'phone', type: 'PHONE_SHA256' },
      { column: 'idfa', type: 'IDFA_SHA256' },
      { column: 'external_id', type: 'EXTERNAL_ID_SHA256' },
    ],
  },
  normalization: { context: 'audience', defaultCountry: 'US' },
});

describe('SnapshotReader agrees with the string rules value by value', () => {
  it.each([
    [',', false, 1 << 16, false],
    [';', true, 4093, false],
    ['\t', true, 97, false],
    // Raw digests (what prepare reads): the same digests, as bytes (a list's strings are their hex).
    [',', true, 4099, true],
  ] as const)('delimiter %j, CRLF %s, chunks of %i bytes, raw digests %s', async (d, crlf, chunk, rawDigests) => {
    const { text, expected } = build(chunk, d, crlf);
    const got = await readAll(text, options(d), chunk, 'diff.csv', undefined, { maxPieceBytes: 7919, rawDigests });
    expect(got.counts.rows).toBe(4000);
    expect(got.rejects.map(({ detail: _, ...x }) => x)).toEqual(expected.rejects);
    expect(got.digests).toEqual(expected.digests);
  });
});

describe('SnapshotReader with raw digests', () => {
  it('hands over each digest as its 32 bytes, the bytes of the hex digest the string rules give', async () => {
    const { text, expected } = build(5, ',', false);
    const reader = new SnapshotReader('raw.csv', options(','), undefined, { rawDigests: true });
    const bytes: Record<string, Buffer[]> = {};
    for await (const batch of reader.read(chunked(text, 1 << 15)))
      for (const t of batch.digests) {
        expect(t.digests.raw).toBe(true);
        expect(t.digests.width).toBe(32);
        (bytes[t.type] ??= []).push(Buffer.from(t.digests.view()));
      }
    for (const [type, hexes] of Object.entries(expected.digests)) expect(Buffer.concat(bytes[type] ?? []).equals(Buffer.from(hexes.join(''), 'hex'))).toBe(true);
  });
});
