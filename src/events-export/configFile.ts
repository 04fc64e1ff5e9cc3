import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/errors';
import { EventsConfigError, parseEventsConfigJson, type EventsDestinationConfig } from './config';
import { unreadableReason } from '../config/unreadable';

/*
 * Reading events destination configs from disk. Apart from config.ts because workflows
 * import that module and may not pull in Node built-ins.
 */

export async function loadEventsConfigFile(path: string): Promise<EventsDestinationConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EventsConfigError(path, [{ path: '$', message: unreadableReason(err) }]);
  }
  return parseEventsConfigJson(text, path);
}

/** Every problem of every file, so one run shows them all. */
export class EventsConfigSetError extends ConfigError {
  override name = 'EventsConfigSetError';
  constructor(readonly errors: EventsConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

/** One JSON file or every *.json of a folder (sorted), each validated; destination ids must be unique. */
export async function loadEventsConfigs(fileOrDir: string): Promise<{ file: string; config: EventsDestinationConfig }[]> {
  const st = await stat(fileOrDir).catch(() => undefined);
  if (!st) throw new EventsConfigSetError([new EventsConfigError(fileOrDir, [{ path: '$', message: 'no such file or folder' }])]);
  const files = st.isDirectory() ? (await readdir(fileOrDir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(fileOrDir, f)) : [fileOrDir];
  if (files.length === 0) throw new EventsConfigSetError([new EventsConfigError(fileOrDir, [{ path: '$', message: 'the folder holds no .json configs' }])]);
  const loaded: { file: string; config: EventsDestinationConfig }[] = [];
  const errors: EventsConfigError[] = [];
  const fileOf = new Map<string, string>();
  for (const file of files) {
    try {
      const config = await loadEventsConfigFile(file);
      const first = fileOf.get(config.destinationId);
      if (first) errors.push(new EventsConfigError(file, [{ path: '$.destinationId', message: `"${config.destinationId}" is already used by ${first}` }]));
      else fileOf.set(config.destinationId, file);
      loaded.push({ file, config });
    } catch (err) {
      if (err instanceof EventsConfigError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length) throw new EventsConfigSetError(errors);
  return loaded;
}
