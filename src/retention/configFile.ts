import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/errors';
import { DatasetConfigError, parseDatasetJson, type DatasetConfig } from './config';
import { unreadableReason } from '../config/unreadable';

/* Reading dataset configs from disk; config.ts stays pure for the workflow bundle. */

export async function loadDatasetConfigFile(path: string): Promise<DatasetConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DatasetConfigError(path, [{ path: '$', message: unreadableReason(err) }]);
  }
  return parseDatasetJson(text, path);
}

/** One JSON file, or every *.json of a folder; every problem of every file at once; dataset ids unique. */
export async function loadDatasetConfigs(fileOrDir: string): Promise<DatasetConfig[]> {
  const st = await stat(fileOrDir).catch(() => undefined);
  if (!st) throw new DatasetConfigError(fileOrDir, [{ path: '$', message: 'no such file or folder' }]);
  const files = st.isDirectory() ? (await readdir(fileOrDir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(fileOrDir, f)) : [fileOrDir];
  if (files.length === 0) throw new DatasetConfigError(fileOrDir, [{ path: '$', message: 'the folder holds no .json dataset configs' }]);
  const configs: DatasetConfig[] = [];
  const errors: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const c = await loadDatasetConfigFile(file);
      const other = seen.get(c.datasetId);
      if (other) errors.push(`${file}: datasetId "${c.datasetId}" is also the id of ${other}`);
      seen.set(c.datasetId, file);
      configs.push(c);
    } catch (err) {
      if (err instanceof DatasetConfigError) errors.push(err.message);
      else throw err;
    }
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return configs;
}
