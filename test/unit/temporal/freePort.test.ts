import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { freePort } from '../../../src/temporal/devServer';

/** Every port this file was given: freePort remembers them and would skip them again. */
const given: number[] = [];
const pick = async (): Promise<number> => {
  const p = await freePort();
  given.push(p);
  return p;
};

describe('freePort', () => {
  it('picks ports that no outgoing connection can take first: below the ephemeral range and 32768, distinct, free to listen on', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const top = Math.min(32_768, low);
    const ports: number[] = [];
    for (let i = 0; i < 40; i++) ports.push(await pick());
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThan(top);
    }
    // Each can be listened on (nothing kept it).
    for (const p of ports.slice(0, 5)) expect(await listenable(p)).toBe(true);
  });

  it('skips a port something listens on, and a port it handed out a moment ago', async () => {
    const top = Math.min(32_768, Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]));
    const draw = (port: number) => (port - 20_000 + 0.5) / (top - 20_000);
    const busy = await pick();
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(busy, '127.0.0.1', () => resolve()));
    const random = vi.spyOn(Math, 'random');
    try {
      const recent = await pick();
      let other = 20_000;
      while (given.includes(other) || !(await listenable(other))) other++;
      // The draws land on the listened port, then on the port just handed out, then on another.
      random.mockClear();
      random.mockReturnValueOnce(draw(busy)).mockReturnValueOnce(draw(recent)).mockReturnValueOnce(draw(other));
      expect(await pick()).toBe(other);
      expect(random).toHaveBeenCalledTimes(3);
    } finally {
      random.mockRestore();
      await new Promise((r) => held.close(r));
    }
  });
});

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
