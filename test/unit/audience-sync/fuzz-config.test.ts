import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DestinationConfigError, parseDestinationConfig, parseDestinationJson } from '../../../src/audience-sync/config';
import { fuzzParams } from '../../helpers/fuzz';

/*
 * Destination configs fuzzed: random mutations of valid configs (a value replaced by any JSON,
 * a key deleted, an unknown key added, the text truncated) either parse or fail with a
 * DestinationConfigError that names the source and a JSON path (or a line and column), one
 * problem per line. Never another error, never a crash.
 */

const VALID: Record<string, unknown>[] = [
  {
    destinationId: 'vip-buyers',
    advertiserId: '7000000000000000001',
    audienceName: { template: '{prefix} {audience_slug} {current_time}', prefix: 'ttsync' },
    action: 'create',
    identifiers: { email: 'email', phone: 'phone', idfa: 'idfa' },
    defaultCountry: 'US',
    syncMode: 'mirror',
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: 'crm-vip-buyers',
    storage: { snapshot: 'gs://acme-exports/vip.csv', workdir: 'gs://acme-ttsync/work', keepRuns: 3 },
    rejects: { values: 'masked' },
  },
  {
    destinationId: 'lapsed',
    advertiserId: '111',
    audienceName: 'Lapsed customers 90d',
    action: 'append',
    audienceId: '123456',
    identifiers: { maid: 'maid' },
    accessToken: 'file:/run/secrets/tiktok',
    sourceSegmentId: 'seg-1',
    readinessWindow: '36h',
    maxProcessingWait: '2d',
  },
];

type Json = unknown;
/** Every path to a value inside `v`. */
function pathsOf(v: Json, base: (string | number)[] = []): (string | number)[][] {
  const out = [base];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...base, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...base, k]));
  return out;
}

function setAt(v: Json, path: (string | number)[], replace: (old: Json) => Json | undefined): Json {
  if (path.length === 0) return replace(v);
  const [head, ...rest] = path;
  const copy = (Array.isArray(v) ? [...(v as Json[])] : { ...(v as object) }) as Record<string | number, Json>;
  const next = setAt(copy[head!], rest, replace);
  if (next === undefined) delete copy[head!];
  else copy[head!] = next;
  return copy;
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('delete' as const) }),
  fc.record({ kind: fc.constant('addKey' as const), key: fc.string({ maxLength: 12 }), value: fc.jsonValue({ maxDepth: 1 }) }),
  fc.record({ kind: fc.constant('string' as const), value: fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '-1', '1e999', '00', 'NaN', 'env:', 'file:relative', '{prefix}', '0s', '1.5s', '999999999d')) }),
);

const mutated = fc
  .tuple(fc.constantFrom(...VALID), fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 4 }))
  .map(([base, muts]) => {
    let v: Json = base;
    for (const [pick, m] of muts) {
      const paths = pathsOf(v);
      const path = paths[pick % paths.length]!;
      v = setAt(v, path, (old) => {
        if (m.kind === 'replace' || m.kind === 'string') return m.value;
        if (m.kind === 'delete') return path.length === 0 ? old : undefined;
        return old && typeof old === 'object' && !Array.isArray(old) ? { ...old, [m.key]: m.value } : old;
      });
    }
    return v;
  });

const outcomes = { parsed: 0, refused: 0 };
function expectSpecific(fn: () => unknown): void {
  try {
    fn();
    outcomes.parsed += 1;
  } catch (err) {
    outcomes.refused += 1;
    expect(err).toBeInstanceOf(DestinationConfigError);
    const e = err as DestinationConfigError;
    expect(e.message).toMatch(/^invalid destination config fuzz\.json:\n/);
    expect(e.problems.length).toBeGreaterThan(0);
    for (const p of e.problems) {
      expect(p.path).toMatch(/^(\$|line \d+ column \d+)/);
      expect(p.message.length).toBeGreaterThan(0);
    }
  }
}

describe('destination configs, fuzzed', () => {
  it('the valid seeds parse', () => {
    for (const v of VALID) expect(parseDestinationConfig(v, 'fuzz.json').destinationId).toBeTruthy();
  });

  it('a mutated config parses or fails with a DestinationConfigError naming a JSON path', () => {
    fc.assert(
      fc.property(mutated, (config) => expectSpecific(() => parseDestinationConfig(config, 'fuzz.json'))),
      fuzzParams(1500, 8_000),
    );
  });

  it('mutated or truncated JSON text fails with a line and column, or parses', () => {
    const text = fc.oneof(
      mutated.map((v) => JSON.stringify(v, null, 2)),
      fc.tuple(fc.constantFrom(...VALID), fc.nat()).map(([v, n]) => {
        const s = JSON.stringify(v, null, 2);
        return s.slice(0, n % s.length);
      }),
      fc.string({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(text, (t) => expectSpecific(() => parseDestinationJson(t, 'fuzz.json'))),
      fuzzParams(1500, 6_000),
    );
    // Both outcomes happened: the mutations neither all break nor all miss the schema.
    expect(outcomes.parsed).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
