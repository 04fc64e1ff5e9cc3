/**
 * Streaming multipart/form-data reader: fields are small strings, the file part is handed
 * to a sink chunk by chunk, so a 50 MB upload never sits in memory whole. (Response#formData
 * would buffer the entire body.)
 */
export interface PartInfo {
  name: string;
  filename?: string;
}

export interface PartSink {
  write(chunk: Buffer): void;
  end(): void;
}

const CRLF2 = Buffer.from('\r\n\r\n');

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m?.[1] ?? m?.[2];
}

function parsePartHeaders(raw: string): PartInfo | undefined {
  const disp = raw.split('\r\n').find((l) => /^content-disposition:/i.test(l));
  if (!disp) return undefined;
  const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
  if (name === undefined) return undefined;
  const filename = /\bfilename="([^"]*)"/i.exec(disp)?.[1];
  return filename === undefined ? { name } : { name, filename };
}

export class MultipartError extends Error {}

/**
 * Reads the body; calls `openPart` for each part and streams its bytes into the sink.
 * Throws MultipartError on malformed bodies.
 */
export async function readMultipart(
  body: AsyncIterable<Buffer>,
  boundary: string,
  openPart: (info: PartInfo) => PartSink,
): Promise<void> {
  const opening = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  type State = 'preamble' | 'headers' | 'body' | 'after-delimiter' | 'done';
  let buf: Buffer = Buffer.alloc(0);
  let state = 'preamble' as State;
  let sink: PartSink | undefined;

  const step = (): boolean => {
    switch (state) {
      case 'preamble': {
        const i = buf.indexOf(opening);
        if (i < 0) return false;
        buf = buf.subarray(i + opening.length);
        state = 'after-delimiter';
        return true;
      }
      case 'after-delimiter': {
        if (buf.length < 2) return false;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = 'done';
          return false;
        }
        if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw new MultipartError('malformed multipart delimiter');
        buf = buf.subarray(2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        const i = buf.indexOf(CRLF2);
        if (i < 0) {
          if (buf.length > 16 * 1024) throw new MultipartError('multipart part headers too long');
          return false;
        }
        const info = parsePartHeaders(buf.subarray(0, i).toString('utf8'));
        if (!info) throw new MultipartError('multipart part without a name');
        sink = openPart(info);
        buf = buf.subarray(i + 4);
        state = 'body';
        return true;
      }
      case 'body': {
        const i = buf.indexOf(delimiter);
        if (i >= 0) {
          if (i > 0) sink!.write(buf.subarray(0, i));
          sink!.end();
          sink = undefined;
          buf = buf.subarray(i + delimiter.length);
          state = 'after-delimiter';
          return true;
        }
        // Keep a tail that could be the start of a delimiter split across chunks.
        const safe = buf.length - (delimiter.length - 1);
        if (safe > 0) {
          sink!.write(buf.subarray(0, safe));
          buf = buf.subarray(safe);
        }
        return false;
      }
      case 'done':
        return false;
    }
  };

  for await (const chunk of body) {
    if (state === 'done') continue; // drain the epilogue
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (step());
  }
  if (state !== 'done') throw new MultipartError('multipart body ended early');
}
