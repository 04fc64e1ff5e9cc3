import { closeSync, fstatSync, fsync, futimesSync, linkSync, openSync, renameSync, statSync, unlinkSync, type BigIntStats, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/*
 * File metadata calls for the local store (stat, link, rename, unlink, and a handle's fstat
 * and futimes), made synchronously and returned as settled promises, so callers read like
 * fs/promises. WHY: on a local disk each such call takes 1-3 µs, while a thread-pool round
 * trip (fs/promises) costs 7-8 µs of CPU in hand-offs (measured, Node 20), and a write makes
 * several of them: a retention run writes hundreds of small objects, each with about twenty
 * calls. Opening, reading, writing and fsync stay on the thread pool: they can wait on the disk.
 * A store on a network file system, where metadata calls are round trips, belongs in GCS.
 */

function settled<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

export function link(existing: string, name: string): Promise<void> {
  return settled(() => linkSync(existing, name));
}

export function rename(from: string, to: string): Promise<void> {
  return settled(() => renameSync(from, to));
}

export function unlink(path: string): Promise<void> {
  return settled(() => unlinkSync(path));
}

export function stat(path: string): Promise<Stats>;
export function stat(path: string, options: { bigint: true }): Promise<BigIntStats>;
export function stat(path: string, options?: { bigint: true }): Promise<Stats | BigIntStats> {
  return settled(() => (options ? statSync(path, options) : statSync(path)));
}

export function fstat(handle: FileHandle): Promise<Stats>;
export function fstat(handle: FileHandle, options: { bigint: true }): Promise<BigIntStats>;
export function fstat(handle: FileHandle, options?: { bigint: true }): Promise<Stats | BigIntStats> {
  return settled(() => (options ? fstatSync(handle.fd, options) : fstatSync(handle.fd)));
}

export function futimes(handle: FileHandle, atime: number, mtime: number): Promise<void> {
  return settled(() => futimesSync(handle.fd, atime, mtime));
}

/**
 * fsync of a folder, so that the names just made or changed in it last; best effort, as not
 * every file system lets a folder be opened or synced. Only the fsync goes to the thread pool.
 */
export async function syncFolder(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    await new Promise<void>((done) => fsync(fd, () => done()));
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Nothing was written through it.
    }
  }
}
