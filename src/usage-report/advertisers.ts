import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, parseJsonText, zodProblems } from '../config/errors';
import { ThirdPartyDestinationSchema, UsageReportSettingsSchema, type ThirdPartyDestination } from '../marketplace/dataMarketplace';
import type { UsageAdvertiser } from './messages';
import { checkTimeZone } from './zone';

/*
 * Which advertisers get a usage report, and with what: read from the audience destination
 * configs (a file, or every *.json of a folder), through the kernel's Data Marketplace view of
 * them (src/marketplace/dataMarketplace.ts). Files without `dataMarketplace` are first-party
 * destinations and are skipped. One report per advertiser covers all its 3PD destinations,
 * so their report settings and token must agree.
 */

export class UsageConfigError extends ConfigError {
  override name = 'UsageConfigError';
}

async function jsonFiles(fileOrDir: string): Promise<string[]> {
  const st = await stat(fileOrDir).catch(() => undefined);
  if (!st) throw new UsageConfigError(`invalid destination configs ${fileOrDir}:\n  $: no such file or folder`);
  if (!st.isDirectory()) return [fileOrDir];
  const files = (await readdir(fileOrDir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(fileOrDir, f));
  if (files.length === 0) throw new UsageConfigError(`invalid destination configs ${fileOrDir}:\n  $: the folder holds no .json destination configs`);
  return files;
}

/** The 3PD destinations of the files, each validated by the kernel contract; every problem of every file at once. */
export async function loadThirdPartyDestinations(fileOrDir: string): Promise<ThirdPartyDestination[]> {
  const out: ThirdPartyDestination[] = [];
  const errors: string[] = [];
  for (const file of await jsonFiles(fileOrDir)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push(`invalid destination config ${file}:\n  $: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      errors.push(`invalid destination config ${file}:\n  ${parsed.problem.path}: ${parsed.problem.message}`);
      continue;
    }
    const v = parsed.value as { dataMarketplace?: unknown } | null;
    if (typeof v !== 'object' || v === null || v.dataMarketplace === undefined) continue;
    const r = ThirdPartyDestinationSchema.safeParse(v);
    if (!r.success) errors.push(`invalid destination config ${file}:\n${zodProblems(r.error).map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    else out.push(r.data);
  }
  if (errors.length) throw new UsageConfigError(errors.join('\n'));
  return out;
}

const settingsKey = (d: ThirdPartyDestination) => {
  const s = UsageReportSettingsSchema.parse(d.dataMarketplace.report ?? {});
  return { settings: s, key: JSON.stringify([d.accessToken, d.appId ?? null, s]) };
};

/** One UsageAdvertiser per advertiser of the 3PD destinations, segments sorted by destination id. */
export function groupByAdvertiser(destinations: readonly ThirdPartyDestination[]): UsageAdvertiser[] {
  const byAdvertiser = new Map<string, ThirdPartyDestination[]>();
  for (const d of destinations) byAdvertiser.set(d.advertiserId, [...(byAdvertiser.get(d.advertiserId) ?? []), d]);
  const errors: string[] = [];
  const out: UsageAdvertiser[] = [];
  for (const [advertiserId, group] of [...byAdvertiser].sort(([a], [b]) => a.localeCompare(b))) {
    group.sort((a, b) => a.destinationId.localeCompare(b.destinationId));
    const first = settingsKey(group[0]!);
    const odd = group.filter((d) => settingsKey(d).key !== first.key);
    if (odd.length) {
      errors.push(
        `advertiser ${advertiserId}: its 3PD destinations ${group.map((d) => `"${d.destinationId}"`).join(', ')} share one monthly report, so their accessToken, appId and dataMarketplace.report must be the same; ` +
          `${odd.map((d) => `"${d.destinationId}"`).join(', ')} ${odd.length === 1 ? 'differs' : 'differ'} from "${group[0]!.destinationId}"`,
      );
      continue;
    }
    const s = first.settings;
    try {
      checkTimeZone(s.timeZone);
    } catch {
      errors.push(`advertiser ${advertiserId}: dataMarketplace.report.timeZone "${s.timeZone}" is not a time zone this runtime knows (IANA names such as "America/New_York")`);
      continue;
    }
    out.push({
      advertiserId,
      accessToken: group[0]!.accessToken,
      ...(group[0]!.appId ? { appId: group[0]!.appId } : {}),
      timeZone: s.timeZone,
      dayOfMonth: s.dayOfMonth,
      hour: s.hour,
      settle: s.settle,
      ...(s.storage ? { storage: s.storage } : {}),
      ...(s.webhook ? { webhook: s.webhook } : {}),
      segments: group.map((d) => ({
        destinationId: d.destinationId,
        sourceSegmentId: d.sourceSegmentId,
        ...(d.audienceId ? { audienceId: d.audienceId } : {}),
        providerId: d.dataMarketplace.providerId,
        segmentId: d.dataMarketplace.segmentId,
        pricePercent: d.dataMarketplace.pricePercent,
        currency: d.dataMarketplace.currency,
        reportingContacts: d.dataMarketplace.reportingContacts,
      })),
    });
  }
  if (errors.length) throw new UsageConfigError(errors.join('\n'));
  return out;
}

/** The advertisers of a file or folder of destination configs (the schedules and the CLI read them so). */
export async function loadUsageAdvertisers(fileOrDir: string): Promise<UsageAdvertiser[]> {
  return groupByAdvertiser(await loadThirdPartyDestinations(fileOrDir));
}
