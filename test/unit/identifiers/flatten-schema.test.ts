import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ColumnMappingSchema,
  isMultiValueCell,
  normalizeIdentifier,
  splitMultiValueCell,
  targetOfType,
} from '../../../src/identifiers';

describe('multi-value cells', () => {
  it('splits on ; and | and parses JSON arrays of strings', () => {
    expect(splitMultiValueCell('a@x.com;b@y.com')).toEqual(['a@x.com', 'b@y.com']);
    expect(splitMultiValueCell('a@x.com|b@y.com; c@z.com')).toEqual(['a@x.com', 'b@y.com', ' c@z.com']);
    expect(splitMultiValueCell(' ["a@x.com","b;c@y.com"] ')).toEqual(['a@x.com', 'b;c@y.com']);
    expect(splitMultiValueCell('[12133734253, "+44 7911 123456"]')).toEqual(['12133734253', '+44 7911 123456']);
    expect(splitMultiValueCell('a@x.com;;')).toEqual(['a@x.com', '', '']);
  });

  it('a cell that only looks like JSON is split as text', () => {
    expect(splitMultiValueCell('[a@x.com;b@y.com]')).toEqual(['[a@x.com', 'b@y.com]']);
    expect(splitMultiValueCell('[{"a":1}]')).toEqual(['[{"a":1}]']);
  });

  it('single values are detected without splitting', () => {
    expect(isMultiValueCell('john@example.com')).toBe(false);
    expect(isMultiValueCell('a;b')).toBe(true);
    expect(isMultiValueCell('a|b')).toBe(true);
    expect(isMultiValueCell('  ["a"]')).toBe(true);
  });
});

describe('ColumnMappingSchema', () => {
  it('accepts a mapping with a country column', () => {
    const m = ColumnMappingSchema.parse({
      identifiers: [
        { column: 'email', type: 'EMAIL_SHA256' },
        { column: 'idfa', type: 'IDFA_MD5' },
      ],
      countryColumn: 'country',
    });
    expect(m.identifiers).toHaveLength(2);
  });

  it('rejects duplicates, unknown types, MD5 email and an empty mapping with readable paths', () => {
    const dup = ColumnMappingSchema.safeParse({
      identifiers: [
        { column: 'e', type: 'EMAIL_SHA256' },
        { column: 'e', type: 'PHONE_SHA256' },
      ],
    });
    expect(dup.success).toBe(false);
    expect(dup.error?.issues[0]?.message).toMatch(/mapped twice/);
    expect(ColumnMappingSchema.safeParse({ identifiers: [{ column: 'e', type: 'EMAIL_MD5' }] }).success).toBe(false);
    expect(ColumnMappingSchema.safeParse({ identifiers: [] }).success).toBe(false);
    expect(ColumnMappingSchema.safeParse({ identifiers: [{ column: 'c', type: 'EMAIL_SHA256' }], countryColumn: 'c' }).success).toBe(false);
  });
});

describe('peer vectors (only those that agree with our rule)', () => {
  interface Vector { id: string; identifier: string; input: string; expected: string; context: string; peer_rule?: string }
  const load = (name: string): Vector[] =>
    (JSON.parse(readFileSync(`/work/shared/reference/peer-vectors/${name}`, 'utf8')) as { vectors: Vector[] }).vectors;
  const peers = (() => {
    try {
      return { tiktok: load('tiktok-help-center.identifier-hashing.json'), segment: load('segmentio-action-destinations.identifier-hashing.json') };
    } catch {
      return null;
    }
  })();

  it.skipIf(peers === null)('TikTok help-center vectors (all three)', () => {
    const [email, phone, maid] = peers!.tiktok;
    expect(normalizeIdentifier(email!.input, targetOfType('EMAIL_SHA256'), { context: 'audience' }).hash).toBe(email!.expected);
    // The help center prints the normalized phone without "+": parse it as a number with its country code.
    expect(normalizeIdentifier(`+${phone!.input}`, targetOfType('PHONE_SHA256'), { context: 'audience' }).hash).toBe(phone!.expected);
    expect(normalizeIdentifier(maid!.input, targetOfType('MAID_SHA256'), { context: 'audience' }).hash).toBe(maid!.expected);
  });

  it.skipIf(peers === null)('Segment: already-normalized emails and 64-hex pass-through agree; their dot stripping does not', () => {
    const byId = new Map(peers!.segment.map((v) => [v.id, v]));
    for (const id of ['seg-hash-001', 'seg-hash-002', 'seg-hash-003', 'seg-hash-028', 'seg-hash-029', 'seg-hash-032', 'seg-hash-036', 'seg-hash-038', 'seg-hash-047']) {
      const v = byId.get(id)!;
      const ctx = v.context.startsWith('audience') ? 'audience' : 'events';
      expect(normalizeIdentifier(v.input, targetOfType('EMAIL_SHA256'), { context: ctx }).hash, id).toBe(v.expected);
    }
    for (const id of ['seg-hash-007', 'seg-hash-031', 'seg-hash-037']) {
      const v = byId.get(id)!;
      expect(normalizeIdentifier(v.input, targetOfType('PHONE_SHA256'), { context: 'audience' }).hash, id).toBe(v.expected);
    }
    // seg-hash-051 strips every dot of the local part (a Segment choice, not TikTok's rule).
    const dots = byId.get('seg-hash-051')!;
    const ours = normalizeIdentifier(dots.input, targetOfType('EMAIL_SHA256'), { context: 'audience' });
    expect(ours.normalized).toBe('test.user@testing.com');
    expect(ours.hash).toBe('3ba9c1a93cafb2c837a03fd6f8a38d09e10ae130e6949a7ca4dc2b514eb03bd2');
    expect(ours.hash).not.toBe(dots.expected);
  });
});
