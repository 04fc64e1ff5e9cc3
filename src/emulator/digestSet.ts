/**
 * A set of hashed identifiers stored as raw bytes: 32 bytes a key (MD5 digests are padded)
 * in one open-addressing table, instead of a Set of 64-char strings (~4x the memory and a
 * heap object per id). Audiences in the 10M-row benchmark hold tens of millions of ids.
 *
 * Digests are uniformly distributed, so their first 4 bytes are the hash, mixed with a
 * per-set salt (Fibonacci hashing, top bits): without it, copying one set into another in
 * table order piles keys into the same runs and linear probing degrades to quadratic.
 * Deletion by backward shift, so no tombstones pile up.
 */
export const KEY_BYTES = 32;

const HEX_RE = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/;

export function isHexDigest(s: string): boolean {
  return HEX_RE.test(s);
}

/** 32 or 64 hex chars → 32-byte key (MD5 right-padded with zeros). */
export function keyFromHex(hex: string, out: Buffer = Buffer.alloc(KEY_BYTES)): Buffer {
  out.fill(0);
  out.write(hex.toLowerCase(), 0, hex.length / 2, 'hex');
  return out;
}

/** Inverse of keyFromHex: a key whose last 16 bytes are zero is an MD5 digest. */
export function hexFromKey(key: Uint8Array): string {
  const b = Buffer.from(key.buffer, key.byteOffset, KEY_BYTES);
  let md5 = true;
  for (let i = 16; i < KEY_BYTES; i++) if (b[i] !== 0) md5 = false;
  return b.toString('hex', 0, md5 ? 16 : KEY_BYTES);
}

export class DigestSet {
  private keys: Buffer;
  private used: Uint8Array;
  private mask: number;
  private shift: number;
  private count = 0;
  private readonly salt = (Math.random() * 0x1_0000_0000) | 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity / 0.75) cap *= 2;
    this.keys = Buffer.alloc(cap * KEY_BYTES);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  get size(): number {
    return this.count;
  }

  private slotOf(key: Uint8Array, off = 0): number {
    const h = (key[off]! << 24) | (key[off + 1]! << 16) | (key[off + 2]! << 8) | key[off + 3]!;
    return Math.imul(h ^ this.salt, 0x9e3779b1) >>> this.shift;
  }

  private find(key: Uint8Array, off = 0): number {
    for (let s = this.slotOf(key, off); ; s = (s + 1) & this.mask) {
      if (!this.used[s]) return ~s;
      if (this.keys.compare(key as Buffer, off, off + KEY_BYTES, s * KEY_BYTES, (s + 1) * KEY_BYTES) === 0) return s;
    }
  }

  has(key: Uint8Array, off = 0): boolean {
    return this.find(key, off) >= 0;
  }

  hasHex(hex: string): boolean {
    return isHexDigest(hex) && this.has(keyFromHex(hex));
  }

  /** Returns true when the key was new. */
  add(key: Uint8Array, off = 0): boolean {
    if ((this.count + 1) / (this.mask + 1) > 0.75) this.grow();
    const s = this.find(key, off);
    if (s >= 0) return false;
    const slot = ~s;
    this.keys.set(key.subarray(off, off + KEY_BYTES), slot * KEY_BYTES);
    this.used[slot] = 1;
    this.count++;
    return true;
  }

  addHex(hex: string): boolean {
    return this.add(keyFromHex(hex));
  }

  delete(key: Uint8Array, off = 0): boolean {
    let s = this.find(key, off);
    if (s < 0) return false;
    this.used[s] = 0;
    this.count--;
    // Backward-shift: move later members of the probe run into the hole so lookups stay correct.
    for (let j = (s + 1) & this.mask; this.used[j]; j = (j + 1) & this.mask) {
      const home = this.slotOf(this.keys, j * KEY_BYTES);
      const between = s <= j ? home > s && home <= j : home > s || home <= j;
      if (between) continue;
      this.keys.copy(this.keys, s * KEY_BYTES, j * KEY_BYTES, (j + 1) * KEY_BYTES);
      this.used[s] = 1;
      this.used[j] = 0;
      s = j;
    }
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    const cap = (this.mask + 1) * 2;
    this.keys = Buffer.alloc(cap * KEY_BYTES);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.count = 0;
    for (let i = 0; i < oldUsed.length; i++) if (oldUsed[i]) this.add(oldKeys, i * KEY_BYTES);
  }

  /** Visits each key; the view is only valid during the callback. */
  forEach(fn: (key: Buffer, off: number) => void): void {
    for (let i = 0; i < this.used.length; i++) if (this.used[i]) fn(this.keys, i * KEY_BYTES);
  }

  *hexes(): Generator<string> {
    for (let i = 0; i < this.used.length; i++) {
      if (this.used[i]) yield hexFromKey(this.keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES));
    }
  }

  /** Same contents; rehashed (the copy has its own salt). */
  clone(): DigestSet {
    const c = new DigestSet(this.count);
    this.forEach((k, off) => c.add(k, off));
    return c;
  }

  /** Packed keys, count × 32 bytes: the persisted form. */
  pack(): Buffer {
    const out = Buffer.alloc(this.count * KEY_BYTES);
    let o = 0;
    this.forEach((k, off) => {
      k.copy(out, o, off, off + KEY_BYTES);
      o += KEY_BYTES;
    });
    return out;
  }

  static unpack(buf: Buffer): DigestSet {
    const n = buf.length / KEY_BYTES;
    const s = new DigestSet(n);
    for (let i = 0; i < n; i++) s.add(buf, i * KEY_BYTES);
    return s;
  }
}
