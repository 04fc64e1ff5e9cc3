// What a data plane's stored outputs cost by themselves on this machine, for the benchmarks.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes this process has passed to read and write calls so far, every thread (rchar and
 * wchar of /proc/self/io: page cache hits and socket writes count too).
 */
export function processIo(): { read: number; written: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { read: field('rchar'), written: field('wchar') };
}

/**
 * CPU ms to write `written` bytes to new files in `dir` (as the local store writes: calls of
 * 1 MiB, an fsync per file of 64 MiB), and to MD5 `md5Bytes` bytes (a customer file's
 * file_signature). A data plane that stores those outputs costs at least its reading plus
 * these. The files are removed after.
 */
export async function outputCost(dir: string, written: number, md5Bytes: number): Promise<{ writeMs: number; md5Ms: number }> {
  const chunk = randomBytes(1 << 20);
  const fileBytes = 64 << 20;
  const files: string[] = [];
  try {
    const w0 = process.cpuUsage();
    for (let left = written; left > 0; ) {
      const path = join(dir, `output-cost-${files.length}`);
      files.push(path);
      const handle = await open(path, 'wx');
      try {
        for (let inFile = 0; inFile < fileBytes && left > 0; ) {
          const { bytesWritten } = await handle.write(chunk, 0, Math.min(chunk.length, left));
          inFile += bytesWritten;
          left -= bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    const w = process.cpuUsage(w0);
    const m0 = process.cpuUsage();
    const md5 = createHash('md5');
    for (let left = md5Bytes; left > 0; left -= chunk.length) md5.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
    md5.digest();
    const m = process.cpuUsage(m0);
    return { writeMs: (w.user + w.system) / 1000, md5Ms: (m.user + m.system) / 1000 };
  } finally {
    for (const f of files) await rm(f, { force: true });
  }
}

/** Bytes of a memory page here (Linux x86-64, arm64 with 4 KiB pages). */
const PAGE = 4096;

/**
 * CPU µs per 4 KiB page of memory this process touches for the first time (a minor page fault:
 * the kernel's work, and a hypervisor's where the guest gave freed pages back to it), and per
 * page touched again. Every buffer a data plane fills afresh pays the first, and so does every
 * new file's page cache; on a virtual machine that returns freed memory to its host the first
 * can cost ten times what it does on bare metal. `mib` of memory is touched, then let go.
 */
export function freshPageCost(mib = 128): { freshUs: number; againUs: number; faults: number } {
  const bytes = mib << 20;
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const b = Buffer.allocUnsafeSlow(bytes);
  for (let i = 0; i < bytes; i += PAGE) b[i] = 1;
  const c1 = process.cpuUsage(c0);
  const faults = process.resourceUsage().minorPageFault - f0;
  const c2 = process.cpuUsage();
  for (let i = 0; i < bytes; i += PAGE) b[i] = 2;
  const c3 = process.cpuUsage(c2);
  const pages = bytes / PAGE;
  const us = (c: NodeJS.CpuUsage) => c.user + c.system;
  return { freshUs: us(c1) / Math.max(1, faults), againUs: us(c3) / pages, faults };
}
