import { describe, expect, it } from 'vitest';
import { IDENTIFIER_TYPES } from '../../../src/identifiers/schema';
import { CALCULATE_TYPES, ID_SCHEMAS, calculateTypeOf } from '../../../src/tiktok/types';

describe('TikTok identifier fields', () => {
  it('lists the calculate_types of tiktok-api.md §3.1', () => {
    expect([...CALCULATE_TYPES].sort()).toEqual(
      [
        'EMAIL_SHA256',
        'PHONE_SHA256',
        'IDFA_SHA256',
        'IDFA_MD5',
        'GAID_SHA256',
        'GAID_MD5',
        'FIRST_SHA256',
        'FIRST_MD5',
        'MAID_SHA256',
        'MAID_MD5',
        'MULTIPLE_TYPES',
      ].sort(),
    );
    for (const t of ID_SCHEMAS) expect(IDENTIFIER_TYPES).toContain(t);
  });

  it.each([
    ['EMAIL_SHA256', 'EMAIL_SHA256'],
    ['PHONE_SHA256', 'PHONE_SHA256'],
    ['IDFA_SHA256', 'IDFA_SHA256'],
    ['IDFA_MD5', 'IDFA_MD5'],
    ['GAID_SHA256', 'GAID_SHA256'],
    ['GAID_MD5', 'GAID_MD5'],
    ['AAID_SHA256', 'GAID_SHA256'],
    ['AAID_MD5', 'GAID_MD5'],
    ['MAID_SHA256', 'MAID_SHA256'],
    ['MAID_MD5', 'MAID_MD5'],
  ] as const)('a file of %s ids has calculate_type %s', (type, calculateType) => {
    expect(calculateTypeOf(type)).toBe(calculateType);
  });

  it('has no calculate_type for external ids', () => {
    expect(() => calculateTypeOf('EXTERNAL_ID_SHA256')).toThrow(RangeError);
  });
});
