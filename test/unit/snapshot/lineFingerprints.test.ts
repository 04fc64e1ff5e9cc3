import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LINES_PER_SCAN, LineFingerprints } from '../../../src/snapshot/lineFingerprints';
import { rowFingerprint } from '../../../src/snapshot/rowFingerprint';

/*
 * The WebAssembly line pass must give the same lines and the same fingerprints as splitting
 * on LF and calling rowFingerprint (checked against the reference MurmurHash3 in
 * rowFingerprint.test.ts): row indexes written by either are read by the other.
 */

/** Random line bytes without LF (CR and quotes included: the kernel treats them as bytes). */
function lineBytes(len: number): Buffer {
  const b = randomBytes(len);
  for (let i = 0; i < len; i++) if (b[i] === 10) b[i] = 13;
  return b;
}

/** Expected: each LF-ended line of buf[from, to) whose LF is before `stop`, as [LF offset, ...fingerprint]. */
function expected(buf: Buffer, from: number, to: number, stop: number, seed: number): number[][] {
  const out: number[][] = [];
  const fp = new Uint32Array(4);
  let s = from;
  for (;;) {
    const nl = buf.subarray(0, to).indexOf(10, s);
    if (nl < 0 || nl >= stop) break;
    rowFingerprint(buf, s, nl, seed, fp, 0);
    out.push([nl, ...fp]);
    s = nl + 1;
  }
  return out;
}

function scanAll(k: LineFingerprints, buf: Buffer, from: number, to: number, stop: number, seed: number): { lines: number[][]; next: number } {
  k.load(buf, from, to);
  const lines: number[][] = [];
  for (;;) {
    const n = k.scan(stop, seed);
    for (let j = 0; j < n; j++) lines.push(Array.from(k.words.subarray(5 * j, 5 * j + 5)));
    if (n < LINES_PER_SCAN) break;
  }
  return { lines, next: k.next() };
}

describe('LineFingerprints (WebAssembly line pass)', () => {
  const k = new LineFingerprints();

  it('finds every line and fingerprints it as rowFingerprint does, for each length 0-100 at each offset', () => {
    for (const seed of [0, 1, 0x7fffffff, 123456789]) {
      for (let len = 0; len <= 100; len++) {
        for (let lead = 0; lead < 4; lead++) {
          // Lines of this length around lines of other lengths, starting `lead` bytes into the buffer.
          const parts = [lineBytes(lead), lineBytes(len), Buffer.from('\n'), lineBytes(len), Buffer.from('\n'), lineBytes((len * 7) % 41), Buffer.from('\n'), lineBytes(3)];
          const buf = Buffer.concat(parts);
          const to = buf.length;
          const got = scanAll(k, buf, lead, to, to, seed);
          const want = expected(buf, lead, to, to, seed);
          expect(got.lines).toEqual(want);
          expect(want).toHaveLength(3);
          // The last 3 bytes have no LF: the scan stops at their start.
          expect(got.next).toBe(to - 3);
        }
      }
    }
  });

  it('stops before the line whose LF is at or past `stop`, and pages past LINES_PER_SCAN lines', () => {
    const lines: Buffer[] = [];
    for (let i = 0; i < 3 * LINES_PER_SCAN + 17; i++) lines.push(lineBytes(i % 97), Buffer.from('\n'));
    const buf = Buffer.concat(lines);
    const all = scanAll(k, buf, 0, buf.length, buf.length, 42);
    expect(all.lines).toEqual(expected(buf, 0, buf.length, buf.length, 42));
    expect(all.lines).toHaveLength(3 * LINES_PER_SCAN + 17);
    expect(all.next).toBe(buf.length);
    // A stop inside line 5000 (the first quote in the file, say): lines before it only.
    const fifth = all.lines[4999]![0]!;
    const part = scanAll(k, buf, 0, buf.length, fifth - 1, 42);
    expect(part.lines).toHaveLength(4999);
    expect(part.next).toBe(all.lines[4998]![0]! + 1);
    // A stop exactly at a LF ends before that line too.
    expect(scanAll(k, buf, 0, buf.length, fifth, 42).lines).toHaveLength(4999);
    expect(scanAll(k, buf, 0, buf.length, fifth + 1, 42).lines).toHaveLength(5000);
  });

  it('reads nothing past `to`, whatever follows it in the buffer', () => {
    const buf = Buffer.from('abc\ndefghijklmnopqrstuvwxyz0123\nxyz\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n');
    const to = buf.indexOf('\nxyz') + 4;
    const got = scanAll(k, buf, 0, to, to, 7);
    expect(got.lines).toEqual(expected(buf, 0, to, to, 7));
    expect(got.lines).toHaveLength(2);
    expect(got.next).toBe(to - 3);
    // Empty lines and an empty input.
    const blanks = Buffer.from('\n\n\r\n');
    expect(scanAll(k, blanks, 0, 4, 4, 9).lines).toEqual(expected(blanks, 0, 4, 4, 9));
    expect(scanAll(k, blanks, 4, 4, 4, 9)).toEqual({ lines: [], next: 4 });
  });

  it('grows its memory for a large piece and keeps working on small ones after', () => {
    const lines: Buffer[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(lineBytes(50 + (i % 90)), Buffer.from('\n'));
    const big = Buffer.concat(lines);
    expect(big.length).toBeGreaterThan(4 << 20);
    expect(scanAll(k, big, 0, big.length, big.length, 5).lines).toEqual(expected(big, 0, big.length, big.length, 5));
    const small = Buffer.from('one,two\nthree\n');
    expect(scanAll(k, small, 0, small.length, small.length, 5).lines).toEqual(expected(small, 0, small.length, small.length, 5));
  });
});
