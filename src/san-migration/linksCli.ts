import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../config/errors';
import { isStorageError, StoredJsonError, readJsonObject } from '../storage';
import { LinkTemplateSchema, trackingLinks, type LinkTemplate } from './links';
import { defaultSanStoreUri, openSanStores } from './stores';

/*
 * `ttsync links create --app <id>`: the app's TikTok tracking links from the MMP's link
 * template (`--template file`, else `link-template.json` in the SAN store) and the app's
 * ids from the partner-config store.
 */

export const LINK_TEMPLATE_KEY = 'link-template.json';

async function loadTemplate(file: string | undefined, storeUri: string): Promise<LinkTemplate> {
  if (file) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : `not a JSON file (${(err as Error).message})`}`);
    }
    const r = LinkTemplateSchema.safeParse(doc);
    if (!r.success) throw new UsageError(r.error.issues.map((i) => `${file}: $${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`).join('\n'));
    return r.data;
  }
  const { files } = openSanStores(storeUri);
  try {
    return await readJsonObject(files, LINK_TEMPLATE_KEY, LinkTemplateSchema);
  } catch (err) {
    if (isStorageError(err, 'not_found')) throw new UsageError(`no link template: give --template <file>, or put one at ${files.uriOf(LINK_TEMPLATE_KEY)}`);
    if (err instanceof StoredJsonError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerLinksCommand(program: Command, summary: string): void {
  const links = program.command('links').description(summary);
  links
    .command('create')
    .description("Print an app's click-through and view-through URLs for TikTok, with TikTok's macros in the MMP's parameters")
    .requiredOption('--app <appId>', "the MMP's app id, as imported with ttsync san import")
    .option('--reengagement', 're-engagement (retargeting) links: they carry the template\'s re-engagement flag')
    .option('--template <file>', `the MMP's link template (default: ${LINK_TEMPLATE_KEY} in the SAN store)`)
    .option('--store <uri>', 'the SAN store folder (default: TTSYNC_SAN_STORE, else <data dir>/san)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { app: string; reengagement?: boolean; template?: string; store?: string; json?: boolean }) => {
      const storeUri = opts.store ?? defaultSanStoreUri();
      const template = await loadTemplate(opts.template, storeUri);
      const { config } = openSanStores(storeUri);
      for (const accountId of await config.listAccountIds()) {
        const app = (await config.getAccount(accountId))?.value.apps.find((a) => a.appId === opts.app);
        if (!app) continue;
        const l = trackingLinks(template, app, { reengagement: Boolean(opts.reengagement) });
        if (opts.json) process.stdout.write(JSON.stringify({ accountId, ...l }) + '\n');
        else {
          process.stdout.write(`click-through: ${l.clickThroughUrl}\nview-through:  ${l.viewThroughUrl}\n`);
          if (l.unconfirmedMacros.length) process.stderr.write(`note: ${l.unconfirmedMacros.join(', ')} UNCONFIRMED as TikTok macros (README, tracking links)\n`);
        }
        return;
      }
      throw new UsageError(`no app ${opts.app} in the partner-config store ${config.location}: import it with ttsync san import --accounts <file>`);
    });
}
