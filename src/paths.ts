import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout's root, found the same way from ts sources (src/) and the compiled tree (dist/src/). */
function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ttsync') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the ttsync package.json above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
export const DATA_DIR = process.env.TTSYNC_DATA_DIR ?? join(PROJECT_ROOT, '.data');

/**
 * The workdir of a destination whose config names none. Every worker must see the same one:
 * a folder on one machine only works when all workers share it (one process, or a shared
 * volume); workers that share nothing but Temporal set TTSYNC_WORKDIR to a bucket
 * (gs://bucket/work), as the production topology does.
 */
export const DEFAULT_WORKDIR = process.env.TTSYNC_WORKDIR?.trim() || join(DATA_DIR, 'work');
