import { createHash, type Hash } from 'node:crypto';
import { DigestSet, isHexDigest, keyFromHex, KEY_BYTES } from './digestSet';
import type { PartSink } from './multipart';

export interface IngestResult {
  bytes: number;
  md5: string;
  tooLarge: boolean;
  ids: DigestSet;
  /** Non-empty data lines (header excluded). */
  rows: number;
  md5Width: number;
  sha256Width: number;
  invalidRows: number;
  headerSkipped: boolean;
  firstLineIsDigest: boolean | null;
}

/**
 * Consumes a customer file as it streams in: MD5 of the exact bytes, size, and every digest
 * (one per line; a line may be a CSV row of several digests for MULTIPLE_TYPES) straight
 * into a DigestSet. Beyond `maxBytes` it keeps hashing/counting but stops storing ids.
 */
export class FileIngest implements PartSink {
  private readonly md5: Hash = createHash('md5');
  private carry = '';
  private lineNo = 0;
  private readonly key = Buffer.alloc(KEY_BYTES);
  readonly result: IngestResult = {
    bytes: 0,
    md5: '',
    tooLarge: false,
    ids: new DigestSet(),
    rows: 0,
    md5Width: 0,
    sha256Width: 0,
    invalidRows: 0,
    headerSkipped: false,
    firstLineIsDigest: null,
  };

  constructor(
    private readonly maxBytes: number,
    private readonly headerRow: 'optional' | 'required' | 'forbidden',
  ) {}

  write(chunk: Buffer): void {
    this.md5.update(chunk);
    this.result.bytes += chunk.length;
    if (this.result.bytes > this.maxBytes) {
      this.result.tooLarge = true;
      return;
    }
    const text = this.carry + chunk.toString('latin1');
    const lines = text.split('\n');
    this.carry = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  end(): void {
    if (!this.result.tooLarge && this.carry) this.line(this.carry);
    this.carry = '';
    this.result.md5 = this.md5.digest('hex');
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) return;
    const cells = line
      .split(',')
      .map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
      .filter(Boolean);
    const allDigests = cells.length > 0 && cells.every(isHexDigest);
    if (this.lineNo++ === 0) {
      this.result.firstLineIsDigest = allDigests;
      if (!allDigests && this.headerRow !== 'forbidden') {
        this.result.headerSkipped = true;
        return;
      }
    }
    this.result.rows++;
    if (!allDigests) {
      this.result.invalidRows++;
      return;
    }
    for (const c of cells) {
      if (c.length === 32) this.result.md5Width++;
      else this.result.sha256Width++;
      this.result.ids.add(keyFromHex(c, this.key));
    }
  }
}
