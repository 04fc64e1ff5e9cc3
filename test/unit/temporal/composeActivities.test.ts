import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities';
import { DuplicateActivityError, composeActivities } from '../../../src/temporal/composeActivities';

describe('activities composed per lifecycle', () => {
  it('keeps every activity of every group, each under its own name', async () => {
    const composed = composeActivities({ a: { one: async () => 1 }, b: { two: async () => 2, three: async () => 3 } });
    expect(Object.keys(composed).sort()).toEqual(['one', 'three', 'two']);
    expect(await composed.two()).toBe(2);
  });

  it('refuses two groups that define the same activity name, naming both', () => {
    const planted = () => composeActivities({ 'audience-sync': { syncIt: async () => 1 }, 'events-export': { other: async () => 2, syncIt: async () => 3 } });
    expect(planted).toThrow(DuplicateActivityError);
    expect(planted).toThrow('activity "syncIt" is defined by both audience-sync and events-export');
  });

  it("the worker's real activities compose without a clash", () => {
    const names = Object.keys(createActivities({ health: { version: 'test' } }));
    expect(names).toContain('prepareSnapshot');
    expect(names).toContain('uploadCustomerFiles');
    expect(names).toContain('requestScheduledAudienceSync');
    expect(new Set(names).size).toBe(names.length);
  });
});
