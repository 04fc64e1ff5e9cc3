import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearedColumns, parseDatasetConfig } from '../../../src/retention/config';
import { loadDatasetConfigFile, loadDatasetConfigs } from '../../../src/retention/configFile';
import { DEFAULT_TIKTOK_NETWORKS } from '../../../src/tiktok/networks';
import { testTempDir } from '../../helpers/tempDir';

const minimal = { datasetId: 'acme', records: { uri: 'gs://acme/installs/', format: 'csv' }, audit: 'gs://acme-ttsync/retention/' };

describe('retention dataset config', () => {
  it('fills the documented defaults', () => {
    const c = parseDatasetConfig(minimal);
    expect(c.tiktokNetworks).toEqual(['TikTok for Business – Android', 'TikTok for Business – iOS', 'TikTok for Business – SAN']);
    expect(c.tiktokNetworks).toEqual(DEFAULT_TIKTOK_NETWORKS);
    expect(c).toMatchObject({ windowMonths: 6, slackDays: 7, organicNetwork: 'Organic', aggregates: [], parallelism: 2 });
    expect(c.records).toMatchObject({ delimiter: ',', networkColumn: 'network', attributionTimeColumn: 'attribution_time', timeFormat: 'iso' });
    expect(clearedColumns(parseDatasetConfig({ ...minimal, records: { ...minimal.records, extraUserLevelColumns: ['email_sha', 'ip'] } }))).toEqual([
      'idfa', 'gaid', 'idfv', 'ip', 'user_agent', 'click_id', 'customer_user_id', 'email_sha', 'campaign', 'campaign_id', 'adgroup', 'adgroup_id', 'creative', 'creative_id',
    ]);
  });

  it('names the file and the JSON path of every problem', () => {
    const dir = testTempDir('ttsync-retention-config-');
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        datasetId: 'Acme!',
        records: { uri: 'relative/path', format: 'parquet', netwrok: 'x' },
        windowMonthsByNetwork: { Meta: 3 },
        organicNetwork: 'TikTok for Business – iOS',
        audit: 'gs://acme/a/',
        aggregates: [{ name: 'a', uri: 'gs://acme/agg/', metricColumns: ['date'] }],
      }),
    );
    return expect(loadDatasetConfigFile(file)).rejects.toThrow(
      new RegExp(
        [
          `invalid retention dataset config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`,
          '  \\$\\.datasetId: lowercase letters',
          '  \\$\\.records\\.uri: must be a records folder URI .*relative path',
          '  \\$\\.records\\.format: ',
          '  \\$\\.records\\.netwrok: is not a known setting',
        ].join('[\\s\\S]*'),
      ),
    );
  });

  it('checks cross-field rules', () => {
    expect(() => parseDatasetConfig({ ...minimal, windowMonthsByNetwork: { Meta: 3 }, organicNetwork: 'TikTok for Business – iOS' })).toThrow(
      /\$\.windowMonthsByNetwork\.Meta: is not one of tiktokNetworks[\s\S]*\$\.organicNetwork: cannot be a TikTok network/,
    );
    expect(() => parseDatasetConfig({ ...minimal, aggregates: [{ name: 'a', uri: 'gs://acme/agg/', metricColumns: ['date'] }] })).toThrow(/\$\.aggregates\[0\]\.metricColumns: "date" cannot be a metric and a dimension/);
  });

  it('a folder of configs: every problem at once, dataset ids unique', async () => {
    const dir = testTempDir('ttsync-retention-configs-');
    writeFileSync(join(dir, 'a.json'), JSON.stringify(minimal));
    writeFileSync(join(dir, 'b.json'), JSON.stringify(minimal));
    writeFileSync(join(dir, 'c.json'), '{ not json');
    await expect(loadDatasetConfigs(dir)).rejects.toThrow(/b\.json: datasetId "acme" is also the id of .*a\.json[\s\S]*c\.json:\n {2}\$: not JSON/);
  });
});
