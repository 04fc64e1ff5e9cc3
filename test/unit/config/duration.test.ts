import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { DurationSchema, durationMs, durationMsOf, durationProblem } from '../../../src/config/duration';
import { durationFlag, durationTextFlag } from '../../../src/config/durationFlag';
import { ConfigError } from '../../../src/config/errors';
import { EmulatorOptionsSchema, parseFaultSpec } from '../../../src/emulator';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('the duration grammar', () => {
  it.each([
    ['500ms', 500],
    ['0ms', 0],
    ['45s', 45 * SECOND],
    ['90m', 90 * MINUTE],
    ['36h', 36 * HOUR],
    ['2d', 2 * DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1m500ms', MINUTE + 500],
    ['1s500ms', SECOND + 500],
    ['1d2h3m4s5ms', DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND + 5],
    ['365d', 365 * DAY],
    ['007s', 7 * SECOND],
  ])('reads %s as %d ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
    expect(durationMsOf(text)).toBe(ms);
  });

  it.each([
    // No unit, a fraction, units out of order or repeated, signs, spaces, other words.
    '',
    '1500',
    '0',
    '1.5s',
    '.5h',
    'h',
    'ms',
    '30m1h',
    '1s1s',
    '1ms1s',
    '-1h',
    '+1h',
    '1 h',
    ' 1h',
    '1h ',
    '1H',
    '36 hours',
    '1w',
    '1y',
    'PT1H',
    `${'9'.repeat(400)}d`,
  ])('refuses %j', (text) => {
    expect(durationMs(text)).toBeUndefined();
    expect(() => durationMsOf(text)).toThrow(ConfigError);
  });

  it('says what a near miss needs', () => {
    expect(durationProblem('1500')).toBe('"1500" has no unit: write "1500ms" for milliseconds, or use s, m, h or d');
    expect(durationProblem('1.5s')).toBe('"1.5s" is not a whole number of s: combine units instead, e.g. "1s500ms"');
    expect(durationProblem('1 week')).toBe(
      '"1 week" is not a duration such as "36h", "2d", "1h30m", "45s" or "500ms" (whole numbers; units d, h, m, s, ms, largest first)',
    );
    expect(durationProblem('2h')).toBeUndefined();
    expect(() => durationMsOf('1500')).toThrow('invalid duration: "1500" has no unit: write "1500ms"');
  });
});

describe('DurationSchema (configs and workflow input)', () => {
  it('keeps the string and refuses zero, more than a year and near misses', () => {
    expect(DurationSchema.parse('1h30m')).toBe('1h30m');
    const message = (text: string) => DurationSchema.safeParse(text).error?.issues.map((i) => i.message);
    expect(message('0s')).toEqual(['must be longer than zero']);
    expect(message('366d')).toEqual(['must be at most 365d']);
    expect(message('365d')).toBeUndefined();
    expect(message('36')).toEqual(['"36" has no unit: write "36ms" for milliseconds, or use s, m, h or d']);
    expect(DurationSchema.safeParse(36).success).toBe(false);
  });
});

describe('duration flags', () => {
  it('durationFlag gives milliseconds and refuses with commander\'s error', () => {
    expect(durationFlag('2s')).toBe(2 * SECOND);
    expect(durationFlag('0ms')).toBe(0);
    expect(() => durationFlag('1500')).toThrow(InvalidArgumentError);
    expect(() => durationFlag('1500')).toThrow('"1500" has no unit: write "1500ms"');
  });

  it('durationTextFlag keeps the text for the workflow and refuses what a config would', () => {
    expect(durationTextFlag('1h30m')).toBe('1h30m');
    expect(() => durationTextFlag('0s')).toThrow(InvalidArgumentError);
    expect(() => durationTextFlag('0s')).toThrow('must be longer than zero');
    expect(() => durationTextFlag('1.5h')).toThrow('is not a whole number of h');
  });
});

describe('emulator durations', () => {
  it('take a number as milliseconds and a string in the one grammar', () => {
    expect(EmulatorOptionsSchema.parse({ processingDelay: 1500 }).processingDelay).toBe(1500);
    expect(EmulatorOptionsSchema.parse({ processingDelay: '1s500ms' }).processingDelay).toBe(SECOND + 500);
    expect(EmulatorOptionsSchema.parse({ fileTtl: '2h' }).fileTtl).toBe(2 * HOUR);
    const refused = EmulatorOptionsSchema.safeParse({ processingDelay: '1500' });
    expect(refused.error?.issues.map((i) => i.message)).toEqual(['"1500" has no unit: write "1500ms" for milliseconds, or use s, m, h or d']);
    expect(EmulatorOptionsSchema.safeParse({ processingDelay: '1.5s' }).success).toBe(false);
  });

  it('the fault spec reads latency in the same grammar', () => {
    expect(parseFaultSpec('latency=1s200ms').latency).toBe(SECOND + 200);
    expect(() => parseFaultSpec('latency=200')).toThrow('"200" has no unit: write "200ms"');
  });
});
