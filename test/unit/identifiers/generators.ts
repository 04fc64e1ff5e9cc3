import { getCountries, getCountryCallingCode } from 'libphonenumber-js';

// Identifier values of every shape the rules distinguish, for differential tests (the
// byte-level fast paths against the string rules). Seeded: failures reproduce.

export const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[(r() * xs.length) | 0]!;

function randomText(r: () => number, pool: readonly string[], min: number, max: number): string {
  const n = min + ((r() * (max - min + 1)) | 0);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, pool);
  return s;
}

const SPACES = [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u3000', '\ufeff', '\u2028'];
const ASCII_ODD = ['\x00', '\x01', '\x1c', '\x1f', '\x7f', '"', '\\', '!', '#', '_', '~', '%', '/', '=', '?', '^', '`', '{', '}', '*', '\''];
const NON_ASCII = ['é', 'E\u0301', 'İ', 'ß', 'Ω', '日', '😀', '\ud800', '\uff0b', '\uff08', '\uff09', 'ｅ'];

export function emails(r: () => number, n: number): string[] {
  const localPool = ['a', 'b', 'z', 'A', 'Z', '0', '9', '.', '+', '-', '_', ...ASCII_ODD, ' ', '\t'];
  const labelPool = ['a', 'x', 'Q', '0', '7', '-', '-'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const shape = r();
    let local = randomText(r, localPool, 0, r() < 0.05 ? 70 : 12);
    if (r() < 0.3) local = `${local}+${randomText(r, localPool, 0, 5)}`;
    const labels: string[] = [];
    const nl = (r() * 4) | 0;
    for (let k = 0; k < nl; k++) labels.push(randomText(r, labelPool, 0, r() < 0.02 ? 70 : 6));
    labels.push(randomText(r, ['a', 'B', 'c', 'z', ...(r() < 0.2 ? ['1', '-'] : [])], 0, 4));
    let v = `${local}@${labels.join('.')}`;
    if (shape < 0.1) v = v.replace('@', '');
    else if (shape < 0.15) v = `${v}@x.com`;
    else if (shape < 0.25) v = `${pick(r, SPACES)}${v}${pick(r, SPACES)}`;
    else if (shape < 0.35) {
      const at = (r() * (v.length + 1)) | 0;
      v = v.slice(0, at) + pick(r, [...NON_ASCII, ...SPACES]) + v.slice(at);
    } else if (shape < 0.4) v = v.toUpperCase();
    out.push(v);
  }
  // Boundaries: local part 64/65, whole 254/255, the +suffix counted before removal.
  const d = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.com`;
  for (const l of [1, 63, 64, 65]) for (const extra of [0, 1, 2]) out.push(`${'x'.repeat(l)}+${'y'.repeat(extra)}@example.com`);
  for (const total of [253, 254, 255, 256]) out.push(`${'x'.repeat(total - d.length - 1)}@${d}`);
  out.push('', ' ', '\t\r\n', '@', 'a@b.c', 'a@b.co', 'a@-b.co', 'a@b-.co', 'a@b..co', 'a@.b.co', 'a@b.co.', 'a@b.c0', 'a@1.co', '+@x.com', 'a+@x.com');
  out.push(' Jane.Doe+promo@Example.COM ', 'jane doe@example.com', 'JOSÉ@x.com', 'a@bücher.de', 'a@xn--bcher-kva.de');
  return out;
}

export function prehashed(r: () => number): string[] {
  const hex = '0123456789abcdefABCDEF';
  return [randomText(r, hex.split(''), 64, 64), randomText(r, hex.split(''), 32, 32), ` ${randomText(r, hex.split(''), 64, 64)}\t`, randomText(r, hex.split(''), 63, 63), `${randomText(r, hex.split(''), 31, 31)}g`];
}

export function tooLong(): string[] {
  return ['a'.repeat(1024), 'a'.repeat(1025), 'é'.repeat(512), `${'é'.repeat(511)}ab`, `${'é'.repeat(511)}a`, '日'.repeat(341), '日'.repeat(342), ` ${'1'.repeat(1023)}`];
}

function digits(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String((r() * 10) | 0);
  return s;
}

export function phones(r: () => number): Array<[string, string?]> {
  const out: Array<[string, string?]> = [];
  const seps = [' ', '-', '.', '/', '(', ')', '[', ']', '~', '\t'];
  const fmt = (d: string): string => {
    if (r() < 0.4) return d;
    let s = '';
    for (let i = 0; i < d.length; i++) {
      s += d[i];
      if (r() < 0.2) s += pick(r, seps.slice(0, r() < 0.8 ? 5 : seps.length));
    }
    return s;
  };
  getCountries().forEach((country, ci) => {
    const cc = getCountryCallingCode(country);
    // Every other length (alternating by country): the library is the slow reference here.
    for (let len = 2 + (ci % 2); len <= 15; len += 2) {
      for (let k = 0; k < 1; k++) {
        const national = digits(r, len);
        out.push([`+${cc}${fmt(national)}`]);
        out.push([`00${cc}${fmt(national)}`, country]);
        out.push([fmt(national), country]);
        out.push([fmt(`${pick(r, ['0', '00', '1', '8', '011', cc])}${national}`), country]);
        if (k === 0) {
          out.push([`(${cc}) ${national}`, country]);
          out.push([`+(${cc})${national}`]);
          out.push([`${pick(r, [' ', '-', '.', '/', '~'])}+${cc}${national}`, country]);
          out.push([`${pick(r, ['-', '.', '('])}${national}`, country]);
          out.push([`0(0)${cc}${national}`]);
          out.push([`+${cc}${national}${pick(r, ['x', '#', '*', 'ext 12', '\u00a0', '\uff10'])}`, country]);
        }
      }
    }
  });
  for (const c of [undefined, 'ZZ', '001', 'us', 'USA', '']) out.push(['2133734253', c], ['(213) 373-4253', c], ['+12133734253', c]);
  out.push(['\uff0b1 213 373 4253'], ['(+1) 213 373 4253'], ['+1 (213) 373-4253'], ['+0123456789'], ['+80012345678'], ['+999'], ['+1'], ['1'], ['']);
  return out;
}

export function maids(r: () => number, n: number): string[] {
  const hex = '0123456789abcdefABCDEF';
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const g = [8, 4, 4, 4, 12].map((l) => randomText(r, hex.split(''), l, l));
    let v = g.join('-');
    const x = r();
    if (x < 0.1) v = v.slice(1);
    else if (x < 0.2) v = `${v}0`;
    else if (x < 0.3) v = v.replace('-', 'x');
    else if (x < 0.35) v = g.join('');
    else if (x < 0.45) v = `${pick(r, SPACES)}${v}${pick(r, SPACES)}`;
    else if (x < 0.5) {
      const at = (r() * 36) | 0;
      v = v.slice(0, at) + pick(r, ['g', 'G', '-', ' ', 'é', '\u00a0', '日', '😀']) + v.slice(at + 1);
    }
    out.push(v);
  }
  out.push('00000000-0000-0000-0000-000000000000', ' 00000000-0000-0000-0000-000000000000 ', '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000A');
  return out;
}

export function externalIds(r: () => number, n: number): string[] {
  const pool = ['a', 'Z', '0', '_', '-', ':', ...ASCII_ODD, ...SPACES, ...NON_ASCII];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(randomText(r, pool, 0, 20));
  return out;
}

