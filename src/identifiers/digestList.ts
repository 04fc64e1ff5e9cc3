/**
 * Digests of one identifier type as lowercase hex bytes back to back, `width` bytes each:
 * what the snapshot reader hands the data plane, which writes them to files as bytes.
 *
 * Why not string[]: a JavaScript string per digest (decoded from the kernel's hex, sliced,
 * later written back to bytes) costs about as much as normalizing the value, and ~100
 * bytes of heap instead of 64. Strings are made only on request (at, iteration).
 */
export class DigestList implements Iterable<string> {
  /** Digests held. */
  length = 0;
  /** The digests' bytes: [0, length * width) is in use. */
  bytes: Buffer;
  /** The same memory as 32-bit words: a SHA-256 hex digest is 16 aligned words. */
  private words: Uint32Array;

  constructor(
    /** 64 (SHA-256 hex) or 32 (MD5 hex). */
    readonly width: number,
    capacity = 1024,
  ) {
    if (width !== 64 && width !== 32) throw new RangeError(`a digest list holds hex SHA-256 (64) or MD5 (32) digests, not ${width} bytes`);
    this.bytes = Buffer.allocUnsafe(capacity * width);
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length >>> 2);
  }

  /** Appends a digest given as a hex string ('' reserves a slot that setFrom fills later). */
  push(hex: string): number {
    const i = this.reserve();
    if (hex !== '') {
      if (hex.length !== this.width) throw new RangeError(`a ${this.width}-character hex digest was expected, not ${hex.length} characters`);
      this.bytes.write(hex, i * this.width, this.width, 'latin1');
    }
    return this.length;
  }

  /** Appends the `width` bytes at `at` of `src` (4-byte aligned: the kernel's hex output). */
  pushWords(src: Uint32Array, at: number): void {
    const i = this.reserve();
    this.copyWords(i, src, at);
  }

  /** Fills slot i with the `width` bytes at byte address `at` of `src` (4-byte aligned). */
  setFrom(i: number, src: Uint32Array, at: number): void {
    if (i >= this.length) throw new RangeError(`digest slot ${i} was never reserved (${this.length} held)`);
    this.copyWords(i, src, at);
  }

  /** Empties the list, keeping its memory. */
  clear(): void {
    this.length = 0;
  }

  /** Digest i as a string. */
  at(i: number): string {
    return this.bytes.toString('latin1', i * this.width, (i + 1) * this.width);
  }

  /** The digests in use, as one view (valid until the next push). */
  view(): Buffer {
    return this.bytes.subarray(0, this.length * this.width);
  }

  toArray(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    return out;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  private reserve(): number {
    if ((this.length + 1) * this.width > this.bytes.length) {
      const next = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(next, 0, 0, this.length * this.width);
      this.bytes = next;
      this.words = new Uint32Array(next.buffer, next.byteOffset, next.length >>> 2);
    }
    return this.length++;
  }

  private copyWords(i: number, src: Uint32Array, at: number): void {
    const w = this.words;
    const d = (i * this.width) >>> 2;
    const s = at >>> 2;
    for (let k = 0; k < this.width >>> 2; k++) w[d + k] = src[s + k]!;
  }
}

/** Where IdentifierHasher appends digests: strings, or bytes. */
export type DigestOut = string[] | DigestList;
