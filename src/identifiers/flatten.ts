/**
 * Multi-value cells (identifiers.md "General"): values separated by `;` or `|`, or a JSON
 * array of strings. Each value is then processed on its own.
 */

const MULTI = /[;|]|^[ \t]*\[/;

/** Cheap test (one native regex) so single-value cells, nearly all, never allocate an array. */
export function isMultiValueCell(cell: string): boolean {
  return MULTI.test(cell);
}

export function splitMultiValueCell(cell: string): string[] {
  const t = cell.trim();
  if (t.charCodeAt(0) === 91 && t.charCodeAt(t.length - 1) === 93) {
    const arr = parseJsonArray(t);
    if (arr !== null) return arr;
  }
  if (cell.indexOf(';', 0) < 0 && cell.indexOf('|', 0) < 0) return [cell];
  return cell.split(SEPARATORS);
}

const SEPARATORS = /[;|]/;

/** A JSON array of strings (numbers allowed, e.g. phones exported as JSON numbers), or null. */
export function parseJsonArray(text: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return jsonArrayValues(parsed);
}

export function jsonArrayValues(parsed: unknown): string[] | null {
  if (!Array.isArray(parsed)) return null;
  const out: string[] = [];
  for (const v of parsed as unknown[]) {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out.push(String(v));
    else if (v === null) out.push('');
    else return null;
  }
  return out;
}

