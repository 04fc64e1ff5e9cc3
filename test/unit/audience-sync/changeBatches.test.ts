import { describe, expect, it } from 'vitest';
import { batchSet, diffChanges, foldChangeBatches, linesOf, listBytes, InputSetSchema } from '../../../src/audience-sync';
import { digests, sortUnique } from './helpers';

const W = 65;
const L = (ids: string[]): Buffer => listBytes(sortUnique(ids));
const [a, b, c, d, e] = digests(5);

describe('several pending change batches folded into one', () => {
  it('the last enter or exit of an id wins; within one batch exit wins', () => {
    const folded = foldChangeBatches(
      [
        { enters: L([a!, b!, e!]), exits: L([c!]) }, // b, e in; c out
        { enters: L([c!]), exits: L([a!, b!]) }, // c back in; a, b out
        { enters: L([a!, d!]), exits: L([d!]) }, // a back in; d both: out
      ],
      W,
    );
    expect(linesOf(folded.enters)).toEqual(sortUnique([a!, c!, e!]));
    expect(linesOf(folded.exits)).toEqual(sortUnique([b!, d!]));
    // Applied one after another or folded: the same audience.
    const applied = L([b!, d!]);
    const r = diffChanges(folded.enters, folded.exits, applied, 'mirror', W);
    expect(linesOf(r.state)).toEqual(sortUnique([a!, c!, e!]));
    expect(foldChangeBatches([], W)).toEqual({ enters: Buffer.alloc(0), exits: Buffer.alloc(0) });
  });

  it('batch input sets: batch 0 keeps the single-batch layout', () => {
    expect(batchSet('enters', 0)).toBe('enters');
    expect(batchSet('exits', 12)).toBe('exits-12');
    expect(() => batchSet('enters', -1)).toThrow(RangeError);
    for (const ok of ['snapshot', 'enters', 'exits-1', 'enters-999999']) expect(InputSetSchema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['enters-0', 'enters-01', 'exits-', 'snapshot-1', 'enters/1']) expect(InputSetSchema.safeParse(bad).success, bad).toBe(false);
  });
});
