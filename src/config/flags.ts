import { InvalidArgumentError } from 'commander';

/** A --port flag: 1-65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

/**
 * A `host:port` to listen on (e.g. the metrics endpoint): an IPv4 address or name, or a
 * bracketed IPv6 address, and a port 1-65535.
 */
export function parseListenAddress(value: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidArgumentError(`must be host:port, e.g. 127.0.0.1:9464 (got "${value}")`);
  return value;
}
