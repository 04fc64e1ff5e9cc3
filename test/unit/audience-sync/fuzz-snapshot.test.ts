import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotFormatError } from '../../../src/snapshot';
import { fuzzParams } from '../../helpers/fuzz';
import { prepareBytes } from './prepareHelper';

/*
 * Snapshot files fuzzed through the audience sync's prepare path (SnapshotReader → spill
 * parts and rejects): truncated, binary, invalid UTF-8, unbalanced quotes, mixed line
 * endings, header only, empty, and one 10 MB field. Each either prepares, with every reject
 * in the rejects file, or fails with a SnapshotFormatError naming the line. Nothing hangs
 * (each case is bounded by the test's timeout) and nothing else is thrown.
 */

const VALID_ROWS = ['a@example.com,+14155550100', 'b.c@example.org,4155550101', 'D@EXAMPLE.COM,', ',+44 20 7946 0958', 'not-an-email,12'];
const VALID = `email,phone\n${VALID_ROWS.join('\n')}\n`;

const outcomes = { prepared: 0, refused: 0 };

/** Prepares `bytes`; returns what happened, failing the property on anything unspecific. */
async function check(bytes: Buffer): Promise<void> {
  try {
    const { result, rejectsCsv } = await prepareBytes(bytes);
    outcomes.prepared += 1;
    // Every reject counted is a line of the rejects file (after its header); values may hold newlines, so count records by their leading row,line.
    const records = rejectsCsv.split(/\r?\n/).filter((l) => /^\d+,\d+,/.test(l)).length;
    expect(records).toBe(result.rejects);
    expect(rejectsCsv.startsWith('row,line,column,type,reason,detail,value')).toBe(true);
  } catch (err) {
    if (err instanceof SnapshotFormatError) {
      outcomes.refused += 1;
      expect(err.message).toMatch(/line \d+: /);
      return;
    }
    throw err;
  }
}

const asBytes = (s: string) => Buffer.from(s, 'utf8');
const variant = fc.oneof(
  // truncated at any byte
  fc.nat().map((n) => asBytes(VALID).subarray(0, n % (VALID.length + 1))),
  // pure binary
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  // invalid UTF-8 sequences spliced into a valid file
  fc.tuple(fc.nat(), fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00])).map(([at, bad]) => {
    const b = asBytes(VALID);
    const i = at % b.length;
    return Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]);
  }),
  // unbalanced quotes somewhere
  fc.tuple(fc.nat(), fc.constantFrom('"', '""', '"a', 'a"b', '"\n')).map(([at, q]) => {
    const i = at % VALID.length;
    return asBytes(VALID.slice(0, i) + q + VALID.slice(i));
  }),
  // mixed line endings
  fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: VALID_ROWS.length + 1, maxLength: VALID_ROWS.length + 1 }).map((ends) => asBytes(['email,phone', ...VALID_ROWS].map((r, i) => r + ends[i]).join(''))),
  // header only, with or without newline; empty; whitespace
  fc.constantFrom('email,phone', 'email,phone\n', '', '\n', '\r\n\r\n', ' ', 'email\n', 'phone,other\nx,y\n').map(asBytes),
  // random printable rows under a valid header
  fc.array(fc.string({ maxLength: 60 }), { maxLength: 20 }).map((rows) => asBytes(`email,phone\n${rows.join('\n')}`)),
);

describe('snapshot files, fuzzed through prepare', { timeout: 120_000 }, () => {
  it('prepare gives rejects or a SnapshotFormatError naming the line, never anything else', async () => {
    await fc.assert(fc.asyncProperty(variant, check), fuzzParams(300, 15_000));
    expect(outcomes.prepared).toBeGreaterThan(0);
  });

  it('a 10 MB single field is a reject or a format error, not a hang or a crash', async () => {
    const huge = 'x'.repeat(10 * 1024 * 1024);
    for (const text of [`email,phone\n${huge}@example.com,1\n`, `email,phone\n"${huge}",1\n`, `email,phone\n"${huge}`]) {
      await check(asBytes(text));
    }
  });
});
