import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  CountryCodeSchema,
  IdentifierHasher,
  MAX_VALUE_BYTES,
  type HashAlgorithm,
  type Outcome,
  type IdentifierContext,
  type IdentifierKind,
  type PhoneFormat,
} from '../../identifiers';
import { UsageError } from '../../config/errors';
import { DigestList } from '../../identifiers/digestList';

/** `--type` names users know; IDFA, GAID and AAID follow the MAID rule. */
const TYPE_KINDS: Readonly<Record<string, IdentifierKind>> = {
  email: 'email',
  phone: 'phone',
  maid: 'maid',
  idfa: 'maid',
  gaid: 'maid',
  aaid: 'maid',
  external_id: 'external_id',
};

interface NormalizeOpts {
  type: string;
  context: IdentifierContext;
  hash: HashAlgorithm;
  country?: string;
  phoneFormat: PhoneFormat;
}

export function registerIdsCommand(program: Command, summary: string): void {
  const ids = program.command('ids')
    .description(summary);
  ids
    .command('normalize')
    .description(
      'Read one value per line on stdin; write one JSON object per line: ' +
        '{"input","normalized","hash","prehashed","error"} (shared/identifiers.md)',
    )
    .addOption(new Option('--type <type>', 'identifier type').choices(Object.keys(TYPE_KINDS)).makeOptionMandatory())
    .addOption(new Option('--context <context>', 'TikTok surface the digests are for').choices(['audience', 'events']).makeOptionMandatory())
    .addOption(new Option('--hash <algorithm>', 'digest (md5 only for mobile advertising IDs)').choices(['sha256', 'md5']).default('sha256'))
    .option('--country <code>', 'ISO 3166-1 alpha-2 country for phone numbers without a country code', parseCountry)
    .addOption(
      new Option('--phone-format <format>', 'audience phones: E.164 digits without "+" (TikTok customer-file default) or with it')
        .choices(['digits', 'e164'])
        .default('digits'),
    )
    .action(async (opts: NormalizeOpts) => {
      const kind = TYPE_KINDS[opts.type]!;
      if (opts.hash === 'md5' && kind !== 'maid')
        throw new UsageError(`--hash md5 is only for mobile advertising IDs; ${opts.type} is SHA-256 only`);
      const normalizer = new IdentifierHasher(
        { kind, hash: opts.hash },
        { context: opts.context, defaultCountry: opts.country, phoneFormat: opts.phoneFormat },
      );
      await normalizeStream(process.stdin, process.stdout, normalizer);
    });
}

function parseCountry(value: string): string {
  const r = CountryCodeSchema.safeParse(value);
  if (!r.success) throw new InvalidArgumentError('must be an ISO 3166-1 alpha-2 country code such as US, GB or DE');
  return r.data;
}

/** Output bytes gathered before a write (and the room kept for one more line). */
const FLUSH_AT = 1 << 17;
const OUT_CAP = FLUSH_AT + (1 << 16);

/**
 * The `ids normalize` loop, on bytes: stdin chunks are cut into lines at their newline
 * bytes, each line is normalized and hashed from its bytes, and its JSON line is written
 * straight into an output buffer; a chunk's lines go out in one write, with backpressure.
 *
 * Why bytes: at a few hundred thousand lines the strings dominated (a string per input,
 * per normalized value and per digest, JSON.stringify twice, one concatenated output
 * string), in time and in garbage collection. A line of printable ASCII without `"` or `\`
 * is its own JSON string body, so its bytes are copied as they are; every other line takes
 * the string path (JSON.stringify), so the output bytes are the same either way.
 */
export async function normalizeStream(
  input: AsyncIterable<Buffer | string>,
  out: Writable,
  normalizer: IdentifierHasher,
): Promise<void> {
  let rest: Buffer | null = null;
  let first = true;
  let closed = false;
  let failure: Error | undefined;
  const lines = new JsonLines(normalizer);
  // A reader that went away (`| head`) is not an error: stop quietly. Other write errors
  // fail the command (exit 1) once the current write returns.
  out.on('error', (err: NodeJS.ErrnoException) => {
    closed = true;
    if (err.code !== 'EPIPE') failure = err;
  });
  const flush = async (): Promise<void> => {
    if (failure) throw failure;
    const bytes = lines.take();
    if (bytes === null || closed) return;
    if (!out.write(bytes) && !closed) await drained(out);
  };
  for await (const piece of input) {
    let chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    if (first) {
      if (rest !== null) {
        chunk = Buffer.concat([rest, chunk]);
        rest = null;
      }
      // A byte-order mark is not part of the first value; wait until its 3 bytes can be told.
      if (chunk.length < 3 && isBomPrefix(chunk, chunk.length)) {
        rest = chunk;
        continue;
      }
      first = false;
      if (isBomPrefix(chunk, 3)) chunk = chunk.subarray(3);
    }
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      rest = rest === null ? Buffer.from(chunk) : Buffer.concat([rest, chunk]);
      continue;
    }
    if (rest !== null) {
      const head = Buffer.concat([rest, chunk.subarray(0, nl)]);
      rest = null;
      lines.add(head, 0, head.length);
    } else lines.add(chunk, 0, nl);
    let pos = nl + 1;
    for (nl = chunk.indexOf(10, pos); nl >= 0; nl = chunk.indexOf(10, pos)) {
      lines.add(chunk, pos, nl);
      pos = nl + 1;
      if (lines.size >= FLUSH_AT) await flush();
      if (closed) return flush();
    }
    // The stream may reuse the chunk's memory: keep a copy of the unfinished line.
    rest = pos < chunk.length ? Buffer.from(chunk.subarray(pos)) : null;
    // Every complete line of a chunk is answered, and written, before the next chunk is
    // awaited: a person typing lines (or a slow producer) sees each answer at once, while a
    // fast pipe still gets one write per input chunk.
    await flush();
    if (closed) return;
  }
  if (rest !== null && first && isBomPrefix(rest, 3)) rest = rest.subarray(3);
  if (rest !== null && rest.length > 0) lines.add(rest, 0, rest.length);
  await flush();
  if (failure) throw failure;
}

const BOM = [0xef, 0xbb, 0xbf];
const isBomPrefix = (b: Buffer, n: number): boolean => {
  if (b.length < n) return false;
  for (let i = 0; i < n; i++) if (b[i] !== BOM[i]) return false;
  return true;
};

/** Resolves on 'drain', or on 'close'/'error' so a vanished reader cannot hang us; leaves no listeners. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const INPUT = ascii('{"input":');
const NORMALIZED = ascii(',"normalized":');
const HASH = ascii(',"hash":"');
const HASHED_END = ascii('","prehashed":false,"error":null}\n');
const PREHASHED_MID = ascii(',"normalized":null,"hash":"');
const PREHASHED_END = ascii('","prehashed":true,"error":null}\n');
const EMPTY_END = ascii(',"normalized":null,"hash":null,"prehashed":false,"error":null}\n');
const ERROR_MID = ascii(',"normalized":null,"hash":null,"prehashed":false,"error":"');
const ERROR_END = ascii('"}\n');

/**
 * JSON lines built as bytes. A digest is not known when its line is written (the hasher
 * computes about a thousand at once): its 64 (or 32) bytes are left as a hole, filled from
 * the digest list when the lines are taken.
 */
class JsonLines {
  private buf = Buffer.allocUnsafe(OUT_CAP);
  private len = 0;
  private readonly digests: DigestList;
  private holes = new Int32Array(4096);
  private holeDigest = new Int32Array(4096);
  private nHoles = 0;
  private readonly errorBytes = new Map<string, Buffer>();

  constructor(private readonly n: IdentifierHasher) {
    this.digests = new DigestList(n.hash === 'md5' ? 32 : 64);
  }

  /** Output bytes pending. */
  get size(): number {
    return this.len;
  }

  add(src: Buffer, start: number, end: number): void {
    if (end > start && src[end - 1] === 13) end--;
    // Room for the worst line of either path: UTF-8 JSON of the input and of its normalized value.
    const room = 6 * (end - start) + MAX_NORMALIZED_BYTES + 256;
    if (this.len + room > this.buf.length) this.grow(this.len + room);
    const buf = this.buf;
    let safe = true;
    for (let i = start; i < end; i++) {
      const c = src[i]!;
      if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) {
        safe = false;
        break;
      }
    }
    let outcome: Outcome;
    let p = this.put(INPUT, this.len);
    if (safe) {
      outcome = this.n.addBytes(src, start, end, this.digests);
      buf[p++] = 0x22;
      p += src.copy(buf, p, start, end);
      buf[p++] = 0x22;
    } else {
      const raw = src.toString('utf8', start, end);
      outcome = this.n.add(raw, this.digests);
      p += buf.write(JSON.stringify(raw), p, 'utf8');
    }
    switch (outcome) {
      case 'hashed': {
        p = this.put(NORMALIZED, p);
        const at = p + 1;
        const k = this.n.copyLastNormalized(buf, at);
        if (k >= 0 && isJsonSafe(buf, at, at + k)) {
          buf[p] = 0x22;
          buf[at + k] = 0x22;
          p = at + k + 1;
        } else p += buf.write(JSON.stringify(this.n.lastNormalized()), p, 'utf8');
        p = this.put(HASH, p);
        p = this.hole(p);
        p = this.put(HASHED_END, p);
        break;
      }
      case 'prehashed':
        p = this.put(PREHASHED_MID, p);
        p = this.hole(p);
        p = this.put(PREHASHED_END, p);
        break;
      case 'empty':
        p = this.put(EMPTY_END, p);
        break;
      default: {
        p = this.put(ERROR_MID, p);
        let e = this.errorBytes.get(outcome);
        if (e === undefined) this.errorBytes.set(outcome, (e = ascii(outcome)));
        p = this.put(e, p);
        p = this.put(ERROR_END, p);
      }
    }
    this.len = p;
  }

  /** The lines so far, digests filled in, as a buffer now owned by the caller; null when none. */
  take(): Buffer | null {
    if (this.len === 0) return null;
    this.n.flush();
    const w = this.digests.width;
    const hex = this.digests.bytes;
    const buf = this.buf;
    for (let h = 0; h < this.nHoles; h++) {
      const from = this.holeDigest[h]! * w;
      hex.copy(buf, this.holes[h]!, from, from + w);
    }
    const out = buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(OUT_CAP);
    this.len = 0;
    this.nHoles = 0;
    this.digests.clear();
    return out;
  }

  // Native copies: a JavaScript loop per byte cost more than everything else together.
  private put(bytes: Buffer, p: number): number {
    this.buf.set(bytes, p);
    return p + bytes.length;
  }

  /** Leaves room for the digest the last add delivered (the newest in the list). */
  private hole(p: number): number {
    if (this.nHoles === this.holes.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.holes = grow(this.holes);
      this.holeDigest = grow(this.holeDigest);
    }
    this.holes[this.nHoles] = p;
    this.holeDigest[this.nHoles++] = this.digests.length - 1;
    return p + this.digests.width;
  }

  private grow(min: number): void {
    const next = Buffer.allocUnsafe(Math.max(min, 2 * this.buf.length));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/**
 * Bytes of a normalized value's JSON at most: raw values over MAX_VALUE_BYTES are rejected
 * first; what NFC and lowercasing make of the rest stays below 16 KiB of UTF-8 (the
 * hasher's own bound), and JSON escapes (6 bytes for a control character an external id
 * may keep) of at most MAX_VALUE_BYTES units stay below that too.
 */
const MAX_NORMALIZED_BYTES = 16 * MAX_VALUE_BYTES + 2;

function isJsonSafe(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}
