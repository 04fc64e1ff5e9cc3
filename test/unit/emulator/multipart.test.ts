import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FileIngest } from '../../../src/emulator/fileIngest';
import { boundaryOf, MultipartError, readMultipart, type PartSink } from '../../../src/emulator/multipart';

async function encode(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const r = new Request('http://x/', { method: 'POST', body: form });
  return { body: Buffer.from(await r.arrayBuffer()), contentType: r.headers.get('content-type')! };
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function parse(body: Buffer, boundary: string, chunkSize: number) {
  const parts: Record<string, { filename?: string; data: Buffer }> = {};
  await readMultipart(chunks(body, chunkSize), boundary, (info): PartSink => {
    const got: Buffer[] = [];
    return {
      write: (c) => got.push(Buffer.from(c)),
      end: () => {
        parts[info.name] = { filename: info.filename, data: Buffer.concat(got) };
      },
    };
  });
  return parts;
}

describe('readMultipart', () => {
  it('yields the exact bytes of every part whatever the chunking (delimiters split across chunks)', async () => {
    const file = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line-${i}\r\n--not-a-boundary`).join('\n'));
    const form = new FormData();
    form.set('advertiser_id', '42');
    form.set('file', new Blob([file]), 'ids.csv');
    form.set('empty', '');
    const { body, contentType } = await encode(form);
    const boundary = boundaryOf(contentType)!;
    for (const size of [1, 7, 64, 1000, body.length]) {
      const parts = await parse(body, boundary, size);
      expect(parts.advertiser_id?.data.toString()).toBe('42');
      expect(parts.file?.filename).toBe('ids.csv');
      expect(parts.file?.data.equals(file)).toBe(true);
      expect(parts.empty?.data.length).toBe(0);
    }
  });

  it('rejects a truncated body', async () => {
    const form = new FormData();
    form.set('a', 'b');
    const { body, contentType } = await encode(form);
    await expect(parse(body.subarray(0, body.length - 10), boundaryOf(contentType)!, 16)).rejects.toThrow(MultipartError);
  });
});

describe('FileIngest', () => {
  it('hashes exact bytes, skips an optional header, counts invalid rows', () => {
    const a = createHash('sha256').update('a').digest('hex');
    const b = createHash('md5').update('b').digest('hex');
    const text = `Email_SHA256\r\n${a}\n\n  ${b.toUpperCase()}  \nnot-a-digest\n${a}`;
    const f = new FileIngest(1 << 20, 'optional');
    const buf = Buffer.from(text);
    f.write(buf.subarray(0, 20));
    f.write(buf.subarray(20));
    f.end();
    expect(f.result).toMatchObject({
      bytes: buf.length,
      md5: createHash('md5').update(buf).digest('hex'),
      rows: 4,
      invalidRows: 1,
      headerSkipped: true,
      md5Width: 1,
      sha256Width: 2,
      tooLarge: false,
    });
    expect(new Set(f.result.ids.hexes())).toEqual(new Set([a, b]));
  });
  it('marks files beyond the cap as too large', () => {
    const f = new FileIngest(10, 'optional');
    f.write(Buffer.alloc(11, 0x61));
    f.end();
    expect(f.result.tooLarge).toBe(true);
  });
});
