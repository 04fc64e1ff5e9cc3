/**
 * Digests of one identifier type as lowercase hex bytes (or, `raw`, the digests' own
 * bytes) back to back, `width` bytes each: what the snapshot reader hands the data plane,
 * which writes them to files as bytes.
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
    /** 64 (SHA-256 hex) or 32 (MD5 hex); raw: 32 (SHA-256) or 16 (MD5). */
    readonly width: number,
    capacity = 1024,
    /**
     * The digests' raw bytes instead of their hex (what the data plane stores): the kernel
     * writes them so (Sha256HexQueue.runHash(true)), and nothing decodes hex per digest.
     */
    readonly raw = false,
  ) {
    if (raw ? width !== 32 && width !== 16 : width !== 64 && width !== 32)
      throw new RangeError(raw ? `a raw digest list holds SHA-256 (32) or MD5 (16) digests, not ${width} bytes` : `a digest list holds hex SHA-256 (64) or MD5 (32) digests, not ${width} bytes`);
    this.bytes = Buffer.allocUnsafe(capacity * width);
    this.words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length >>> 2);
  }

  /** Appends a digest given as a hex string ('' reserves a slot that setFrom fills later). */
  push(hex: string): number {
    const i = this.reserve();
    if (hex !== '') {
      const chars = this.raw ? 2 * this.width : this.width;
      if (hex.length !== chars) throw new RangeError(`a ${chars}-character hex digest was expected, not ${hex.length} characters`);
      if (this.raw) {
        if (this.bytes.write(hex, i * this.width, this.width, 'hex') !== this.width) throw new RangeError('a hex digest was expected: it holds a character that is not hex');
      } else this.bytes.write(hex, i * this.width, this.width, 'latin1');
    }
    return this.length;
  }

  /**
   * Appends the `width` bytes at `at` of `src` (4-byte aligned), in this list's form: the
   * kernel's hex output, or its raw output for a raw list.
   */
  pushWords(src: Uint32Array, at: number): void {
    const i = this.reserve();
    this.copyWords(i, src, at);
  }

  /**
   * Fills slot i with the hex digest at byte address `at` of `src` (4-byte aligned: the
   * kernel's hex output), decoded for a raw list.
   */
  setFrom(i: number, src: Uint32Array, at: number): void {
    if (i >= this.length) throw new RangeError(`digest slot ${i} was never reserved (${this.length} held)`);
    if (!this.raw) {
      this.copyWords(i, src, at);
      return;
    }
    const w = this.words;
    let o = (i * this.width) >>> 2;
    for (let s = at >>> 2, end = s + (this.width >>> 1); s < end; s += 2) w[o++] = (bytePair(src[s]!) | (bytePair(src[s + 1]!) << 16)) >>> 0;
  }

  /** Empties the list, keeping its memory. */
  clear(): void {
    this.length = 0;
  }

  /** Digest i as a (hex) string. */
  at(i: number): string {
    return this.bytes.toString(this.raw ? 'hex' : 'latin1', i * this.width, (i + 1) * this.width);
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

/** The 2 bytes (little-endian 16 bits) that 4 lowercase hex characters (a little-endian word) spell. */
function bytePair(x: number): number {
  const n = (x & 0x0f0f0f0f) + ((x >>> 6) & 0x01010101) * 9;
  return ((n & 0x0f) << 4) | ((n >>> 8) & 0x0f) | (((n >>> 16) & 0x0f) << 12) | (((n >>> 24) & 0x0f) << 8);
}

/** Where IdentifierHasher appends digests: strings, or bytes. */
export type DigestOut = string[] | DigestList;
