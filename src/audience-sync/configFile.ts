import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/errors';
import { DestinationConfigError, parseDestinationJson, segmentConflicts, type ConfigProblem, type DestinationConfig } from './config';
import { unreadableReason } from '../config/unreadable';

/*
 * Reading destination configs from disk. Separate from config.ts because workflows
 * import that module to validate their input and may not pull in Node built-ins.
 */

export async function loadDestinationConfigFile(path: string): Promise<DestinationConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DestinationConfigError(path, [{ path: '$', message: unreadableReason(err) }]);
  }
  return parseDestinationJson(text, path);
}

export interface LoadedDestination {
  file: string;
  config: DestinationConfig;
}

/** Every problem in every file, so one run shows them all. */
export class DestinationConfigSetError extends ConfigError {
  override name = 'DestinationConfigSetError';
  constructor(readonly errors: DestinationConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

/**
 * One JSON file, or every *.json file of a folder (sorted), validated one by one and then
 * together: destination ids must be unique and the two-advertiser rule must hold.
 */
export async function loadDestinationConfigs(fileOrDir: string): Promise<LoadedDestination[]> {
  let files: string[];
  const st = await stat(fileOrDir).catch(() => undefined);
  if (!st) throw new DestinationConfigSetError([new DestinationConfigError(fileOrDir, [{ path: '$', message: 'no such file or folder' }])]);
  if (st.isDirectory()) {
    files = (await readdir(fileOrDir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(fileOrDir, f));
    if (files.length === 0) throw new DestinationConfigSetError([new DestinationConfigError(fileOrDir, [{ path: '$', message: 'the folder holds no .json destination configs' }])]);
  } else files = [fileOrDir];

  const loaded: LoadedDestination[] = [];
  const errors: DestinationConfigError[] = [];
  for (const file of files) {
    try {
      loaded.push({ file, config: await loadDestinationConfigFile(file) });
    } catch (err) {
      if (err instanceof DestinationConfigError) errors.push(err);
      else throw err;
    }
  }
  const fileOf = new Map<string, string>();
  for (const { file, config } of loaded) {
    const first = fileOf.get(config.destinationId);
    if (first) errors.push(new DestinationConfigError(file, [{ path: '$.destinationId', message: `"${config.destinationId}" is already used by ${first}` }]));
    else fileOf.set(config.destinationId, file);
  }
  for (const c of segmentConflicts(loaded.map((l) => l.config))) {
    const problem: ConfigProblem = { path: '$.sourceSegmentId', message: c.message };
    errors.push(new DestinationConfigError(fileOf.get(c.destinationId) ?? c.destinationId, [problem]));
  }
  if (errors.length) throw new DestinationConfigSetError(errors);
  return loaded;
}
