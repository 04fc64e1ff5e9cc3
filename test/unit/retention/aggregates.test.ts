import { describe, expect, it } from 'vitest';
import { addDecimals, moveAggregateRows } from '../../../src/retention/aggregates';
import { parseDatasetConfig } from '../../../src/retention/config';

const config = parseDatasetConfig({
  datasetId: 'agg',
  records: { uri: '/tmp/r', format: 'csv' },
  audit: '/tmp/a',
  aggregates: [{ name: 'by_day', uri: '/tmp/agg', metricColumns: ['installs', 'revenue'], clearColumns: ['campaign'] }],
});
const table = config.aggregates[0]!;
const AND = 'TikTok for Business – Android';
const IOS = 'TikTok for Business – iOS';

describe('aggregate move', () => {
  it('adds decimals exactly', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(addDecimals('12.50', '3')).toBe('15.50');
    expect(addDecimals('', '7')).toBe('7');
    expect(addDecimals('-1.5', '1.25')).toBe('-0.25');
    expect(addDecimals('x', '1')).toBeUndefined();
  });

  it('moves TikTok rows of days wholly past the window into the Organic row of the day, totals kept, other rows byte for byte', () => {
    const text = [
      'date,network,campaign,installs,revenue',
      `2026-03-30,${AND},"spring, sale",10,1.10`,
      '2026-03-30,Organic,,5,0.90',
      `2026-03-30,${IOS},brand,2,0.20`,
      '2026-03-30,Meta Ads,x,"7",1.00',
      `2026-04-01,${AND},late,4,0.40`, // not wholly past on 1 Oct (1 Apr 23:59 + 6 months = 1 Oct 23:59)
      `2026-03-29,${IOS},only,3,0.30`, // no Organic row that day: becomes one
    ].join('\r\n');
    const r = moveAggregateRows(text, table, config, '2026-10-01', 'agg.csv');
    expect(r.output).toBe(
      ['date,network,campaign,installs,revenue', '2026-03-30,Organic,,17,2.20', '2026-03-30,Meta Ads,x,"7",1.00', `2026-04-01,${AND},late,4,0.40`, '2026-03-29,Organic,,3,0.30'].join('\r\n'),
    );
    expect(r).toMatchObject({ rowsMoved: 3, rowsMerged: 2, days: ['2026-03-29', '2026-03-30'] });
    expect(moveAggregateRows(r.output, table, config, '2026-10-01', 'agg.csv')).toMatchObject({ output: r.output, rowsMoved: 0 });
  });

  it('refuses a table whose metric is not a number, naming it', () => {
    expect(() => moveAggregateRows(`date,network,campaign,installs,revenue\n2026-01-01,${AND},c,ten,1\n`, table, config, '2026-09-30', 'gs://b/agg.csv')).toThrow(/gs:\/\/b\/agg.csv: metric "installs" of the 2026-01-01 row is not a number: "ten"/);
  });
});
