import { describe, expect, it } from 'vitest';
import {
  IdentifierNormalizer,
  normalizeIdentifier,
  targetOfType,
  type IdentifierTarget,
  type NormalizationOptions,
} from '../../../src/identifiers';

// Every expected digest below was computed outside this code, with
// `printf %s '<normalized value>' | sha256sum` (or md5sum), and pasted as a literal.

const EMAIL: IdentifierTarget = { kind: 'email', hash: 'sha256' };
const PHONE: IdentifierTarget = { kind: 'phone', hash: 'sha256' };
const MAID: IdentifierTarget = { kind: 'maid', hash: 'sha256' };
const MAID_MD5: IdentifierTarget = { kind: 'maid', hash: 'md5' };
const EXT: IdentifierTarget = { kind: 'external_id', hash: 'sha256' };
const AUD: NormalizationOptions = { context: 'audience' };
const EVT: NormalizationOptions = { context: 'events' };

function run(raw: string, target: IdentifierTarget, opts: NormalizationOptions, rowCountry?: string) {
  return normalizeIdentifier(raw, target, opts, rowCountry);
}

describe('email', () => {
  it('audience: strips whitespace, lowercases, drops +suffix, keeps dots (identifiers.md example)', () => {
    expect(run(' Jane.Doe+promo@Example.COM ', EMAIL, AUD)).toEqual({
      outcome: 'hashed',
      normalized: 'jane.doe@example.com',
      hash: '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d',
    });
  });

  it('events: keeps the +suffix (identifiers.md example)', () => {
    expect(run(' Jane.Doe+promo@Example.COM ', EMAIL, EVT)).toEqual({
      outcome: 'hashed',
      normalized: 'jane.doe+promo@example.com',
      hash: 'c3374bcfe3572e09f37602e0e179782352c5e117a4a3767824abbaa21bbdef8b',
    });
  });

  it("TikTok help-center customer-file example janedoe@gmail.com", () => {
    expect(run('janedoe@gmail.com', EMAIL, AUD).hash).toBe(
      'd6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69',
    );
  });

  it('TikTok Events API example " ALICE_abc@gmail.com "', () => {
    expect(run(' ALICE_abc@gmail.com ', EMAIL, EVT)).toEqual({
      outcome: 'hashed',
      normalized: 'alice_abc@gmail.com',
      hash: '848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f',
    });
  });

  it('removes inner whitespace of every kind, not only at the ends', () => {
    for (const raw of ['jo hn@ex ample.com', '\tJOHN@example.com\r\n', 'john@\u00a0example.com', ' j o h n @ e x a m p l e . c o m ']) {
      expect(run(raw, EMAIL, EVT), raw).toEqual({
        outcome: 'hashed',
        normalized: 'john@example.com',
        hash: '855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4',
      });
    }
  });

  it('applies Unicode NFC before hashing (decomposed é becomes one code point)', () => {
    const composed = 'b0a53cf19e34d05b57bced7365c6b00ddbe38d62957e863de2a66a56c3b42cea'; // printf 'jos\xc3\xa9@example.com'
    expect(run('Jose\u0301@Example.com', EMAIL, AUD)).toEqual({ outcome: 'hashed', normalized: 'jos\u00e9@example.com', hash: composed });
    expect(run('jos\u00e9@example.com', EMAIL, AUD).hash).toBe(composed);
  });

  it('accepts letters beyond ASCII in domain labels', () => {
    expect(run('User@Bücher.de', EMAIL, AUD).hash).toBe('a6667ab428f538753ae2bcb430005815a8dc028d87c4d53fe5ef7015a7a8e671');
  });

  it('+ only in the local part is a suffix; a local part that is only a suffix is invalid in audience', () => {
    expect(run('+promo@example.com', EMAIL, AUD).outcome).toBe('invalid_email');
    expect(run('+promo@example.com', EMAIL, EVT)).toEqual({
      outcome: 'hashed',
      normalized: '+promo@example.com',
      hash: '816e4ace216c93664afdcc4ebf2721f8cee115f9f68db5634fc3b4364e2ca6eb',
    });
  });

  it('rejects malformed addresses with invalid_email', () => {
    const bad = [
      'no-at-sign.example.com',
      'a@b@example.com',
      '@example.com',
      'john@example',
      'john@-example.com',
      'john@example-.com',
      'john@ex..com',
      'john@.example.com',
      'john@example.com.',
      'john@example.c',
      'john@example.c0m',
      'john@example.123',
      'john@ex_ample.com',
      'john@exa!mple.com',
      'john@a-.co',
      'john@a.c-o',
      'john@a.co-',
      'john@a.-co',
      'john@example.com\u00ad', // soft hyphen is not a letter
      `${'a'.repeat(65)}@example.com`,
      `john@${'a'.repeat(246)}.com`, // 255 characters
    ];
    for (const raw of bad) {
      expect(run(raw, EMAIL, AUD).outcome, raw).toBe('invalid_email');
      expect(run(raw, EMAIL, EVT).outcome, raw).toBe('invalid_email');
    }
  });

  it('accepts the limits themselves: 64-character local part, 254-character address, hyphenated labels', () => {
    expect(run(`${'a'.repeat(64)}@example.com`, EMAIL, AUD).outcome).toBe('hashed');
    const at254 = `john@${'a'.repeat(245)}.com`;
    expect(at254.length).toBe(254);
    expect(run(at254, EMAIL, AUD).outcome).toBe('hashed');
    expect(run('john@mail-1.ex-ample.co.uk', EMAIL, AUD).outcome).toBe('hashed');
    expect(run('john@1.2.3.com', EMAIL, AUD).outcome).toBe('hashed');
    expect(run('j@a.b.co', EMAIL, AUD).outcome).toBe('hashed');
    expect(run('j@xn--bcher-kva.de', EMAIL, AUD).outcome).toBe('hashed');
  });

  it('the local-part limit applies after the +suffix is dropped (audience) and before it (events)', () => {
    const raw = `${'a'.repeat(60)}+${'b'.repeat(10)}@example.com`;
    expect(run(raw, EMAIL, AUD).outcome).toBe('hashed');
    expect(run(raw, EMAIL, EVT).outcome).toBe('invalid_email');
  });
});

describe('phone', () => {
  it('audience: TikTok customer-file example hashes E.164 digits without the +', () => {
    expect(run('+374 93 828222', PHONE, AUD)).toEqual({
      outcome: 'hashed',
      normalized: '37493828222',
      hash: '65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4',
    });
    expect(run('093828222', PHONE, { context: 'audience', defaultCountry: 'AM' }).hash).toBe(
      '65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4',
    );
  });

  it('audience with phoneFormat "e164" keeps the +', () => {
    expect(run('+37493828222', PHONE, { context: 'audience', phoneFormat: 'e164' })).toEqual({
      outcome: 'hashed',
      normalized: '+37493828222',
      hash: '241371e614f8650dfae0f111361c69de1bb4829a72b71bb8044daae8b2e7791d',
    });
  });

  it('events: TikTok example "(+1)2133734253" hashes +12133734253', () => {
    expect(run('(+1)2133734253', PHONE, EVT)).toEqual({
      outcome: 'hashed',
      normalized: '+12133734253',
      hash: '9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd',
    });
  });

  it('full-width digits and plus (East Asian input) parse like ASCII ones', () => {
    expect(run('\uff0b1 213 373 4253', PHONE, EVT).hash).toBe('9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd');
    expect(run('\uff12\uff11\uff133734253', PHONE, { context: 'events', defaultCountry: 'US' }).hash).toBe(
      '9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd',
    );
  });

  it('events ignores phoneFormat: the + is always hashed', () => {
    expect(run('+1 213 373 4253', PHONE, { context: 'events', phoneFormat: 'digits' }).normalized).toBe('+12133734253');
  });

  it('national numbers use the destination default country', () => {
    expect(run('(213) 373-4253', PHONE, { context: 'audience', defaultCountry: 'US' })).toEqual({
      outcome: 'hashed',
      normalized: '12133734253',
      hash: '1f81adb30e11317806be982cc82769fbf8627833a89dd87cb24d282f71828830',
    });
    // TikTok's own customer-file example: (657)777-0000 -> 16577770000
    expect(run('(657)777-0000', PHONE, { context: 'audience', defaultCountry: 'US' }).hash).toBe(
      '8d7bdaaf75196f351d22942fc0dd79304ffabc3eaf3339460ef9da0773e3aec2',
    );
  });

  it("the row's country wins over the default; an empty row country falls back to the default", () => {
    const opts: NormalizationOptions = { context: 'audience', defaultCountry: 'US' };
    expect(run('030 123456', PHONE, opts, 'DE')).toEqual({
      outcome: 'hashed',
      normalized: '4930123456',
      hash: 'ac75546db905289f50bd750fd5648fec0719074ce391521b2372abeae9110668',
    });
    expect(run('07911 123456', PHONE, opts, 'GB').hash).toBe('40b5c38342a9c584ec707e8679b003f8c779c6aaa138c976ef94e049cc05208f');
    expect(run('(213) 373-4253', PHONE, opts, undefined).normalized).toBe('12133734253');
  });

  it('a value starting with + or 00 carries its own country code whatever the country column says', () => {
    expect(run('0049 30 123456', PHONE, EVT)).toEqual({
      outcome: 'hashed',
      normalized: '+4930123456',
      hash: 'a909469fabf3f43d0b7b6c42a85a6e7e8ceb36c7a2f0f1b9c15b80dc16384cb7',
    });
    expect(run('+49 30 123456', PHONE, { context: 'events', defaultCountry: 'US' }, 'GB').normalized).toBe('+4930123456');
    expect(run('+44 7911 123456', PHONE, AUD, 'US').normalized).toBe('447911123456');
  });

  it('no country known for a national number -> invalid_phone', () => {
    expect(run('2133734253', PHONE, AUD).outcome).toBe('invalid_phone');
    expect(run('2133734253', PHONE, EVT).outcome).toBe('invalid_phone');
  });

  it('an unknown row country is invalid_phone, not a silent fallback to the default', () => {
    expect(run('2133734253', PHONE, { context: 'audience', defaultCountry: 'US' }, 'XX').outcome).toBe('invalid_phone');
  });

  it('impossible numbers, text, letters and over-15-digit numbers -> invalid_phone', () => {
    const opts: NormalizationOptions = { context: 'events', defaultCountry: 'US' };
    for (const raw of ['+1213373425', '+2132435345', '+12133734253000000', '1-800-FLOWERS', 'call me', '+', '12', '+1 213 373 4253 abc']) {
      expect(run(raw, PHONE, opts).outcome, raw).toBe('invalid_phone');
    }
  });

  it('Segment events vector +353987687687 agrees with our rule', () => {
    expect(run('+353987687687', PHONE, EVT).hash).toBe('2dcdfdf2e17a1da67c29c18e7ad8e7d0db33f7bd060ca0b57283f7de039bc478');
    expect(run('+1555-555-5555', PHONE, EVT).hash).toBe('910a625c4ba147b544e6bd2f267e130ae14c591b6ba9c25cb8573322dedbebd0');
  });
});

describe('mobile advertising IDs', () => {
  it('TikTok help-center MAID example', () => {
    expect(run('5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25', MAID, AUD)).toEqual({
      outcome: 'hashed',
      normalized: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25',
      hash: '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd',
    });
  });

  it('trims and lowercases, so upper- and lowercase inputs give one digest', () => {
    expect(run('  5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25\t', MAID, EVT).hash).toBe(
      '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd',
    );
    // Segment's IDFA vector (trim + lowercase, like ours)
    expect(run('7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB', targetOfType('IDFA_SHA256'), EVT).hash).toBe(
      '08f1f8e9e433f685c514154e1a5b0dfe1885c6f140a7e3eff08a037bda13dcc1',
    );
  });

  it('MD5 for *_MD5 types', () => {
    expect(run('5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25', MAID_MD5, AUD)).toEqual({
      outcome: 'hashed',
      normalized: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25',
      hash: 'a1a71d7132ffc45541100d58092ac49e',
    });
    expect(run('7a3cbea0-bdf5-11e4-8dfc-aa07a5b093db', targetOfType('GAID_MD5'), AUD).hash).toBe('e0325b8b05ba7d9db78391834c48cec0');
  });

  it('the all-zero ID is zeroed_maid', () => {
    expect(run('00000000-0000-0000-0000-000000000000', MAID, AUD).outcome).toBe('zeroed_maid');
    expect(run(' 00000000-0000-0000-0000-000000000000 ', MAID_MD5, EVT).outcome).toBe('zeroed_maid');
  });

  it('anything but an 8-4-4-4-12 hex UUID is invalid_maid', () => {
    for (const raw of ['4242', '123', '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b2', '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b255', 'gf3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25', '5f3a2b18_9c4d_4e7f_b8e2_17d3a1e69b25', '{5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25}', '5f3a2b189-c4d-4e7f-b8e2-17d3a1e69b25']) {
      expect(run(raw, MAID, AUD).outcome, raw).toBe('invalid_maid');
    }
  });
});

describe('external_id', () => {
  it('TikTok example user_123', () => {
    expect(run('user_123', EXT, EVT).hash).toBe('80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b');
  });

  it('trims but keeps case (Segment lowercases testId123; we do not)', () => {
    expect(run('  AbC-123 ', EXT, EVT)).toEqual({
      outcome: 'hashed',
      normalized: 'AbC-123',
      hash: '734126b5d56fefe9753d8e55b6534e9a5b0a068913ead589893a2ae922ae6ecf',
    });
    const ours = run('testId123', EXT, EVT).hash;
    expect(ours).toBe('d29ec8c1c9911c497fa1e1fc4693cb23003b09226a093e0ac9a293345c8c0baa');
    expect(ours).not.toBe('481f202262e9c5ccc48d24e60798fadaa5f6ff1f8369f7ab927c04c3aa682a7f'); // seg-hash-040, lowercased
  });
});

describe('pre-hashed values', () => {
  const SHA = '67E28CDCC3E845D3A4DA05CA9FE5DDB7320A83B4CC2167F0555A3B04F63511E3';
  const MD5 = 'A1A71D7132FFC45541100D58092AC49E';

  it('64 hex = SHA-256: lowercased and passed through, never hashed again, for every kind', () => {
    for (const target of [EMAIL, PHONE, MAID, EXT]) {
      for (const opts of [AUD, EVT]) {
        expect(run(` ${SHA} `, target, opts)).toEqual({ outcome: 'prehashed', normalized: null, hash: SHA.toLowerCase() });
      }
    }
  });

  it('32 hex = MD5: passed through for *_MD5 types', () => {
    expect(run(MD5, MAID_MD5, AUD)).toEqual({ outcome: 'prehashed', normalized: null, hash: MD5.toLowerCase() });
  });

  it('a digest of the wrong kind is wrong_hash_kind', () => {
    for (const target of [EMAIL, PHONE, MAID, EXT]) expect(run(MD5, target, AUD).outcome).toBe('wrong_hash_kind');
    expect(run(SHA, MAID_MD5, AUD).outcome).toBe('wrong_hash_kind');
  });

  it('only whole-value, exact-length hex counts (anchored)', () => {
    expect(run(`x${SHA.toLowerCase()}`, EXT, EVT).outcome).toBe('hashed');
    expect(run(SHA.slice(0, 63), EXT, EVT).outcome).toBe('hashed');
    expect(run(`${SHA}0`, EXT, EVT).outcome).toBe('hashed');
    expect(run(`${SHA.slice(0, 63)}g`, EXT, EVT).outcome).toBe('hashed');
  });

  it('does not reproduce peer double hashing (rud-hash-006: 64-hex external_id)', () => {
    const v = 'f0e388f53921a51f0bb0fc8a2944109ec188b59172935d8f23020b1614cc44bc';
    expect(run(v, EXT, EVT).hash).toBe(v);
  });
});

describe('empty and too_long', () => {
  it('empty and whitespace-only values are empty, not errors', () => {
    for (const raw of ['', ' ', '\t\r\n', '\u00a0']) {
      for (const target of [EMAIL, PHONE, MAID, EXT]) expect(run(raw, target, AUD), JSON.stringify(raw)).toEqual({ outcome: 'empty', normalized: null, hash: null });
    }
  });

  it('over 1 KiB of UTF-8 before normalization is too_long', () => {
    expect(run('a'.repeat(1024), EXT, EVT).outcome).toBe('hashed');
    expect(run('a'.repeat(1025), EXT, EVT).outcome).toBe('too_long');
    expect(run('\u20ac'.repeat(341), EXT, EVT).outcome).toBe('hashed'); // 1023 bytes
    expect(run('\u20ac'.repeat(342), EXT, EVT).outcome).toBe('too_long'); // 1026 bytes in 342 chars
    expect(run(`${' '.repeat(1020)}john@example.com`, EMAIL, AUD).outcome).toBe('too_long');
  });
});

describe('IdentifierNormalizer', () => {
  it('is reusable: fields reflect only the last value', () => {
    const n = new IdentifierNormalizer(EMAIL, AUD);
    expect(n.process('John@Example.com')).toBe('hashed');
    expect(n.digest).toBe('855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4');
    expect(n.process('broken')).toBe('invalid_email');
    expect(n.digest).toBe('');
    expect(n.normalized).toBeNull();
  });

  it('refuses MD5 for email, phone and external_id (TikTok takes those as SHA-256 only)', () => {
    expect(() => new IdentifierNormalizer({ kind: 'email', hash: 'md5' }, AUD)).toThrow(/SHA-256 only/);
    expect(() => new IdentifierNormalizer({ kind: 'phone', hash: 'md5' }, AUD)).toThrow(/SHA-256 only/);
  });

  it('validates options with the schema', () => {
    expect(() => new IdentifierNormalizer(PHONE, { context: 'audience', defaultCountry: 'ZZ' })).toThrow(/country/);
    expect(new IdentifierNormalizer(PHONE, { context: 'audience', defaultCountry: 'us' }).options.defaultCountry).toBe('US');
  });
});
