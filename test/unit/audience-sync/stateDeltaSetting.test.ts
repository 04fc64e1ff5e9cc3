import { describe, expect, it } from 'vitest';
import { stateDeltaCompactAtOf } from '../../../activities/audience-sync/data';

describe('TTSYNC_STATE_DELTA_COMPACT_AT', () => {
  it('is unset, or a fraction from 0 to 1; anything else names the variable and what it takes', () => {
    expect(stateDeltaCompactAtOf(undefined)).toBeUndefined();
    expect(stateDeltaCompactAtOf(' ')).toBeUndefined();
    expect(stateDeltaCompactAtOf('0')).toBe(0);
    expect(stateDeltaCompactAtOf('0.25')).toBe(0.25);
    expect(stateDeltaCompactAtOf('1')).toBe(1);
    for (const bad of ['-0.1', '1.5', 'half', 'NaN', 'Infinity'])
      expect(() => stateDeltaCompactAtOf(bad)).toThrow(`TTSYNC_STATE_DELTA_COMPACT_AT is "${bad}": give a fraction from 0 to 1`);
  });
});
