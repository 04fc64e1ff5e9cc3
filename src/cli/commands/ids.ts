import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  CountryCodeSchema,
  IdentifierHasher,
  type HashAlgorithm,
  type Outcome,
  type IdentifierContext,
  type IdentifierKind,
  type PhoneFormat,
} from '../../identifiers';
import { UsageError } from '../../config/errors';

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

const FLUSH_AT = 1 << 16;
/** Lines normalized before their SHA-256 digests are computed together. */
const HASH_BATCH = 1024;

/**
 * The `ids normalize` loop: stdin chunks are split into lines, each line becomes one JSON
 * object, and output goes out in ~64 KiB writes (not one write per line) with backpressure.
 */
export async function normalizeStream(
  input: AsyncIterable<Buffer | string>,
  out: Writable,
  normalizer: IdentifierHasher,
): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let first = true;
  let buf = '';
  let closed = false;
  let failure: Error | undefined;
  const lines = new LineBatch(normalizer);
  // A reader that went away (`| head`) is not an error: stop quietly. Other write errors
  // fail the command (exit 1) once the current write returns.
  out.on('error', (err: NodeJS.ErrnoException) => {
    closed = true;
    if (err.code !== 'EPIPE') failure = err;
  });
  const flush = async (): Promise<void> => {
    if (failure) throw failure;
    if (buf.length === 0 || closed) return;
    const ok = out.write(buf);
    buf = '';
    if (!ok && !closed) await drained(out);
  };
  for await (const chunk of input) {
    // Lines are cut from the decoded chunk itself; only a line spanning chunks is
    // concatenated (V8 searches a concatenated "cons" string character by character).
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let nl = text.indexOf('\n', 0);
    if (nl < 0) {
      rest += text;
      continue;
    }
    const head = rest + text.slice(0, nl);
    rest = '';
    lines.add(head, 0, head.length);
    let pos = nl + 1;
    for (nl = text.indexOf('\n', pos); nl >= 0; nl = text.indexOf('\n', pos)) {
      lines.add(text, pos, nl);
      pos = nl + 1;
      if (lines.size >= HASH_BATCH) buf += lines.render();
      if (buf.length >= FLUSH_AT) await flush();
      if (closed) return flush();
    }
    rest = text.slice(pos);
    // Every complete line of a chunk is answered, and written, before the next chunk is
    // awaited: a person typing lines (or a slow producer) sees each answer at once, while a
    // fast pipe still gets one write per input chunk.
    buf += lines.render();
    await flush();
    if (closed) return;
  }
  rest += decoder.end();
  if (rest.length > 0) lines.add(rest, 0, rest.length);
  buf += lines.render();
  await flush();
  if (failure) throw failure;
}

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

/**
 * Lines normalized one by one (IdentifierHasher: SHA-256 digests computed a thousand at a
 * time, not one native hash call per line); `render` returns their JSON lines in input order.
 */
class LineBatch {
  size = 0;
  private inputs: string[] = [];
  private outcomes: Outcome[] = [];
  /** Per 'hashed' line: the normalized value. */
  private normalized: string[] = [];
  /** Per 'hashed' or 'prehashed' line: its digest (filled by the hasher's flush). */
  private digests: string[] = [];

  constructor(private readonly n: IdentifierHasher) {}

  add(text: string, start: number, end: number): void {
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    const input = text.slice(start, end);
    const outcome = this.n.add(input, this.digests);
    this.inputs.push(input);
    this.outcomes.push(outcome);
    if (outcome === 'hashed') this.normalized.push(this.n.lastNormalized());
    this.size++;
  }

  render(): string {
    this.n.flush();
    const digests = this.digests;
    let out = '';
    let h = 0;
    let v = 0;
    for (let i = 0; i < this.size; i++) {
      const q = JSON.stringify(this.inputs[i]);
      const outcome = this.outcomes[i]!;
      switch (outcome) {
        case 'hashed':
          out += `{"input":${q},"normalized":${JSON.stringify(this.normalized[v++])},"hash":"${digests[h++]!}","prehashed":false,"error":null}\n`;
          break;
        case 'prehashed':
          out += `{"input":${q},"normalized":null,"hash":"${digests[h++]!}","prehashed":true,"error":null}\n`;
          break;
        case 'empty':
          out += `{"input":${q},"normalized":null,"hash":null,"prehashed":false,"error":null}\n`;
          break;
        default:
          out += `{"input":${q},"normalized":null,"hash":null,"prehashed":false,"error":"${outcome}"}\n`;
      }
    }
    this.size = 0;
    this.inputs = [];
    this.outcomes = [];
    this.normalized = [];
    this.digests = [];
    return out;
  }
}
