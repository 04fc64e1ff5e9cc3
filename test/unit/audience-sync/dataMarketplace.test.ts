import { describe, expect, it } from 'vitest';
import { DestinationConfigError, parseDestinationConfig, type DestinationConfigInput } from '../../../src/audience-sync/config';

/*
 * A Data Marketplace (3PD) destination: the three agreements are the literal "I Agree" and
 * nothing else, contacts may be typed comma separated, and third-party data may carry only
 * emails and phones (MAIDs are refused when the config is read, not when a sync runs).
 */

const marketplace = () => ({
  dataUsageReporting: 'I Agree',
  paymentModel: 'I Agree',
  paymentRequirement: 'I Agree',
  reportingContacts: 'usage@buyer.example, Finance@Buyer.example',
  providerId: 'acme-data',
  segmentId: 'acme-auto-intenders',
  pricePercent: '12.50',
  currency: 'USD',
});

const base = (dm: Record<string, unknown> = marketplace()): DestinationConfigInput =>
  ({
    destinationId: 'acme-auto',
    advertiserId: '7012345678901234567',
    audienceName: 'Acme auto intenders',
    action: 'append',
    audienceId: '123456',
    identifiers: { email: 'email', mobile: 'phone' },
    accessToken: 'env:TIKTOK_ACCESS_TOKEN',
    sourceSegmentId: 'acme-auto-intenders',
    dataMarketplace: dm,
  }) as unknown as DestinationConfigInput;

function problems(input: unknown): string[] {
  try {
    parseDestinationConfig(input, 'dest.json');
  } catch (err) {
    expect(err).toBeInstanceOf(DestinationConfigError);
    return (err as DestinationConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('the config was accepted');
}

describe('Data Marketplace destination config', () => {
  it('accepts the agreements, splits comma-separated contacts and keeps the price as exact text', () => {
    const c = parseDestinationConfig(base());
    expect(c.dataMarketplace).toEqual({ ...marketplace(), reportingContacts: ['usage@buyer.example', 'finance@buyer.example'], pricePercent: '12.5' });
    expect(parseDestinationConfig(base({ ...marketplace(), reportingContacts: ['a@b.example', 'c@d.example, e@f.example'] })).dataMarketplace?.reportingContacts).toEqual([
      'a@b.example',
      'c@d.example',
      'e@f.example',
    ]);
  });

  it.each([
    ['dataUsageReporting', 'I agree', /^\$\.dataMarketplace\.dataUsageReporting: must be exactly "I Agree" \(Data Usage Reporting Requirement: .*monthly\); got "I agree"$/],
    ['paymentModel', 'I AGREE ', /^\$\.dataMarketplace\.paymentModel: must be exactly "I Agree" \(Payment Model: .*"Amount Spent".*\); got "I AGREE "$/],
    ['paymentRequirement', undefined, /^\$\.dataMarketplace\.paymentRequirement: must be exactly "I Agree" \(Payment Requirement: .*TikTok Data Agreement\); it is missing$/],
    ['paymentRequirement', true, /^\$\.dataMarketplace\.paymentRequirement: must be exactly "I Agree" .*; got true$/],
  ])('refuses %s = %j and quotes the requirement', (field, value, message) => {
    const dm: Record<string, unknown> = marketplace();
    if (value === undefined) delete dm[field];
    else dm[field] = value;
    expect(problems(base(dm))).toEqual([expect.stringMatching(message)]);
  });

  it('names every bad contact, price and currency', () => {
    expect(problems(base({ ...marketplace(), reportingContacts: 'usage@buyer.example, not-an-email', pricePercent: '0', currency: 'usd' }))).toEqual([
      '$.dataMarketplace.reportingContacts: "not-an-email" is not an email address such as reports@example.com',
      '$.dataMarketplace.pricePercent: must be more than 0 and at most 100; got 0',
      '$.dataMarketplace.currency: must be an ISO 4217 currency code such as "USD"',
    ]);
    expect(problems(base({ ...marketplace(), reportingContacts: ' , ' }))).toEqual(['$.dataMarketplace.reportingContacts: name at least one reporting contact email']);
    expect(problems(base({ ...marketplace(), pricePercent: 12.34567 }))).toEqual([expect.stringMatching(/^\$\.dataMarketplace\.pricePercent: must be a percentage with at most 4 decimal places/)]);
  });

  it('refuses MAIDs (and IDFA, GAID) on a 3PD destination at config time; a first-party destination keeps them', () => {
    const withMaid = { ...base(), identifiers: { email: 'email', device: 'maid', idfa: 'idfa' } };
    expect(problems(withMaid)).toEqual([
      '$.identifiers.device: a Data Marketplace (dataMarketplace) destination may carry only emails (plaintext or SHA-256) and phone numbers; "maid" is refused for third-party data',
      '$.identifiers.idfa: a Data Marketplace (dataMarketplace) destination may carry only emails (plaintext or SHA-256) and phone numbers; "idfa" is refused for third-party data',
    ]);
    const { dataMarketplace: _dm, ...firstParty } = withMaid;
    expect(parseDestinationConfig(firstParty).identifiers.device).toBe('maid');
  });
});
