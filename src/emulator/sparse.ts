/*
 * "Sparse answers": every field of an answer that TikTok does not always send is dropped or
 * set to null, and an unknown field is added to every object. It tells whether a client
 * reads only what it can count on. The list below comes from shared/tiktok-api.md (section
 * in each comment), never from the client's schemas: derived from them, the mode could not
 * catch a schema that asks too much. Choices where the digest is vague: src/emulator/README.md.
 */

/** Dotted paths from the envelope root; `*` is any array index or object key. */
export const ALWAYS_SENT: Readonly<Record<string, readonly string[]>> = {
  // §1.1: every answer, errors included ({} data on error).
  '*': ['code', 'message', 'request_id', 'data'],
  // §13.3 "Response data: access_token, advertiser_ids, scope".
  'oauth2/access_token/': ['data.access_token', 'data.advertiser_ids', 'data.scope'],
  // §2.1 revoke → data.{app_id, advertiser_ids}.
  'oauth2/revoke_token/': ['data.app_id', 'data.advertiser_ids'],
  // §13.5: a peer's mock lists only advertiser_id, so advertiser_name is not counted on.
  'oauth2/advertiser/get/': ['data.list', 'data.list.*.advertiser_id'],
  // §2.1: the list of the advertisers asked for, by id; the rest are account attributes.
  'advertiser/info/': ['data.list', 'data.list.*.advertiser_id'],
  // §13.7: the Business Center's id is what bc/asset/get takes; paging as §1.1.
  'bc/get/': ['data.list', 'data.list.*.bc_info.bc_id', 'data.page_info.page', 'data.page_info.page_size', 'data.page_info.total_number', 'data.page_info.total_page'],
  // §13.7: assets by id; advertiser_role is not counted on (a client must cope with its absence).
  'bc/asset/get/': ['data.list', 'data.list.*.asset_id', 'data.page_info.page', 'data.page_info.page_size', 'data.page_info.total_number', 'data.page_info.total_page'],
  // §3.1 "Response: data.file_path".
  'dmp/custom_audience/file/upload/': ['data.file_path'],
  // §3.2 "Response: data.custom_audience_id".
  'dmp/custom_audience/create/': ['data.custom_audience_id'],
  // §1.1 paging, §3.4 fields: identity (id, name) and readiness (is_valid) of each audience.
  'dmp/custom_audience/list/': [
    'data.list',
    'data.list.*.audience_id',
    'data.list.*.name',
    'data.list.*.is_valid',
    'data.page_info.page',
    'data.page_info.page_size',
    'data.page_info.total_number',
    'data.page_info.total_page',
  ],
  // §3.4 get: list[] = {audience_details, audience_history}; details as in list.
  'dmp/custom_audience/get/': [
    'data.list',
    'data.list.*.audience_details.audience_id',
    'data.list.*.audience_details.name',
    'data.list.*.audience_details.is_valid',
    'data.list.*.audience_history',
  ],
  // §4.1 create → data.audience_id.
  'segment/audience/': ['data.audience_id'],
  // §10.2: rows of {dimensions, metrics} with the columns asked for, plus page_info.
  'report/integrated/get/': [
    'data.list',
    'data.list.*.dimensions.*',
    'data.list.*.metrics.*',
    'data.page_info.page',
    'data.page_info.page_size',
    'data.page_info.total_number',
    'data.page_info.total_page',
  ],
};

/** Added to every object of a sparse answer; its value is an object, so a strict map of strings fails too. */
export const EXTRA_FIELD = 'x_emulator_extra';
const EXTRA_VALUE = { note: 'unknown field added by the emulator (sparse answers)' };

const split = (p: string) => p.split('.');

function matches(pattern: readonly string[], path: readonly string[], prefixOnly: boolean): boolean {
  if (prefixOnly ? pattern.length < path.length : pattern.length !== path.length) return false;
  return path.every((seg, i) => pattern[i] === '*' || pattern[i] === seg);
}

/** FNV-1a: the same field of the same endpoint is always treated the same way. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Whether a field not always sent is dropped (true) or sent as null (false): a hash of the
 * endpoint and the field's path with indices generalised, so both cases occur across the
 * fields of an answer and the same field always gets the same one.
 */
export function dropsField(endpoint: string, path: readonly string[]): boolean {
  return (hash(`${endpoint} ${path.map((s) => (/^\d+$/.test(s) ? '*' : s)).join('.')}`) & 1) === 1;
}

/** The sparse version of one answer body (envelope included) of `endpoint` (e.g. `dmp/custom_audience/get/`). */
export function sparseAnswer(endpoint: string, body: unknown): unknown {
  const patterns = [...(ALWAYS_SENT['*'] ?? []), ...(ALWAYS_SENT[endpoint] ?? [])].map(split);
  // A field is kept when it is always sent, or holds one that is (its container must exist).
  const kept = (path: readonly string[]) => patterns.some((p) => matches(p, path, true));
  const walk = (value: unknown, path: string[]): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)]));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const p = [...path, k];
      if (kept(p)) out[k] = walk(v, p);
      else if (!dropsField(endpoint, p)) out[k] = null;
    }
    out[EXTRA_FIELD] = { ...EXTRA_VALUE };
    return out;
  };
  return walk(body, []);
}
