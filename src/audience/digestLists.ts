/**
 * Digest lists: the text form of every sorted id set the data plane stores (shards, the
 * applied state, adds and removes): lowercase hex digests, one per line, each line ending
 * in "\n", sorted by byte order, no duplicates. Sorted lists make diffs a linear merge and
 * the files byte-for-byte reproducible.
 */

/** Lines of `text` (each ending in "\n"); a last line without "\n" counts too. */
export function linesOf(buf: Buffer, start = 0, end = buf.length): string[] {
  if (end <= start) return [];
  const text = buf.toString('latin1', start, end);
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/** Sorts in place (code unit order = byte order for hex) and drops duplicates. */
export function sortUnique(ids: string[]): string[] {
  ids.sort();
  let w = 0;
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (w === 0 || ids[w - 1] !== v) ids[w++] = v;
  }
  ids.length = w;
  return ids;
}

export function isSortedUnique(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) if (!(ids[i - 1]! < ids[i]!)) return false;
  return true;
}

/** The stored bytes of a list. */
export function listBytes(ids: readonly string[]): Buffer {
  if (ids.length === 0) return Buffer.alloc(0);
  return Buffer.from(ids.join('\n') + '\n', 'latin1');
}

/** a − b, both sorted unique. */
export function minus(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    while (j < b.length && b[j]! < v) j++;
    if (j < b.length && b[j] === v) continue;
    out.push(v);
  }
  return out;
}

/** a ∪ b, both sorted unique. */
export function union(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) {
      out.push(x);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** a ∩ b, both sorted unique. */
export function intersect(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    while (j < b.length && b[j]! < v) j++;
    if (j < b.length && b[j] === v) out.push(v);
  }
  return out;
}
