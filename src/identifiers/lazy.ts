import type * as PhoneLib from 'libphonenumber-js';

/*
 * libphonenumber-js, loaded on first use: its metadata takes about 50 ms to load, which
 * `ttsync ids normalize` of emails, MAIDs or external ids never needs (it answers its first
 * line that much sooner). Whatever needs it gets the one module, loaded once.
 */

let lib: typeof PhoneLib | undefined;

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a static import would load it at start-up (above)
export const phoneLib = (): typeof PhoneLib => (lib ??= require('libphonenumber-js') as typeof PhoneLib);
