import { describe, expect, it } from 'vitest';
import { liveMembers } from '../../../src/temporal/workerShare';
import { sharePart } from '../../../src/tiktok/rateLimiter';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe('liveMembers (who shares TikTok\'s limit, from the members queue\'s poller list)', () => {
  const now = 1_800_000_000_000;
  it('counts the identities that polled within staleMs, itself always among them, and ranks it among them sorted', () => {
    const pollers = [
      { identity: 'w-3@h', lastAccessTime: at(now - 2_000) },
      { identity: 'w-1@h', lastAccessTime: at(now - 59_000) },
      // Silent for longer than two long polls: dead, no longer counted.
      { identity: 'w-0@h', lastAccessTime: at(now - 130_000) },
      { identity: 'w-2@h', lastAccessTime: at(now - 1_000) },
    ];
    expect(liveMembers(pollers, 'w-2@h', now, 120_000)).toEqual({ count: 3, rank: 1, seen: true });
    // A process the server does not list yet counts itself, but is not `seen`: it must not send.
    expect(liveMembers(pollers, 'w-9@h', now, 120_000)).toEqual({ count: 4, rank: 3, seen: false });
    expect(liveMembers([], 'w-1@h', now, 120_000)).toEqual({ count: 1, rank: 0, seen: false });
  });

  it('keeps counting a process a later list leaves out until it has been silent for staleMs', () => {
    const memory = new Map<string, number>();
    const all = ['a@h', 'b@h', 'c@h'].map((identity) => ({ identity, lastAccessTime: at(now) }));
    expect(liveMembers(all, 'a@h', now, 120_000, memory).count).toBe(3);
    // The next answer misses b and c (a cached fan-out, another partition): still 3, a's part does not grow.
    expect(liveMembers([all[0]!], 'a@h', now + 2_000, 120_000, memory)).toEqual({ count: 3, rank: 0, seen: true });
    // Two minutes later with no sign of them: they are gone.
    expect(liveMembers([{ identity: 'a@h', lastAccessTime: at(now + 121_000) }], 'a@h', now + 121_000, 120_000, memory).count).toBe(1);
  });

  it('gives every live process a part, and the parts of one list add up to the limit', () => {
    const ids = ['b@h', 'a@h', 'c@h'];
    const pollers = ids.map((identity) => ({ identity, lastAccessTime: at(now) }));
    const parts = ids.map((self) => {
      const m = liveMembers(pollers, self, now, 120_000);
      return sharePart(5, m.count, m.rank);
    });
    expect(parts).toEqual([2, 2, 1]);
  });
});
