import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatOf, readRows, type InputRow, type MalformedRow } from '../../../src/events-export/rows';
import { addTotals, NO_TOTALS, rejectedByReason, sendRanges } from '../../../workflows/events-export/plan';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Feeds `text` in pieces of `size` bytes, so records straddle chunk boundaries. */
async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text, 'utf8');
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
async function all(text: string, format: 'csv' | 'ndjson', size = 7): Promise<Array<InputRow | MalformedRow>> {
  const out: Array<InputRow | MalformedRow> = [];
  for await (const r of readRows(pieces(text, size), format, ['email', 'ts'])) out.push(r);
  return out;
}

describe('event rows', () => {
  it('reads CSV with a BOM, CRLF, quotes, embedded newlines and ; delimiters, in any chunking', async () => {
    const text = '\uFEFFts;email;note\r\n2026-01-01T00:00:00Z;a@x.io;"semi; colon"\r\n\r\n2026-01-02T00:00:00Z;b@x.io;"two\nlines ""q"""\r\n';
    for (const size of [1, 3, 7, 1000]) {
      const rows = await all(text, 'csv', size);
      expect(rows).toEqual([
        { row: 1, line: 2, cells: { ts: '2026-01-01T00:00:00Z', email: 'a@x.io', note: 'semi; colon' }, digest: sha('2026-01-01T00:00:00Z\u0000a@x.io\u0000semi; colon\u0000') },
        { row: 2, line: 4, cells: { ts: '2026-01-02T00:00:00Z', email: 'b@x.io', note: 'two\nlines "q"' }, digest: sha('2026-01-02T00:00:00Z\u0000b@x.io\u0000two\nlines "q"\u0000') },
      ]);
    }
  });

  it('reports a record of the wrong width as malformed and goes on', async () => {
    const rows = await all('ts,email\n1,a@x.io,extra\n2,b@x.io\n', 'csv');
    expect(rows[0]).toEqual({ row: 1, line: 2, malformed: 'the record has 3 fields, the header 2' });
    expect(rows[1]).toMatchObject({ row: 2, cells: { ts: '2', email: 'b@x.io' } });
  });

  it('reads NDJSON objects, skips blank lines and reports lines that are not objects', async () => {
    const rows = await all('{"email":"a@x.io","n":1}\n\n[1]\nnot json\n{"email":"b@x.io"}', 'ndjson', 5);
    expect(rows).toEqual([
      { row: 1, line: 1, cells: { email: 'a@x.io', n: 1 }, digest: sha('{"email":"a@x.io","n":1}') },
      { row: 2, line: 3, malformed: 'the line is not a JSON object' },
      { row: 3, line: 4, malformed: 'the line is not valid JSON' },
      { row: 4, line: 5, cells: { email: 'b@x.io' }, digest: sha('{"email":"b@x.io"}') },
    ]);
  });

  it('refuses input that is not UTF-8 text, and keeps characters split across pieces', async () => {
    await expect(all('ts,email\n\x00\x01', 'csv')).resolves.toHaveLength(1);
    const gzip = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x0a]);
    const read = async () => {
      for await (const r of readRows((async function* () { yield gzip; })(), 'csv', [])) void r;
    };
    await expect(read()).rejects.toThrow(/not UTF-8 text/);
    const rows = await all('ts,name\n1,Zoë Ünal 日本\n', 'csv', 1);
    expect(rows[0]).toMatchObject({ cells: { name: 'Zoë Ünal 日本' } });
  });

  it('tells the format from the name, or asks for it', () => {
    expect(formatOf('gs://b/x.CSV')).toBe('csv');
    expect(formatOf('file:///x.jsonl')).toBe('ndjson');
    expect(formatOf('file:///x.data', 'ndjson')).toBe('ndjson');
    expect(() => formatOf('file:///x.data')).toThrow(/format/);
  });
});

describe('events workflow plan', () => {
  it('cuts batches into sending ranges and adds totals', () => {
    expect(sendRanges(0)).toEqual([]);
    expect(sendRanges(45, 20)).toEqual([{ from: 0, to: 20 }, { from: 20, to: 40 }, { from: 40, to: 45 }]);
    const t = addTotals(NO_TOTALS, { ...NO_TOTALS, sent: 5, rejected: 1, batches: 1, rejectsUris: ['u'] });
    expect(addTotals(t, t)).toMatchObject({ sent: 10, rejected: 2, batches: 2, rejectsUris: ['u', 'u'] });
    expect(rejectedByReason({ invalid_email: 2 }, 3)).toEqual({ invalid_email: 2, rejected_by_tiktok: 3 });
    expect(rejectedByReason({}, 0)).toEqual({});
  });
});
