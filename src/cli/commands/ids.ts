import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { MAX_VALUE_BYTES } from '../../identifiers/digest';
import { IdentifierHasher } from '../../identifiers/hasher';
import type { HashAlgorithm, IdentifierContext, IdentifierKind, Outcome, PhoneFormat } from '../../identifiers';
import { UsageError } from '../../config/errors';
import { DigestList } from '../../identifiers/digestList';
import { MAX_CHUNK_VALUES } from '../../identifiers/sha256batch/sha256Batch';

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
    .option('--country <code>', 'ISO 3166-1 alpha-2 country for phone numbers without a country code')
    .addOption(
      new Option('--phone-format <format>', 'audience phones: E.164 digits without "+" (TikTok customer-file default) or with it')
        .choices(['digits', 'e164'])
        .default('digits'),
    )
    .action(async (opts: NormalizeOpts) => {
      const kind = TYPE_KINDS[opts.type]!;
      if (opts.hash === 'md5' && kind !== 'maid')
        throw new UsageError(`--hash md5 is only for mobile advertising IDs; ${opts.type} is SHA-256 only`);
      const country = opts.country === undefined ? undefined : await parseCountry(opts.country);
      const normalizer = new IdentifierHasher(
        { kind, hash: opts.hash },
        { context: opts.context, defaultCountry: country, phoneFormat: opts.phoneFormat },
      );
      await normalizeStream(process.stdin, process.stdout, normalizer);
    });
}

/** The schema (zod, libphonenumber-js) loads only when a country is given: emails start without it. */
async function parseCountry(value: string): Promise<string> {
  const { CountryCodeSchema } = await import('../../identifiers/schema.js');
  const r = CountryCodeSchema.safeParse(value);
  if (!r.success) throw new UsageError("option '--country <code>' argument '" + value + "' is invalid. must be an ISO 3166-1 alpha-2 country code such as US, GB or DE");
  return r.data;
}

/** Room in the kernel's memory for the JSON lines jsonLines writes at once (a group's usual lines fit). */
const JSON_ROOM = 1 << 18;

/** Lines per call into the batch rules (the hasher's MAX_CHUNK_VALUES). */
const GROUP = MAX_CHUNK_VALUES;
/** The batch rules' code for "the string rules decide". */
const SLOW_CODE = -1;

/** Line [s, e) as the string rules take it: UTF-8, without a final carriage return. */
function lineString(src: Buffer, s: number, e: number): string {
  if (e > s && src[e - 1] === 13) e--;
  return src.toString('utf8', s, e);
}

/** Output bytes gathered before a write (and the room kept for one more line). */
const FLUSH_AT = 1 << 18;
/** A group's lines (about 300 KiB for 1,024 emails) fit beside a pending FLUSH_AT. */
const OUT_CAP = 1 << 20;

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
    const ok = out.write(bytes);
    // Nothing left buffered: the stream wrote the bytes already (stdout to a file writes
    // synchronously), so the buffer can take the next lines.
    if (out.writableLength === 0) lines.giveBack(bytes);
    if (!ok && !closed) await drained(out);
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
      // The chunk's lines go to the rules in groups (one WebAssembly call each).
      const n = lines.queueLine(pos, nl);
      pos = nl + 1;
      if (n === GROUP) lines.addGroup(chunk);
      if (lines.size >= FLUSH_AT) await flush();
      if (closed) return flush();
    }
    lines.addGroup(chunk);
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
  private buf: Buffer = Buffer.allocUnsafe(OUT_CAP);
  private spare: Buffer | null = null;
  private len = 0;
  /** Lines of the current chunk waiting for addGroup: [start, end) without the newline. */
  private readonly starts = new Int32Array(GROUP);
  private readonly ends = new Int32Array(GROUP);
  private readonly lens = new Uint32Array(GROUP);
  private queued = 0;
  /** Per line of a group that the string rules decide: outcome, normalized value, digest slot. */
  private readonly slowOutcome: Outcome[] = [];
  private readonly slowNormalized: Array<string | null> = [];
  private readonly slowDigest: number[] = [];
  private readonly slowDigests: string[] = [];
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
    // The bytes path decides non-ASCII values by the string rules itself (addBytes).
    const outcome = this.n.addBytes(src, start, end, this.digests);
    let p = this.put(INPUT, this.len);
    p = this.quoted(src, start, end, p);
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
      default:
        p = this.outcomeEnd(outcome, p);
    }
    this.len = p;
  }

  /** Queues line [start, end) of the chunk for addGroup; returns how many are queued. */
  queueLine(start: number, end: number): number {
    this.starts[this.queued] = start;
    this.ends[this.queued] = end;
    return ++this.queued;
  }

  /**
   * The queued lines of `src`: each line with its newline is one value of a byte batch
   * (the rules trim the newline away), so a group costs one copy and one call into the
   * rules; lines the batch rules leave to the string rules take add(). MD5 targets (no
   * batch kernel) take add() line by line.
   */
  addGroup(src: Buffer): void {
    const n = this.queued;
    this.queued = 0;
    if (n === 0) return;
    const starts = this.starts;
    const ends = this.ends;
    if (!this.n.sharesQueue) {
      for (let m = 0; m < n; m++) this.add(src, starts[m]!, ends[m]!);
      return;
    }
    const lens = this.lens;
    for (let m = 0; m < n; m++) lens[m] = ends[m]! + 1 - starts[m]!;
    const b = this.n.bytesBatch(src, starts[0]!, lens, n, JSON_ROOM);
    const codes = b.codes;
    // The string rules first, for the few lines the batch rules leave; their digests come with one flush.
    const slowOutcome = this.slowOutcome;
    const slowNormalized = this.slowNormalized;
    const slowDigest = this.slowDigest;
    const slowDigests = this.slowDigests;
    slowOutcome.length = slowNormalized.length = slowDigest.length = slowDigests.length = 0;
    for (let m = 0; m < n; m++) {
      if (codes[m] !== SLOW_CODE) continue;
      const o = this.n.add(lineString(src, starts[m]!, ends[m]!), slowDigests);
      slowOutcome.push(o);
      slowNormalized.push(o === 'hashed' ? this.n.lastNormalized() : null);
      slowDigest.push(o === 'hashed' || o === 'prehashed' ? slowDigests.length - 1 : -1);
    }
    if (slowOutcome.length) this.n.flush();
    let buf = this.buf;
    const u8 = b.u8;
    const words = b.words;
    let p = this.len;
    let slow = 0;
    const room = (bytes: number): void => {
      if (p + bytes <= buf.length) return;
      this.len = p;
      this.grow(p + bytes);
      buf = this.buf;
    };
    // Line m in JavaScript: a line the batch rules left to the string rules, a rejected or
    // empty one, or one whose bytes JSON must escape.
    const jsLine = (m: number): void => {
      const s = starts[m]!;
      let e = ends[m]!;
      if (e > s && src[e - 1] === 13) e--;
      // Room for this line's worst case: its JSON escaped (at most 6 bytes a byte), a
      // normalized value of the batch rules escaped likewise (at most the line plus a
      // phone's country code), or the string rules' one, the constant parts and the digest.
      room(12 * (e - s) + 400 + (codes[m] === SLOW_CODE ? 6 * (slowNormalized[slow]?.length ?? 0) : 0));
      p = this.put(INPUT, p);
      p = this.quoted(src, s, e, p);
      const code = codes[m]!;
      if (code >= 0) {
        // Hashed by the batch rules, but written here: its bytes need JSON's escaping.
        const d = b.descIndex + 2 * code;
        const normalized = Buffer.from(u8.buffer, u8.byteOffset + words[d]!, words[d + 1]!).toString('utf8');
        p = this.put(NORMALIZED, p);
        p += buf.write(JSON.stringify(normalized), p, 'utf8');
        p = this.put(HASH, p);
        buf.set(b.hex.subarray(64 * code, 64 * code + 64), p);
        p = this.put(HASHED_END, p + 64);
        return;
      }
      if (code === SLOW_CODE) {
        const o = slowOutcome[slow]!;
        const norm = slowNormalized[slow];
        const k = slowDigest[slow++]!;
        if (o === 'hashed') {
          p = this.put(NORMALIZED, p);
          p += buf.write(JSON.stringify(norm), p, 'utf8');
          p = this.put(HASH, p);
          p += buf.write(slowDigests[k]!, p, 'latin1');
          p = this.put(HASHED_END, p);
        } else if (o === 'prehashed') {
          p = this.put(PREHASHED_MID, p);
          p += buf.write(slowDigests[k]!, p, 'latin1');
          p = this.put(PREHASHED_END, p);
        } else p = this.outcomeEnd(o, p);
      } else p = this.outcomeEnd(this.n.outcomeOf(code), p);
    };
    // The usual lines are written by the WebAssembly rules (jsonLines) into the kernel's
    // memory, and copied here in one piece; each line they leave is written here, in order.
    let m = 0;
    let inAt = b.inAt;
    while (m < n) {
      const stop = this.n.jsonLines(b, inAt, m);
      const end = this.n.jsonEnd;
      if (end > b.outAt) {
        room(end - b.outAt);
        buf.set(u8.subarray(b.outAt, end), p);
        p += end - b.outAt;
      }
      inAt = this.n.jsonNextIn;
      if (stop >= n) break;
      if (this.n.jsonWhy === 2 && stop > m) {
        m = stop;
        continue;
      }
      jsLine(stop);
      inAt += lens[stop]!;
      m = stop + 1;
    }
    this.len = p;
  }

  /** The JSON string of line [s, e): its own bytes when printable ASCII without `"` or `\`, else JSON.stringify. */
  private quoted(src: Buffer, s: number, e: number, p: number): number {
    const buf = this.buf;
    if (!isJsonSafe(src, s, e)) return p + buf.write(JSON.stringify(src.toString('utf8', s, e)), p, 'utf8');
    buf[p++] = 0x22;
    for (let i = s; i < e; i++) buf[p++] = src[i]!;
    buf[p++] = 0x22;
    return p;
  }

  /** The end of a line without a digest: 'empty' or a reject reason. */
  private outcomeEnd(outcome: Outcome, p: number): number {
    if (outcome === 'empty') return this.put(EMPTY_END, p);
    p = this.put(ERROR_MID, p);
    let e = this.errorBytes.get(outcome);
    if (e === undefined) this.errorBytes.set(outcome, (e = ascii(outcome)));
    p = this.put(e, p);
    return this.put(ERROR_END, p);
  }

  /** A buffer that take() returned and its reader is done with: the next lines go there. */
  giveBack(bytes: Buffer): void {
    if (bytes.byteOffset === 0 && bytes.buffer.byteLength === OUT_CAP) this.spare = Buffer.from(bytes.buffer, 0, OUT_CAP);
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
    this.buf = this.spare ?? Buffer.allocUnsafe(OUT_CAP);
    this.spare = null;
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

function isJsonSafe(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}
