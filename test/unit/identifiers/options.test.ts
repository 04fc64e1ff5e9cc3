import { getCountries } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import { resolveNormalizationOptions } from '../../../src/identifiers/normalizer';
import { NormalizationOptionsSchema, type NormalizationOptions } from '../../../src/identifiers/schema';

// The normalizer resolves its options without zod (start-up of `ids normalize`); the schema
// is the definition, so both must give the same answer for every input, valid or not.
describe('resolveNormalizationOptions answers as NormalizationOptionsSchema', () => {
  const countries = [...getCountries(), ...getCountries().slice(0, 20).map((c) => ` ${c.toLowerCase()} `), 'ZZ', 'USA', 'U', '', '  ', '001', 'us1', 'XK', 'AC'];
  const inputs: unknown[] = [];
  for (const context of ['audience', 'events', 'crm', undefined, 1])
    for (const phoneFormat of [undefined, 'digits', 'e164', 'E164', null])
      for (const defaultCountry of [undefined, ...countries, 7]) inputs.push({ context, phoneFormat, defaultCountry });

  it(`${inputs.length} inputs`, () => {
    for (const input of inputs) {
      const schema = NormalizationOptionsSchema.safeParse(input);
      let ours: unknown;
      try {
        ours = resolveNormalizationOptions(input as NormalizationOptions);
      } catch (err) {
        ours = err;
      }
      if (schema.success) expect(ours, JSON.stringify(input)).toEqual(schema.data);
      else expect(ours, JSON.stringify(input)).toBeInstanceOf(RangeError);
    }
  });
});
