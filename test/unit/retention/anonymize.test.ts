import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { anonymizeBuffer, anonymizerFor, CsvAnonymizer, NdjsonAnonymizer } from '../../../src/retention/anonymize';
import { parseDatasetConfig } from '../../../src/retention/config';
import { needlesOf, rowPolicyOf } from '../../../src/retention/rowPolicy';

const config = (format: 'csv' | 'ndjson', extra: Record<string, unknown> = {}) =>
  parseDatasetConfig({
    datasetId: 'unit',
    records: { uri: '/tmp/records', format, extraUserLevelColumns: ['email_sha'], ...extra },
    audit: '/tmp/audit',
  });
const AND = 'TikTok for Business – Android';
const IOS = 'TikTok for Business – iOS';

/** Feeds `data` in pieces of `size` bytes, so records and even UTF-8 characters split across chunks. */
function runChunked(a: ReturnType<typeof anonymizerFor>, data: Buffer, size: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(a.push(data.subarray(i, i + size)));
  out.push(a.end());
  return Buffer.concat(out);
}

describe('CSV anonymizer', () => {
  const header = 'event_id,network,attribution_time,idfa,gaid,ip,campaign,email_sha,revenue';
  // Rows written by hand; the expected rows below are written by hand too.
  const input = [
    '\ufeff' + header,
    `1,${AND},2026-05-31T10:00:00Z,AAAA-1,,10.0.0.1,"spring, sale",abc,1.50`, // past (as-of 2026-12-01)
    `2,"${IOS}",2026-06-01T00:00:00Z,BBBB-2,,10.0.0.2,summer,def,"2"`, // exactly 6 months: past
    `3,${AND},2026-06-01T00:00:01Z,CCCC-3,,10.0.0.3,summer,ghi,3`, // 1 s inside the window: kept
    `4,Meta Ads,2026-01-01T00:00:00Z,DDDD-4,,10.0.0.4,"multi`,
    `line",jkl,4`, // another network, embedded newline: kept byte for byte
    `5,${AND},not-a-time,EEEE-5,,10.0.0.5,x,y,5`, // unreadable time: kept, counted
    '',
    `6,${AND},2026-01-02 03:04:05,FFFF-6,,10.0.0.6,"q ""x""",z,6`, // no zone = UTC, past
  ].join('\r\n');
  const expected = [
    '\ufeff' + header,
    `1,Organic,2026-05-31T10:00:00Z,,,,,,1.50`,
    `2,Organic,2026-06-01T00:00:00Z,,,,,,"2"`,
    `3,${AND},2026-06-01T00:00:01Z,CCCC-3,,10.0.0.3,summer,ghi,3`,
    `4,Meta Ads,2026-01-01T00:00:00Z,DDDD-4,,10.0.0.4,"multi`,
    `line",jkl,4`,
    `5,${AND},not-a-time,EEEE-5,,10.0.0.5,x,y,5`,
    '',
    `6,Organic,2026-01-02 03:04:05,,,,,,6`,
  ].join('\r\n');

  for (const size of [1 << 20, 7, 1]) {
    it(`rewrites only TikTok rows past the window, every other byte kept (chunks of ${size} bytes)`, () => {
      const a = new CsvAnonymizer(rowPolicyOf(config('csv'), '2026-12-01'), ',', 'test.csv');
      const out = runChunked(a, Buffer.from(input, 'utf8'), size);
      expect(out.toString('utf8')).toBe(expected);
      expect(a.counts).toMatchObject({ rowsSeen: 6, rowsAnonymized: 3, tiktokWithinWindow: 1, unreadableRows: 1 });
      expect(a.counts.nextDueMs).toBe(Date.parse('2026-12-01T00:00:01Z'));
      // Record 6: the header is record 1 and record 5 spans two lines.
      expect(a.counts.unreadableSamples).toEqual([{ record: 6, reason: 'attribution time is not a time' }]);
      // gaid is cleared but empty already; these columns are not in the header:
      expect(a.counts.absentColumns).toEqual(['idfv', 'user_agent', 'click_id', 'customer_user_id', 'campaign_id', 'adgroup', 'adgroup_id', 'creative', 'creative_id']);
    });
  }

  it('a second pass over its own output changes nothing', () => {
    const out = anonymizeBuffer(new CsvAnonymizer(rowPolicyOf(config('csv'), '2026-12-01'), ',', 't'), Buffer.from(input));
    const again = new CsvAnonymizer(rowPolicyOf(config('csv'), '2026-12-01'), ',', 't');
    expect(anonymizeBuffer(again, out).equals(out)).toBe(true);
    expect(again.counts.rowsAnonymized).toBe(0);
  });

  it('a file without a final newline keeps it that way; a header without the network column is a readable error', () => {
    const a = new CsvAnonymizer(rowPolicyOf(config('csv'), '2026-12-01'), ',', 't');
    expect(anonymizeBuffer(a, Buffer.from(`network,attribution_time,ip\n${AND},2026-01-01,1.2.3.4`)).toString()).toBe('network,attribution_time,ip\nOrganic,2026-01-01,');
    const b = new CsvAnonymizer(rowPolicyOf(config('csv'), '2026-12-01'), ',', 'gs://b/date=2026-01-01/x.csv');
    expect(() => anonymizeBuffer(b, Buffer.from('net,attribution_time\nx,y\n'))).toThrow(/gs:\/\/b\/date=2026-01-01\/x.csv: the header lacks the column "network"/);
  });

  it('a per-network window and a semicolon delimiter', () => {
    const cfg = config('csv', { delimiter: ';' });
    const c = parseDatasetConfig({ ...cfg, windowMonthsByNetwork: { [IOS]: 3 } });
    const a = new CsvAnonymizer(rowPolicyOf(c, '2026-12-01'), ';', 't');
    const data = `network;attribution_time;idfa\n${IOS};2026-08-15T00:00:00Z;X\n${AND};2026-08-15T00:00:00Z;Y\n`;
    expect(anonymizeBuffer(a, Buffer.from(data)).toString()).toBe(`network;attribution_time;idfa\nOrganic;2026-08-15T00:00:00Z;\n${AND};2026-08-15T00:00:00Z;Y\n`);
  });
});

describe('NDJSON anonymizer', () => {
  it('rewrites TikTok rows past the window (escaped names too), keeps other lines byte for byte', () => {
    const lines = [
      JSON.stringify({ id: 1, network: AND, attribution_time: '2026-01-01T00:00:00Z', idfa: 'A', ip: '1.1.1.1', campaign: 'c', extra: { n: 1.0 } }),
      '{"id": 2,  "network": "Meta Ads", "attribution_time": "2026-01-01T00:00:00Z", "idfa": "B"}',
      '{"id":3,"network":"TikTok for Business \\u2013 iOS","attribution_time":"2026-02-01T00:00:00Z","idfa":"C"}',
      '{"id":4,"network":"' + AND + '","attribution_time":"2026-11-01T00:00:00Z","idfa":"D"}',
      '{"id":5,"network":"' + AND + '", broken',
      '   ',
    ];
    const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
    const out = runChunked(a, Buffer.from(lines.join('\n') + '\n'), 5).toString('utf8');
    expect(out.split('\n')).toEqual([
      '{"id":1,"network":"Organic","attribution_time":"2026-01-01T00:00:00Z","idfa":"","ip":"","campaign":"","extra":{"n":1}}',
      lines[1],
      '{"id":3,"network":"Organic","attribution_time":"2026-02-01T00:00:00Z","idfa":""}',
      lines[3],
      lines[4],
      lines[5],
      '',
    ]);
    expect(a.counts).toMatchObject({ rowsSeen: 5, rowsAnonymized: 2, tiktokWithinWindow: 1, unreadableRows: 1 });
  });
});

describe('NDJSON anonymizer, plain lines', () => {
  it('changes only the bytes of the network and the cleared values: spacing, key order, numbers as written and nested values stay', () => {
    const lines = [
      `{ "id" : 1.0, "network":"${AND}" ,"attribution_time": "2026-01-01T00:00:00Z","idfa":"A","revenue": 2.50e0, "extra": {"ip": "x", "n": [1.0, "}"]}, "ip": null }`,
      `{"network":"Meta Ads","network":"${AND}","attribution_time":"2026-01-01","campaign":"c","campaign":"d"}`,
      `{"network":"${AND}","attribution_time":"2026-01-01","idfa":"A", "n": 01}`,
      `{"network":"${AND}","attribution_time":17}`,
      `["${AND}"]`,
    ];
    const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
    const out = runChunked(a, Buffer.from(lines.join('\n')), 7).toString('utf8');
    expect(out.split('\n')).toEqual([
      `{ "id" : 1.0, "network":"Organic" ,"attribution_time": "2026-01-01T00:00:00Z","idfa":"","revenue": 2.50e0, "extra": {"ip": "x", "n": [1.0, "}"]}, "ip": "" }`,
      `{"network":"Organic","network":"Organic","attribution_time":"2026-01-01","campaign":"","campaign":""}`,
      lines[2], // 01 is no JSON number: read whole, unreadable, kept
      lines[3], // a number is no ISO time
      lines[4],
    ]);
    expect(a.counts).toMatchObject({ rowsSeen: 5, rowsAnonymized: 2, unreadableRows: 3 });
    expect(a.counts.unreadableSamples.map((u) => u.reason)).toEqual(['not a JSON line', 'attribution time is not a time', 'not a JSON object']);
  });
});

describe('NDJSON anonymizer, one-pass line reader', () => {
  it('decides and rewrites exactly as JSON.parse reads: escapes, literals, padded names, escaped keys, invalid lines', () => {
    const lines = [
      `{"network":" ${AND} ","attribution_time":"2026-01-01T00:00:00Z","idfa":"A"}`,
      String.raw`{"network":"` + AND + String.raw`","attribution_time":"2026-01-01T00:00:00Z","user_agent":"a \"q\" \\ \/ \n \u00e9","ok":true,"no":false,"nil":null,"n":-0.5e+3}`,
      String.raw`{"net\u0077ork":"` + AND + `","attribution_time":"2026-01-01","idfa":"B"}`,
      String.raw`{"network":"` + AND + String.raw`","attribution_time":"2026-01-01","idfa":"bad \x escape"}`,
      `\t{"network":"${AND}","attribution_time":"2026-01-01T00:00:00Z","idfa":"C"}\r`,
      `{"network":"${AND}","attribution_time":"2026-11-15T00:00:00Z","idfa":"D"}`,
      `{"network":"${AND}","attribution_time":"2026-01-01T00:00:00Z","n":1.}`,
      `{"network":"${AND}","attribution_time":"2026-01-01T00:00:00+02:00","idfa":"E"}`,
    ];
    for (const size of [1 << 20, 3]) {
      const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
      const out = runChunked(a, Buffer.from(lines.join('\n') + '\n'), size).toString('utf8');
      expect(out.split('\n')).toEqual([
        `{"network":"Organic","attribution_time":"2026-01-01T00:00:00Z","idfa":""}`,
        String.raw`{"network":"Organic","attribution_time":"2026-01-01T00:00:00Z","user_agent":"","ok":true,"no":false,"nil":null,"n":-0.5e+3}`,
        String.raw`{"net\u0077ork":"Organic","attribution_time":"2026-01-01","idfa":""}`,
        lines[3], // \x is no JSON escape: unreadable, kept
        `\t{"network":"Organic","attribution_time":"2026-01-01T00:00:00Z","idfa":""}\r`,
        lines[5], // within the window
        lines[6], // 1. is no JSON number
        `{"network":"Organic","attribution_time":"2026-01-01T00:00:00+02:00","idfa":""}`,
        '',
      ]);
      expect(a.counts).toMatchObject({ rowsSeen: 8, rowsAnonymized: 5, tiktokWithinWindow: 1, unreadableRows: 2 });
      expect(a.counts.unreadableSamples.map((u) => u.record)).toEqual([4, 7]);
    }
  });

  it('finds a TikTok name however rare its first byte is in the data (needle searched by its rarest run)', () => {
    // 'T' everywhere, 'k' and 'B' nowhere but in the name: whichever run is searched, each row is found.
    const filler = 'T'.repeat(20_000);
    const rows = [`{"x":"${filler}","network":"${AND}","attribution_time":"2026-01-01"}`, `{"x":"${filler}","network":"Meta Ads","attribution_time":"2026-01-01"}`, `{"network":"${IOS}","attribution_time":"2026-01-02","x":"${filler}"}`];
    const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
    const out = runChunked(a, Buffer.from(rows.join('\n')), 1 << 20).toString('utf8').split('\n');
    expect(out).toEqual([`{"x":"${filler}","network":"Organic","attribution_time":"2026-01-01"}`, rows[1], `{"network":"Organic","attribution_time":"2026-01-02","x":"${filler}"}`]);
    expect(a.counts.rowsAnonymized).toBe(2);
  });
});

describe('rewritten output longer than its input', () => {
  it('grows the output as needed when the organic name is longer than the rows it replaces', () => {
    const organic = `Organic ${'x'.repeat(3000)}`;
    const base = config('csv');
    const policy = { ...rowPolicyOf(base, '2026-12-01'), organic };
    const rows = Array.from({ length: 6 }, (_, i) => `${i},${AND},2026-01-0${i + 1}T00:00:00Z`);
    const data = Buffer.from(['network_id,network,attribution_time'.replace('network_id', 'event_id'), ...rows].join('\n') + '\n');
    for (const size of [7, 100, 1 << 20]) {
      const out = runChunked(new CsvAnonymizer(policy, ',', 't'), data, size).toString('utf8');
      expect(out).toBe(['event_id,network,attribution_time', ...rows.map((r, i) => `${i},${organic},2026-01-0${i + 1}T00:00:00Z`)].join('\n') + '\n');
    }
    const nd = Buffer.from(rows.map((_, i) => `{"network":"${AND}","attribution_time":"2026-01-0${i + 1}"}`).join('\n'));
    const out = runChunked(new NdjsonAnonymizer({ ...rowPolicyOf(config('ndjson'), '2026-12-01'), organic }, 't'), nd, 1 << 20).toString('utf8');
    expect(out.split('\n')).toEqual(rows.map((_, i) => `{"network":${JSON.stringify(organic)},"attribution_time":"2026-01-0${i + 1}"}`));
  });
});

describe('needles', () => {
  it('take the longest plain-ASCII run of each name, and give up on names without one', () => {
    expect(needlesOf([AND, IOS, 'TikTok for Business – SAN'])!.map(String)).toEqual(['TikTok for Business']);
    expect(needlesOf(['ab"c'])).toBeNull();
  });
});

describe('NDJSON anonymizer, lines counted without being read', () => {
  it('counts every line with content, and no blank one, whatever the line endings and chunks', () => {
    // Blank: nothing but spaces and tabs before LF or CR LF. A lone CR elsewhere is content.
    const lines = ['', ' ', '\t \t', '\r', ' \r', '\r ', ' \r x', '{"id":1,"network":"Meta Ads"}', `{"id":2,"network":"${AND}","attribution_time":"2026-01-01T00:00:00Z","idfa":"Z"}`, '  {"id":3}', '\t', '{"id":4,"note":"\\u0041"}', '', '{"id":5}'];
    for (const last of ['\n', '', '\r\n']) {
      const text = lines.join('\n') + last;
      // Computed from the text alone: a line (the last one only when it has bytes) counts when it holds a character other than a space or a tab, once a CR before its LF is set aside.
      const parts = text.split('\n');
      if (parts[parts.length - 1] === '') parts.pop();
      const expected = parts.filter((l) => /[^ \t]/.test(l.endsWith('\r') ? l.slice(0, -1) : l)).length;
      for (const size of [1, 3, 7, 64, 1 << 20]) {
        const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
        const out = runChunked(a, Buffer.from(text), size).toString('utf8');
        expect(a.counts.rowsSeen, `last ${JSON.stringify(last)}, chunks of ${size}`).toBe(expected);
        expect(a.counts.rowsAnonymized).toBe(1);
        expect(out).toBe(text.replace(`"network":"${AND}","attribution_time":"2026-01-01T00:00:00Z","idfa":"Z"`, '"network":"Organic","attribution_time":"2026-01-01T00:00:00Z","idfa":""'));
      }
    }
  });
});

describe('NDJSON anonymizer, lines of one shape and of many', () => {
  // Lines are assembled from parts (spacing, key order, value texts), so the expected output
  // is the same assembly with the network's value text replaced by "Organic" and each cleared
  // member's by "" on TikTok rows past the window: computed without the anonymizer's reader.
  // Runs of lines share a shape (the reader's fast path), then the shape changes anywhere.
  const CLEARED = ['idfa', 'ip', 'user_agent', 'email_sha'];
  const KEPT = ['event_id', 'country', 'revenue', 'meta'];
  const space = fc.constantFrom('', '', '', ' ', '\t', '  ');
  const stringText = fc.constantFrom('"A1"', '""', '"a \\"q\\" \\\\ \\/ \\n"', '"\\u00e9t\\u00E9"', '"Mozilla/5.0 (X11)"', '"é"', '"x,y:z}"');
  const valueText = fc.oneof(stringText, fc.constantFrom('12', '-0.5e+3', 'true', 'false', 'null', '{"a":[1,"}"]}', '[]'));
  const networkText = fc.constantFrom(JSON.stringify(AND), JSON.stringify(IOS), '"TikTok for Business \\u2013 Android"', '"Meta Ads"', '"Organic"', JSON.stringify(` ${AND}`), '7');
  const timeText = fc.constantFrom('"2026-01-15T10:00:00Z"', '"2026-02-01"', '"2026-11-20T00:00:00Z"', '"2026-11-25"', '"not a time"', '12');
  // Orders whose keys differ only where a key has another of the same length (idfa/meta,
  // country/revenue/network), so only the bytes between values tell their shapes apart.
  const nearOrders = fc.constantFrom(
    ['network', 'attribution_time', 'idfa', 'country'],
    ['network', 'attribution_time', 'meta', 'country'],
    ['network', 'attribution_time', 'idfa', 'revenue'],
    ['revenue', 'attribution_time', 'idfa', 'network'],
  );
  const anyOrder = fc.shuffledSubarray([...CLEARED, ...KEPT], { minLength: 0 }).chain((others) =>
    fc.tuple(fc.nat({ max: others.length }), fc.nat({ max: others.length + 1 })).map(([n, t]) => {
      const keys = [...others];
      keys.splice(n, 0, 'network');
      keys.splice(Math.min(t, keys.length), 0, 'attribution_time');
      return keys;
    }),
  );
  // Spacing as most writers write it (none) half the time, so shapes that differ only in
  // their keys meet; any spacing otherwise.
  const compact = { lead: '', afterKey: '', afterColon: '', beforeComma: '', afterComma: '', trail: '' };
  const spacing = fc.oneof(fc.constant(compact), fc.record({ lead: space, afterKey: space, afterColon: space, beforeComma: space, afterComma: space, trail: space }));
  const shape = fc.tuple(fc.oneof(nearOrders, anyOrder), spacing).map(([keys, sp]) => ({ keys, ...sp }));
  type Shape = { keys: readonly string[]; lead: string; afterKey: string; afterColon: string; beforeComma: string; afterComma: string; trail: string };
  const assemble = (sh: Shape, values: string[]): string =>
    `${sh.lead}{${sh.afterComma}${sh.keys.map((k, i) => `"${k}"${sh.afterKey}:${sh.afterColon}${values[i]}`).join(`${sh.beforeComma},${sh.afterComma}`)}${sh.beforeComma}}${sh.trail}`;
  const tiktok = new Set([AND, IOS]);
  const pastWindow = (time: unknown): boolean => time === '2026-01-15T10:00:00Z' || time === '2026-02-01';

  it('rewrite exactly the TikTok rows past the window, every other byte kept', () => {
    const line = (sh: Shape) => fc.tuple(networkText, timeText, fc.array(valueText, { minLength: sh.keys.length, maxLength: sh.keys.length }));
    const run = shape.chain((sh) => fc.array(line(sh), { minLength: 1, maxLength: 6 }).map((rows) => ({ sh, rows })));
    fc.assert(
      fc.property(fc.array(run, { minLength: 1, maxLength: 6 }), fc.constantFrom(1 << 20, 7, 64), (runs, size) => {
        const input: string[] = [];
        const expected: string[] = [];
        let anonymized = 0;
        for (const { sh, rows } of runs)
          for (const [net, time, values] of rows) {
            const texts = sh.keys.map((k, i) => (k === 'network' ? net : k === 'attribution_time' ? time : values[i]!));
            input.push(assemble(sh, texts));
            const row = JSON.parse(input[input.length - 1]!) as Record<string, unknown>;
            // A name padded with spaces is the name (the dataset rule the README gives).
            if (typeof row.network === 'string' && tiktok.has(row.network.trim()) && pastWindow(row.attribution_time)) {
              anonymized++;
              expected.push(assemble(sh, sh.keys.map((k, i) => (k === 'network' ? '"Organic"' : CLEARED.includes(k) ? '""' : texts[i]!))));
            } else expected.push(input[input.length - 1]!);
          }
        const a = new NdjsonAnonymizer(rowPolicyOf(config('ndjson'), '2026-12-01'), 't');
        const out = runChunked(a, Buffer.from(input.join('\n') + '\n'), size).toString('utf8');
        expect(out).toBe(expected.join('\n') + '\n');
        expect(a.counts.rowsAnonymized).toBe(anonymized);
        expect(a.counts.rowsSeen).toBe(input.length);
      }),
      { numRuns: 300 },
    );
  });
});
