import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { RejectsCsvWriter, SnapshotFormatError, SnapshotReader, type SnapshotReadOptions } from '../../../src/snapshot';
import { H, csvOptions, readAll } from './helpers';
import { rejectionOf } from '../../helpers/rejection';

const BASIC = 'email,phone,idfa\na@x.com,(213) 373-4253,5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25\nb@y.com,+49 30 123456,7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB\n';

describe('SnapshotReader: CSV', () => {
  it('reads a header row and yields digests per type in file order', async () => {
    const r = await readAll(BASIC, csvOptions());
    expect(r.digests).toEqual({
      EMAIL_SHA256: [H.a, H.b],
      PHONE_SHA256: [H.us, H.de],
      IDFA_SHA256: [H.maid1, H.maid2],
    });
    expect(r.rejects).toEqual([]);
    expect(r.counts).toEqual({
      rows: 2,
      rowsRejected: {},
      types: {
        EMAIL_SHA256: { accepted: 2, prehashed: 0, empty: 0, rejected: {} },
        PHONE_SHA256: { accepted: 2, prehashed: 0, empty: 0, rejected: {} },
        IDFA_SHA256: { accepted: 2, prehashed: 0, empty: 0, rejected: {} },
      },
    });
  });

  it('gives the same result whatever the chunking (1-byte chunks split BOM, CRLF, quotes and UTF-8)', async () => {
    const text = '\ufeffemail,phone,idfa\r\n"a@x.com","(213) 373-4253",5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25\r\n"Jos\u00e9@x.com;b@y.com",,\r\n';
    const whole = await readAll(text, csvOptions());
    const bytewise = await readAll(text, csvOptions(), 1);
    expect(bytewise.digests).toEqual(whole.digests);
    expect(bytewise.counts).toEqual(whole.counts);
    // printf 'jos\xc3\xa9@x.com' | sha256sum
    expect(whole.digests.EMAIL_SHA256).toEqual([H.a, '2feb7702bea9dbc65679f51266cccdacc6214976ec20912f05f19674034b6406', H.b]);
    expect(whole.counts.types.PHONE_SHA256!.empty).toBe(1);
  });

  it('handles quoted fields: delimiters, doubled quotes and newlines inside, and counts lines across them', async () => {
    const text = 'note,email,phone,idfa\n"a, ""multi""\nline note",a@x.com,,\n"x","quo""te@x.com","",""\nplain,broken-email,,\n';
    const r = await readAll(text, csvOptions());
    expect(r.digests.EMAIL_SHA256).toEqual([H.a, H.quote]);
    expect(r.rejects).toEqual([{ row: 3, line: 5, column: 'email', type: 'EMAIL_SHA256', reason: 'invalid_email', value: 'broken-email' }]);
    expect(r.counts.rows).toBe(3);
  });

  it('strips a UTF-8 BOM and accepts CRLF line endings', async () => {
    const r = await readAll('\ufeffemail\r\na@x.com\r\nb@y.com\r\n', csvOptions({ mapping: { identifiers: [{ column: 'email', type: 'EMAIL_SHA256' }] } }));
    expect(r.digests.EMAIL_SHA256).toEqual([H.a, H.b]);
  });

  it.each([
    [';', 'email;phone;idfa\na@x.com;;\n'],
    ['\t', 'email\tphone\tidfa\na@x.com\t\t\n'],
    [',', 'email,phone,idfa\na@x.com,,\n'],
  ])('detects the %j delimiter from the header', async (d, text) => {
    const r = await readAll(text, csvOptions());
    expect(r.digests.EMAIL_SHA256).toEqual([H.a]);
    expect(r.positions.at(-1)!.delimiter).toBe(d);
  });

  it('uses a configured delimiter, so commas inside values stay in the value', async () => {
    const r = await readAll('email;phone;idfa\na@x.com;+1 (213) 373,4253;\n', csvOptions({ delimiter: ';' }));
    expect(r.digests.EMAIL_SHA256).toEqual([H.a]);
    expect(r.rejects).toEqual([{ row: 1, line: 2, column: 'phone', type: 'PHONE_SHA256', reason: 'invalid_phone', value: '+1 (213) 373,4253' }]);
  });

  it('flattens multi-value cells (; | and JSON arrays) and counts empty values', async () => {
    const text = 'email,phone,idfa\n"a@x.com;b@y.com",,\n"[""c@z.com"", ""a@x.com""]",  ,\na@x.com|;,,\n';
    const r = await readAll(text, csvOptions());
    expect(r.digests.EMAIL_SHA256).toEqual([H.a, H.b, H.c, H.a, H.a]);
    expect(r.counts.types.EMAIL_SHA256).toEqual({ accepted: 5, prehashed: 0, empty: 2, rejected: {} });
    expect(r.counts.types.PHONE_SHA256!.empty).toBe(3);
  });

  it("uses the row's country column for national phone numbers, falling back to the default", async () => {
    const opts = csvOptions({
      mapping: { identifiers: [{ column: 'phone', type: 'PHONE_SHA256' }], countryColumn: 'country' },
    });
    const r = await readAll('phone,country\n030 123456,de\n07911 123456, GB \n(213) 373-4253,\n2133734253,USA\n', opts);
    expect(r.digests.PHONE_SHA256).toEqual([H.de, H.gb, H.us]);
    expect(r.rejects.map((x) => [x.row, x.reason])).toEqual([[4, 'invalid_phone']]);
  });

  it('passes pre-hashed digests through and rejects wrong kinds, with counts per type and reason', async () => {
    const text = `email,phone,idfa\n${H.a.toUpperCase()},d41d8cd98f00b204e9800998ecf8427e,00000000-0000-0000-0000-000000000000\n`;
    const r = await readAll(text, csvOptions());
    expect(r.digests).toEqual({ EMAIL_SHA256: [H.a] });
    expect(r.counts.types).toEqual({
      EMAIL_SHA256: { accepted: 0, prehashed: 1, empty: 0, rejected: {} },
      PHONE_SHA256: { accepted: 0, prehashed: 0, empty: 0, rejected: { wrong_hash_kind: 1 } },
      IDFA_SHA256: { accepted: 0, prehashed: 0, empty: 0, rejected: { zeroed_maid: 1 } },
    });
  });

  it('turns malformed rows into rejects with reasons and keeps going', async () => {
    const text = [
      'email,phone,idfa',
      'a@x.com,,', // 1 ok
      '"b@y.com"junk,,', // 2 text after closing quote
      'c@z.com,,,extra', // 3 too many fields
      'a@x.com,,,', // 4 trailing empty field: fine
      'short', // 5 only email present: invalid_email
      '', // blank line: not a record
      'not-an-email', // 6
      `${'x'.repeat(1100)}@x.com,,`, // 7 too_long
      'b@y.com,,', // 8 ok
      '"never closed,,',
      '',
    ].join('\n');
    const r = await readAll(text, csvOptions());
    expect(r.digests.EMAIL_SHA256).toEqual([H.a, H.a, H.b]);
    expect(r.rejects.map((x) => ({ row: x.row, line: x.line, reason: x.reason, detail: x.detail }))).toEqual([
      { row: 2, line: 3, reason: 'malformed_row', detail: 'unexpected text after a closing quote' },
      { row: 3, line: 4, reason: 'malformed_row', detail: 'row has 4 fields; the header has 3' },
      { row: 5, line: 6, reason: 'invalid_email', detail: undefined },
      { row: 6, line: 8, reason: 'invalid_email', detail: undefined },
      { row: 7, line: 9, reason: 'too_long', detail: undefined },
      { row: 9, line: 11, reason: 'malformed_row', detail: 'quoted field is never closed' },
    ]);
    expect(r.counts.rows).toBe(9);
    expect(r.counts.rowsRejected).toEqual({ malformed_row: 3 });
  });

  it('a row whose identifier columns are all missing is unmapped_column', async () => {
    const opts = csvOptions({ mapping: { identifiers: [{ column: 'email', type: 'EMAIL_SHA256' }] } });
    const r = await readAll('id,name,email\n1,ann,a@x.com\n2,bob\n3\n', opts);
    expect(r.digests.EMAIL_SHA256).toEqual([H.a]);
    expect(r.rejects.map((x) => [x.row, x.line, x.reason])).toEqual([
      [2, 3, 'unmapped_column'],
      [3, 4, 'unmapped_column'],
    ]);
    expect(r.counts.rowsRejected).toEqual({ unmapped_column: 2 });
  });

  it('matches header names case-insensitively when unambiguous and ignores header whitespace', async () => {
    const r = await readAll(' Email , PHONE,IDFA\na@x.com,,\n', csvOptions());
    expect(r.digests.EMAIL_SHA256).toEqual([H.a]);
  });
});

describe('SnapshotReader: NDJSON', () => {
  const opts: SnapshotReadOptions = {
    format: 'ndjson',
    mapping: { identifiers: [{ column: 'email', type: 'EMAIL_SHA256' }, { column: 'phone', type: 'PHONE_SHA256' }], countryColumn: 'country' },
    normalization: { context: 'audience' },
  };

  it('reads one object per line: strings, numbers, arrays, null; CRLF and blank lines', async () => {
    const text = [
      '{"email":"a@x.com","phone":"+1 213 373 4253"}',
      '{"email":["b@y.com","c@z.com"],"phone":null}',
      '',
      '{"email":"","phone":4930123456,"country":"DE"}\r',
      '{"email":{"nested":true}}',
      '{"other":1}',
      '[1,2]',
      '{"email":"a@x.com"',
      '{"phone":"07911 123456","country":"GB"}',
    ].join('\n');
    const r = await readAll(text, opts, 7, 'snap.ndjson');
    expect(r.digests).toEqual({ EMAIL_SHA256: [H.a, H.b, H.c], PHONE_SHA256: [H.us, H.de, H.gb] });
    expect(r.rejects.map((x) => [x.row, x.line, x.column, x.reason])).toEqual([
      [4, 5, 'email', 'malformed_value'],
      [5, 6, null, 'unmapped_column'],
      [6, 7, null, 'malformed_row'],
      [7, 8, null, 'malformed_row'],
    ]);
    expect(r.counts.rows).toBe(8);
    expect(r.counts.types.EMAIL_SHA256).toEqual({ accepted: 3, prehashed: 0, empty: 1, rejected: { malformed_value: 1 } });
  });
});

describe('SnapshotReader: files that are not what they claim', () => {
  async function failure(data: Buffer | string, options: SnapshotReadOptions, source = 'people.csv'): Promise<SnapshotFormatError> {
    return rejectionOf(readAll(data, options, 1 << 16, source), SnapshotFormatError);
  }

  it('binary data (NUL bytes) fails fast naming the file and line', async () => {
    const data = Buffer.concat([Buffer.from('email,phone,idfa\na@x.com,,\n'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00])]);
    const e = await failure(data, csvOptions());
    expect(e.message).toBe('people.csv: line 3: contains a NUL byte: this is not a text file (binary, or UTF-16?)');
  });

  it('UTF-16 text fails fast at line 1', async () => {
    const e = await failure(Buffer.from('\ufeffemail\na@x.com\n', 'utf16le'), csvOptions());
    expect(e.line).toBe(1);
    expect(e.message).toMatch(/^people\.csv: line 1: /);
  });

  it('invalid UTF-8 (Latin-1 export) fails fast naming the line, without quoting content', async () => {
    const data = Buffer.concat([Buffer.from('email,phone,idfa\na@x.com,,\nb@y.com,,\nJos'), Buffer.from([0xe9]), Buffer.from('@x.com,,\n')]);
    const e = await failure(data, csvOptions());
    expect(e.message).toBe('people.csv: line 4: is not valid UTF-8 text (binary data, or another encoding such as Latin-1?)');
    expect(e.message).not.toMatch(/Jos|x\.com/);
  });

  it('a file ending inside a UTF-8 character fails', async () => {
    const e = await failure(Buffer.concat([Buffer.from('email\na@x.com\n'), Buffer.from([0xe2, 0x82])]), csvOptions({ mapping: { identifiers: [{ column: 'email', type: 'EMAIL_SHA256' }] } }));
    expect(e.message).toMatch(/line 3: file ends inside a UTF-8 character/);
  });

  it('NDJSON declared as CSV fails at the header and says so', async () => {
    const e = await failure('{"email":"a@x.com"}\n', csvOptions(), 'snap.csv');
    expect(e.message).toMatch(/^snap\.csv: line 1: header has no column "email" \(mapped as EMAIL_SHA256\) \(it looks like JSON/);
    expect(e.message).not.toContain('a@x.com');
  });

  it('CSV declared as NDJSON fails at line 1', async () => {
    const e = await failure('email\na@x.com\n', { format: 'ndjson', mapping: { identifiers: [{ column: 'email', type: 'EMAIL_SHA256' }] }, normalization: { context: 'audience' } }, 'snap.ndjson');
    expect(e.message).toBe('snap.ndjson: line 1: line is not valid JSON: is this file NDJSON (one JSON object per line)?');
  });

  it('a header without a mapped column, and an empty file, fail with the file and line', async () => {
    const e = await failure('a@x.com,+12133734253\n', csvOptions());
    expect(e.message).toMatch(/^people\.csv: line 1: header has no column "email"/);
    expect(e.message).not.toContain('a@x.com');
    expect((await failure('', csvOptions())).message).toBe('people.csv: line 1: file is empty: a CSV snapshot needs a header row naming its columns');
  });

  it('a quoted field never closed in a large file fails once it exceeds the record limit', async () => {
    const text = `email,phone,idfa\na@x.com,,\n"${'b@y.com,,\n'.repeat(2000)}`;
    await expect(readAll(text, csvOptions(), 4096, 'big.csv', undefined, { maxRecordChars: 8192 })).rejects.toThrow(
      /^big\.csv: line 3: a record is longer than 8192 characters/,
    );
  });
});

describe('SnapshotReader: positions and resume', () => {
  it('reports byte offsets at record boundaries; resuming from one yields exactly the rest', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => `u${i}@x.com,,${i % 2 ? '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' : ''}`);
    const text = `\ufeffemail;phone;idfa\r\n${rows.map((r) => r.replace(/,/g, ';')).join('\r\n')}\r\n`;
    const buf = Buffer.from(text);
    const full = await readAll(buf, csvOptions(), 997, 's.csv', undefined, { maxPieceBytes: 1500 });
    expect(full.positions.length).toBeGreaterThan(5);
    const mid = full.positions[3]!;
    expect(mid.rows).toBeGreaterThan(0);
    // The offset is a record boundary: the byte before it ends a line.
    expect(buf[mid.byteOffset - 1]).toBe(10);
    const before = await readAll(buf.subarray(0, mid.byteOffset), csvOptions());
    const after = await readAll(buf.subarray(mid.byteOffset), csvOptions(), 333, 's.csv', mid);
    expect(before.counts.rows + after.counts.rows - mid.rows).toBe(500);
    expect([...before.digests.EMAIL_SHA256!, ...after.digests.EMAIL_SHA256!]).toEqual(full.digests.EMAIL_SHA256);
    expect(after.counts.rows).toBe(500);
    expect(full.positions.at(-1)!.byteOffset).toBe(buf.length);
  });
});

describe('RejectsCsvWriter', () => {
  it('writes rejects as CSV with a header, quoting values', async () => {
    const chunks: string[] = [];
    const out = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    });
    const w = new RejectsCsvWriter(out);
    const r = await readAll('email,phone,idfa\n"bad,email",,\n', csvOptions());
    await w.write(r.rejects);
    await w.end();
    expect(chunks.join('')).toBe('row,line,column,type,reason,detail,value\n1,2,email,EMAIL_SHA256,invalid_email,,"bad,email"\n');
  });
});

describe('SnapshotReader: a real file from disk', () => {
  it('reads the BOM + CRLF + semicolon fixture through a file stream', async () => {
    const { createReadStream } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(__dirname, '..', '..', 'fixtures', 'identifiers', 'customers-semicolon-bom-crlf.csv');
    const reader = new SnapshotReader(file, {
      format: 'csv',
      mapping: {
        identifiers: [
          { column: 'email', type: 'EMAIL_SHA256' },
          { column: 'phone', type: 'PHONE_SHA256' },
          { column: 'idfa', type: 'IDFA_SHA256' },
        ],
        countryColumn: 'country',
      },
      normalization: { context: 'audience', defaultCountry: 'US' },
    });
    const digests: Record<string, string[]> = {};
    const rejects: Array<[number, number, string | null, string]> = [];
    for await (const b of reader.read(createReadStream(file, { highWaterMark: 16 }))) {
      for (const t of b.digests) (digests[t.type] ??= []).push(...t.digests);
      for (const r of b.rejects) rejects.push([r.row, r.line, r.column, r.reason]);
    }
    expect(digests).toEqual({
      EMAIL_SHA256: [H.a, H.b, H.c],
      PHONE_SHA256: [H.de, H.gb, H.us],
      IDFA_SHA256: [H.maid1, H.maid2],
    });
    expect(rejects).toEqual([
      [3, 5, 'idfa', 'zeroed_maid'],
      [4, 6, 'email', 'invalid_email'],
    ]);
    expect(reader.counts.rows).toBe(4);
  });
});
