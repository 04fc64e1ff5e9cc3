import { describe, expect, it } from 'vitest';
import { churned, peopleOf } from '../../../src/audience-sync/demo/synthetic';

describe('synthetic snapshots: churn in a row', () => {
  const first = { people: 1000, invalidEvery: 100 };

  it('the k-th churn has lost k in every 1/share people and gained as many new ones', () => {
    for (const k of [1, 2, 3]) {
      const got = [...peopleOf(churned(first, 0.1, k))];
      const want: number[] = [];
      for (let i = 0; i < 1000; i++) if (i % 10 >= k) want.push(i);
      for (let i = 1000; i < 1000 + 100 * k; i++) want.push(i);
      expect(got).toEqual(want);
    }
  });

  it('each churn differs from the one before by the share, both ways', () => {
    for (const k of [2, 3, 9]) {
      const before = new Set(peopleOf(churned(first, 0.1, k - 1)));
      const after = new Set(peopleOf(churned(first, 0.1, k)));
      const left = [...before].filter((i) => !after.has(i));
      const entered = [...after].filter((i) => !before.has(i));
      expect(left).toEqual(Array.from({ length: 100 }, (_, j) => j * 10 + (k - 1)));
      expect(entered).toEqual(Array.from({ length: 100 }, (_, j) => 1000 + 100 * (k - 1) + j));
    }
  });

  it('one churn keeps the spec the demo has always written', () => {
    expect(churned(first, 0.05)).toEqual({ people: 1000, invalidEvery: 100, exitEvery: 20, enters: 50 });
  });

  it('refuses a churn count that would empty the population or is not whole', () => {
    expect(() => churned(first, 0.1, 10)).toThrow(/churn 10 times 0.1 of the people: not 1 to 9 times/);
    expect(() => churned(first, 0.1, 0)).toThrow(RangeError);
    expect(() => churned(first, 0.1, 1.5)).toThrow(RangeError);
  });
});
