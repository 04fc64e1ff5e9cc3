import { CALCULATE_TYPES, ID_SCHEMAS } from '../tiktok/types';
import { DigestSet, isHexDigest, keyFromHex, KEY_BYTES } from './digestSet';
import { FileIngest } from './fileIngest';
import { boundaryOf, MultipartError, readMultipart, type PartSink } from './multipart';
import type { Population } from './population';
import { tiktokTime, type AudienceRec, type FileRec } from './state';
import {
  ApiError,
  optInt,
  optString,
  paramError,
  reqString,
  requireAdvertiser,
  stringArray,
  type Ctx,
} from './context';

const DAY = 86_400_000;
const NOT_EDITABLE = 'Audience is not editable, please check audience status';

/** MAID_* are upload aliases of FIRST_* (same internal value, digest §3.1). */
const canonicalType = (t: string) => t.replace(/^MAID_/, 'FIRST_');
const widthOf = (t: string): 32 | 64 | 'any' => (t === 'MULTIPLE_TYPES' ? 'any' : t.endsWith('_MD5') ? 32 : 64);

function checkCalculateType(t: string | undefined): string {
  if (!t || !(CALCULATE_TYPES as readonly string[]).includes(t)) {
    throw new ApiError(40909, `calculate_type ${t ?? '(missing)'} is not supported. Use one of ${CALCULATE_TYPES.join(', ')}.`);
  }
  return t;
}

// ---------------------------------------------------------------- presentation

export function audienceView(a: AudienceRec, now: number, forGet: boolean) {
  const processing = now < a.processingUntil;
  const expiresAt = a.retentionDays !== null ? a.createdAt + a.retentionDays * DAY : a.modifiedAt + 365 * DAY;
  const expired = now >= expiresAt;
  const v = {
    audience_id: a.id,
    name: a.name,
    audience_sub_type: a.subType,
    calculate_type: a.calculateType,
    cover_num: processing ? a.coverNum : a.pendingCoverNum,
    shared: false,
    is_creator: true,
    owner_id: a.advertiserId,
    is_valid: !processing && !expired,
    is_expiring: !expired && expiresAt - now < 60 * DAY,
    is_auto_refresh: false,
    msg: processing ? 'Calculating' : a.lastMsg,
    error_msg: null,
    create_time: tiktokTime(a.createdAt),
    expired_time: tiktokTime(expiresAt),
    rule: null,
  };
  // list calls it audience_type, get calls it type (digest §3.4).
  return forGet ? { ...v, type: a.type } : { ...v, audience_type: a.type };
}

function finishProcessingIfDue(a: AudienceRec, now: number): void {
  if (now >= a.processingUntil) a.coverNum = a.pendingCoverNum;
}

function ownAudience(ctx: Ctx, advertiserId: string, id: string, type?: string): AudienceRec {
  const a = ctx.state.audiences.get(id);
  if (!a || a.advertiserId !== advertiserId || (type && a.type !== type)) {
    throw paramError(type === 'Partner' ? 'Parameter error: invalid audience ID' : `custom_audience_id: audience ${id} does not exist.`);
  }
  finishProcessingIfDue(a, ctx.now);
  return a;
}

function countAudiences(ctx: Ctx, advertiserId: string): number {
  let n = 0;
  for (const a of ctx.state.audiences.values()) if (a.advertiserId === advertiserId) n++;
  return n;
}

function checkAudienceCap(ctx: Ctx, advertiserId: string): void {
  if (countAudiences(ctx, advertiserId) >= ctx.opts.maxAudiencesPerAdvertiser) {
    throw paramError(
      `The number of custom audiences of advertiser ${advertiserId} has reached the limit of ${ctx.opts.maxAudiencesPerAdvertiser}.`,
    );
  }
}

function history(a: AudienceRec, now: number, action: string, detail: number, msg: string | null): void {
  a.history.push({ opt_time: tiktokTime(now), action, action_detail: String(detail), editor: 'open_api', msg });
}

// ---------------------------------------------------------------- file upload

export async function uploadFile(ctx: Ctx): Promise<unknown> {
  const boundary = boundaryOf(ctx.req.headers['content-type']);
  if (!/^multipart\/form-data/i.test(ctx.req.headers['content-type'] ?? '') || !boundary) {
    ctx.req.resume();
    throw paramError('Content-Type must be multipart/form-data.');
  }
  const fields: Record<string, string> = {};
  let ingest: FileIngest | undefined;
  let fileName: string | undefined;
  try {
    await readMultipart(ctx.req, boundary, (info): PartSink => {
      if (info.filename !== undefined && info.name === 'file') {
        fileName = info.filename;
        ingest = new FileIngest(ctx.opts.maxFileBytes, ctx.opts.headerRow);
        return ingest;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      return {
        write: (c) => {
          size += c.length;
          if (size <= 64 * 1024) chunks.push(c);
        },
        end: () => {
          fields[info.name] = Buffer.concat(chunks).toString('utf8');
        },
      };
    });
  } catch (err) {
    if (err instanceof MultipartError) throw paramError(`Malformed multipart body: ${err.message}`);
    throw err;
  }

  const advertiserId = fields.advertiser_id;
  if (!advertiserId) throw paramError('advertiser_id: Missing data for required field.');
  requireAdvertiser(ctx, advertiserId);
  const calculateType = checkCalculateType(fields.calculate_type);
  if (!ingest || fileName === undefined) throw paramError('file: Missing data for required field.');
  const name = fields.file_name ?? fields.name ?? fileName;
  if (!/\.(csv|txt)$/.test(fileName) || !/\.(csv|txt)$/.test(name)) {
    throw new ApiError(40908, `File type not supported: ${fileName}. Only .csv and .txt files are accepted.`);
  }
  const r = ingest.result;
  if (r.tooLarge) throw new ApiError(40907, `File is too large: the limit is ${ctx.opts.maxFileBytes} bytes.`);
  const signature = fields.file_signature;
  if (!signature) throw paramError('file_signature: Missing data for required field.');
  if (signature.toLowerCase() !== r.md5) {
    throw new ApiError(40900, 'File signature verification failed: file_signature must be the MD5 of the file.');
  }
  if (r.bytes === 0 || r.rows === 0) throw new ApiError(40906, 'File is empty.');
  if (ctx.opts.headerRow === 'required' && r.firstLineIsDigest) {
    throw new ApiError(40915, 'File does not meet the specification: the first line must be a header row.');
  }
  // Digests of the wrong width for calculate_type are rows TikTok cannot use.
  const width = widthOf(calculateType);
  let invalid = r.invalidRows;
  if (width !== 'any' && (width === 32 ? r.sha256Width : r.md5Width) > 0) {
    const wrong: Buffer[] = [];
    r.ids.forEach((k, off) => {
      let md5 = true;
      for (let i = 16; i < KEY_BYTES; i++) if (k[off + i] !== 0) md5 = false;
      if (md5 !== (width === 32)) wrong.push(Buffer.from(k.subarray(off, off + KEY_BYTES)));
    });
    for (const k of wrong) r.ids.delete(k);
    invalid += width === 32 ? r.sha256Width : r.md5Width;
  }
  if (r.ids.size === 0) {
    throw new ApiError(40914, `File is invalid: no identifier of calculate_type ${calculateType} found.`);
  }
  // Expired files are unusable (40910 only needs the path's metadata), so free their id sets.
  for (const f of ctx.state.files.values()) if (ctx.now >= f.expiresAt) f.ids = new DigestSet(0);
  const path = ctx.state.newFilePath();
  const rec: FileRec = {
    path,
    advertiserId,
    calculateType,
    ids: r.ids,
    rows: r.rows,
    invalidRows: invalid,
    bytes: r.bytes,
    createdAt: ctx.now,
    expiresAt: ctx.now + ctx.opts.fileTtl,
  };
  ctx.state.files.set(path, rec);
  ctx.markDirty();
  return { file_path: path };
}

/** Resolves file_paths for create/update: ownership (40905), expiry (40910), type match. */
function resolveFiles(ctx: Ctx, advertiserId: string, calculateType: string): FileRec[] {
  const paths = stringArray(ctx, 'file_paths', 1, ctx.opts.maxFilesPerAudience)!;
  return paths.map((p) => {
    const f = ctx.state.files.get(p);
    // Another advertiser's path looks exactly like a missing one.
    if (!f || f.advertiserId !== advertiserId) throw new ApiError(40905, `File does not exist: ${p}`);
    if (ctx.now >= f.expiresAt) throw new ApiError(40910, `File has expired: ${p}`);
    if (canonicalType(f.calculateType) !== canonicalType(calculateType)) {
      throw paramError(`calculate_type of file ${p} (${f.calculateType}) does not match the audience (${calculateType}).`);
    }
    return f;
  });
}

function invalidRowsMsg(files: FileRec[]): string | null {
  const n = files.reduce((s, f) => s + f.invalidRows, 0);
  return n ? `${n} rows could not be parsed and were skipped` : null;
}

// ---------------------------------------------------------------- dmp/custom_audience

export function createAudience(ctx: Ctx, pop: Population): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const name = reqString(ctx, 'custom_audience_name');
  if (name.length > 128) throw paramError('custom_audience_name: Length must be between 1 and 128.');
  const calculateType = checkCalculateType(optString(ctx, 'calculate_type'));
  const retention = optInt(ctx, 'retention_in_days', 1, 365) ?? null;
  const subType = optString(ctx, 'audience_sub_type') ?? 'NORMAL';
  if (subType !== 'NORMAL' && subType !== 'REACH_FREQUENCY') {
    throw paramError('audience_sub_type: Must be one of NORMAL, REACH_FREQUENCY.');
  }
  const files = resolveFiles(ctx, advertiserId, calculateType);
  checkAudienceCap(ctx, advertiserId);

  const ids = new DigestSet(files.reduce((s, f) => s + f.ids.size, 0));
  for (const f of files) f.ids.forEach((k, off) => ids.add(k, off));
  const a: AudienceRec = {
    id: ctx.state.newAudienceId(),
    advertiserId,
    name,
    type: 'Customer File Audience',
    subType,
    calculateType,
    ids,
    createdAt: ctx.now,
    modifiedAt: ctx.now,
    retentionDays: retention,
    processingUntil: ctx.now + ctx.opts.processingDelay,
    coverNum: 0,
    pendingCoverNum: pop.count(ids),
    history: [],
    lastMsg: invalidRowsMsg(files),
  };
  history(a, ctx.now, 'create', ids.size, a.lastMsg);
  ctx.state.audiences.set(a.id, a);
  ctx.markDirty();
  return { custom_audience_id: a.id };
}

export function updateAudience(ctx: Ctx, pop: Population): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const a = ownAudience(ctx, advertiserId, reqString(ctx, 'custom_audience_id'));
  if (a.type !== 'Customer File Audience') throw paramError('Only customer file audiences can be updated here.');
  const subType = optString(ctx, 'audience_sub_type');
  const name = optString(ctx, 'custom_audience_name');
  const hasFiles = ctx.body.file_paths !== undefined;
  if (subType === undefined && name === undefined && !hasFiles) {
    throw paramError('Either custom_audience_name or file_paths is required.');
  }
  if (ctx.now < a.processingUntil) throw paramError(NOT_EDITABLE);

  if (subType !== undefined) {
    // Only NORMAL → REACH_FREQUENCY; when passed, the other changes are ignored (digest §3.3).
    if (subType !== 'REACH_FREQUENCY' || a.subType !== 'NORMAL') {
      throw paramError('audience_sub_type: can only change from NORMAL to REACH_FREQUENCY.');
    }
    a.subType = subType;
    a.modifiedAt = ctx.now;
    history(a, ctx.now, 'modify', 0, 'audience_sub_type REACH_FREQUENCY');
    ctx.markDirty();
    return {};
  }
  if (name !== undefined && (name.length < 1 || name.length > 128)) {
    throw paramError('custom_audience_name: Length must be between 1 and 128.');
  }
  if (hasFiles) {
    const action = optString(ctx, 'action') ?? 'REPLACE';
    if (!['APPEND', 'REMOVE', 'REPLACE'].includes(action)) {
      throw paramError('action: Must be one of APPEND, REMOVE, REPLACE.');
    }
    const files = resolveFiles(ctx, advertiserId, a.calculateType);
    // Size after the operation first: a refused edit must leave the audience untouched.
    let affected = 0;
    let next: DigestSet | undefined;
    let newSize: number;
    if (action === 'REPLACE') {
      next = new DigestSet(files.reduce((s, f) => s + f.ids.size, 0));
      for (const f of files) f.ids.forEach((k, off) => next!.add(k, off));
      newSize = next.size;
      affected = newSize;
    } else {
      const seen = new DigestSet();
      for (const f of files) {
        f.ids.forEach((k, off) => {
          if (!seen.add(k, off)) return;
          if (a.ids.has(k, off) === (action === 'REMOVE')) affected++;
        });
      }
      newSize = action === 'APPEND' ? a.ids.size + affected : a.ids.size - affected;
    }
    if (newSize < ctx.opts.minAudienceSize) {
      throw paramError(
        `Audience size after ${action} would be ${newSize}, below the minimum of ${ctx.opts.minAudienceSize}. The audience was not changed.`,
      );
    }
    if (next) {
      a.ids = next;
      a.pendingCoverNum = pop.count(next);
    } else {
      for (const f of files) {
        f.ids.forEach((k, off) => {
          const changed = action === 'APPEND' ? a.ids.add(k, off) : a.ids.delete(k, off);
          if (changed && pop.has(k, off)) a.pendingCoverNum += action === 'APPEND' ? 1 : -1;
        });
      }
    }
    a.lastMsg = invalidRowsMsg(files);
    history(a, ctx.now, action.toLowerCase(), affected, a.lastMsg);
    a.processingUntil = ctx.now + ctx.opts.processingDelay;
  }
  if (name !== undefined) {
    a.name = name;
    history(a, ctx.now, 'rename', 0, null);
  }
  a.modifiedAt = ctx.now;
  ctx.markDirty();
  return {};
}

export function listAudiences(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const ids = stringArray(ctx, 'custom_audience_ids', 1, 100, false);
  const page = optInt(ctx, 'page', 1, 1_000_000) ?? 1;
  const pageSize = optInt(ctx, 'page_size', 1, 100) ?? 10;
  const all = [...ctx.state.audiences.values()]
    .filter((a) => a.advertiserId === advertiserId && (!ids || ids.includes(a.id)))
    .sort((x, y) => y.createdAt - x.createdAt || (y.id > x.id ? 1 : -1));
  all.forEach((a) => finishProcessingIfDue(a, ctx.now));
  return {
    list: all.slice((page - 1) * pageSize, page * pageSize).map((a) => audienceView(a, ctx.now, false)),
    page_info: { page, page_size: pageSize, total_number: all.length, total_page: Math.ceil(all.length / pageSize) },
  };
}

export function getAudiences(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const ids = stringArray(ctx, 'custom_audience_ids', 1, 100)!;
  const historySize = optInt(ctx, 'history_size', 1, 100) ?? 100;
  return {
    list: ids.map((id) => {
      const a = ownAudience(ctx, advertiserId, id);
      return {
        audience_details: audienceView(a, ctx.now, true),
        // Most recent first.
        audience_history: a.history.slice(-historySize).reverse(),
      };
    }),
  };
}

export function deleteAudiences(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const ids = stringArray(ctx, 'custom_audience_ids', 1, 100)!;
  for (const id of ids) ownAudience(ctx, advertiserId, id);
  for (const id of ids) ctx.state.audiences.delete(id);
  ctx.markDirty();
  return {};
}

// ---------------------------------------------------------------- segment API

export function segmentAudience(ctx: Ctx): unknown {
  const advertiserId = reqString(ctx, 'advertiser_id');
  requireAdvertiser(ctx, advertiserId);
  const action = optString(ctx, 'action') ?? 'create';
  if (action === 'delete') {
    const id = reqString(ctx, 'delete_audience_id');
    ownAudience(ctx, advertiserId, id, 'Partner');
    ctx.state.audiences.delete(id);
    ctx.markDirty();
    return {};
  }
  if (action !== 'create') throw paramError('action: Must be one of create, delete.');
  let name = reqString(ctx, 'custom_audience_name');
  if (name.length > 70) name = `${name.slice(0, 67)}...`;
  checkAudienceCap(ctx, advertiserId);
  const a: AudienceRec = {
    id: ctx.state.newAudienceId(),
    advertiserId,
    name,
    type: 'Partner',
    subType: 'NORMAL',
    calculateType: 'MULTIPLE_TYPES',
    ids: new DigestSet(),
    createdAt: ctx.now,
    modifiedAt: ctx.now,
    retentionDays: null,
    processingUntil: ctx.now + ctx.opts.processingDelay,
    coverNum: 0,
    pendingCoverNum: 0,
    history: [],
    lastMsg: null,
  };
  history(a, ctx.now, 'create', 0, null);
  ctx.state.audiences.set(a.id, a);
  ctx.markDirty();
  return { audience_id: a.id };
}

export function segmentMapping(ctx: Ctx, pop: Population): unknown {
  const advertiserIds = stringArray(ctx, 'advertiser_ids', 1, 100)!;
  for (const id of advertiserIds) requireAdvertiser(ctx, id);
  const action = optString(ctx, 'action') ?? 'add';
  if (action !== 'add' && action !== 'delete') throw paramError('action: Must be one of add, delete.');
  const schemaRaw = ctx.body.id_schema;
  if (!Array.isArray(schemaRaw) || schemaRaw.length === 0 || !schemaRaw.every((s) => typeof s === 'string')) {
    throw paramError('id_schema: Missing data for required field.');
  }
  const schema = (schemaRaw as string[]).map((s) => s.toUpperCase());
  for (const s of schema) {
    if (!(ID_SCHEMAS as readonly string[]).includes(s)) {
      throw paramError(`id_schema: ${s} is not one of ${ID_SCHEMAS.join(', ')}.`);
    }
  }
  if (new Set(schema).size !== schema.length) throw paramError('id_schema: Duplicate values are not allowed.');
  const batch = ctx.body.batch_data;
  if (!Array.isArray(batch) || batch.length === 0) throw paramError('batch_data: Missing data for required field.');
  if (batch.length > ctx.opts.segmentMaxRows) {
    throw paramError(`batch_data: Length must be between 1 and ${ctx.opts.segmentMaxRows}.`);
  }
  // Validate everything first: the request is applied whole or not at all.
  const ops: Array<{ audience: AudienceRec; hex: string }> = [];
  batch.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== schema.length) {
      throw paramError(`batch_data.${i}: must have one entry per id_schema item (${schema.length}); use {} for a missing id.`);
    }
    row.forEach((cell, j) => {
      if (typeof cell !== 'object' || cell === null || Array.isArray(cell)) {
        throw paramError(`batch_data.${i}.${j}: Not a valid object.`);
      }
      const c = cell as { id?: unknown; audience_ids?: unknown };
      if (c.id === undefined && c.audience_ids === undefined) return; // {} keeps the slot
      const want = schema[j]!.endsWith('_MD5') ? 32 : 64;
      if (typeof c.id !== 'string' || !isHexDigest(c.id) || c.id.length !== want) {
        throw paramError(`batch_data.${i}.${j}.id: must be a ${schema[j]} hex digest.`);
      }
      if (!Array.isArray(c.audience_ids) || c.audience_ids.length === 0) {
        throw paramError(`batch_data.${i}.${j}.audience_ids: Missing data for required field.`);
      }
      for (const aid of c.audience_ids) {
        const a = ctx.state.audiences.get(String(aid));
        if (!a || a.type !== 'Partner' || !advertiserIds.includes(a.advertiserId)) {
          throw paramError('Parameter error: invalid audience ID');
        }
        ops.push({ audience: a, hex: c.id });
      }
    });
  });
  const key = Buffer.alloc(KEY_BYTES);
  const touched = new Set<AudienceRec>();
  for (const { audience: a, hex } of ops) {
    keyFromHex(hex, key);
    const changed = action === 'add' ? a.ids.add(key) : a.ids.delete(key);
    if (changed && pop.has(key)) a.pendingCoverNum += action === 'add' ? 1 : -1;
    touched.add(a);
  }
  for (const a of touched) {
    a.modifiedAt = ctx.now;
    finishProcessingIfDue(a, ctx.now);
  }
  if (ops.length) ctx.markDirty();
  return {};
}
