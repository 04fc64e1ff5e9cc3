import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/*
 * CPU seconds and memory of processes this harness did not start itself (the topology's
 * daemons, PostgreSQL's backends), read from /proc: the figures of the capacity model.
 */

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<comm>) <state> <ppid> …": comm may hold spaces; fields count from after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds the process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  // After comm: state(0) ppid(1) … utime(11) stime(12).
  return f ? (Number(f[11]) + Number(f[12])) / USER_HZ : 0;
}

/** VmRSS (now) or VmHWM (peak) in bytes; 0 once the process is gone. */
export function memoryBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pids whose parent is `ppid` (PostgreSQL's backends under its postmaster). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(Number(e));
    if (f && Number(f[1]) === ppid) out.push(Number(e));
  }
  return out;
}

/** The postmaster's pid, from the first line of postmaster.pid in its data dir. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a group of processes, counting processes that come and go (PostgreSQL
 * starts a backend per connection): each seen pid's last reading is kept.
 */
export class CpuGroup {
  private readonly last = new Map<number, number>();
  constructor(private readonly pids: () => number[]) {}
  /** The group's CPU seconds so far. */
  read(): number {
    for (const pid of this.pids()) {
      const s = cpuSeconds(pid);
      if (s > 0 || !this.last.has(pid)) this.last.set(pid, Math.max(s, this.last.get(pid) ?? 0));
    }
    let sum = 0;
    for (const v of this.last.values()) sum += v;
    return sum;
  }
}
