import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';

const base = { LEDGER_TABLE: 'ledger-test' };

function apolloBaseUrl(value: string | undefined): string {
  return loadConfig({ ...base, APOLLO_BASE_URL: value }).apolloBaseUrl;
}

describe('Function: loadConfig', () => {
  describe('APOLLO_BASE_URL', () => {
    it("defaults to Apollo's documented base", () => {
      expect(apolloBaseUrl(undefined)).toBe('https://api.apollo.io/api/v1');
      expect(apolloBaseUrl('  ')).toBe('https://api.apollo.io/api/v1');
    });

    it.each([
      ['https://api.apollo.io/api/v1', 'https://api.apollo.io/api/v1'],
      ['https://api.apollo.io/api/v1/', 'https://api.apollo.io/api/v1'],
      ['https://api.apollo.io', 'https://api.apollo.io/api/v1'],
      ['https://api.apollo.io/', 'https://api.apollo.io/api/v1'],
      ['https://API.Apollo.io', 'https://api.apollo.io/api/v1'],
      ['https://api.apollo.io/v1', 'https://api.apollo.io/v1'],
      ['http://127.0.0.1:4010/api/v1', 'http://127.0.0.1:4010/api/v1'],
      ['http://127.0.0.1:4010', 'http://127.0.0.1:4010/api/v1'],
      ['https://proxy.example.com/apollo/api/v1', 'https://proxy.example.com/apollo/api/v1'],
    ])('normalises %s to %s', (given, expected) => {
      expect(apolloBaseUrl(given)).toBe(expected);
    });

    it.each([
      ['not a url', /APOLLO_BASE_URL must be Apollo's API base/],
      ['ftp://api.apollo.io/api/v1', /ftp: is not http or https/],
      ['https://api.apollo.io/api/v2', /path must be empty or end in \/api\/v1/],
      ['https://api.apollo.io/api/v1/contacts', /path must be empty or end in \/api\/v1/],
      ['https://api.apollo.io/api/v1?x=1', /no query or fragment/],
    ])('refuses %s at startup, naming the variable', (given, message) => {
      expect(() => apolloBaseUrl(given)).toThrow(message);
      expect(() => apolloBaseUrl(given)).toThrow(/APOLLO_BASE_URL/);
    });

    it('refuses credentials in the URL without echoing them', () => {
      let message = '';
      try {
        apolloBaseUrl('https://user:s3cret@api.apollo.io/api/v1');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/APOLLO_BASE_URL.*must not carry credentials/);
      expect(message).not.toContain('s3cret');
    });
  });

  describe('the conversion queue', () => {
    it('reads the queue URL, the local SQS endpoint and the receives before the dead-letter queue', () => {
      const config = loadConfig({
        ...base,
        CONVERSION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/converter-prod-conversions',
        SQS_ENDPOINT: 'http://127.0.0.1:9324/',
        CONVERSION_MAX_RECEIVE_COUNT: '7',
      });

      expect(config.conversionQueueUrl).toBe(
        'https://sqs.eu-west-1.amazonaws.com/123456789012/converter-prod-conversions',
      );
      expect(config.sqsEndpoint).toBe('http://127.0.0.1:9324');
      expect(config.conversionMaxReceiveCount).toBe(7);
    });

    it("leaves the queue unset where no function uses it, with serverless.yml's five receives", () => {
      const config = loadConfig(base);

      expect(config.conversionQueueUrl).toBeUndefined();
      expect(config.sqsEndpoint).toBeUndefined();
      expect(config.conversionMaxReceiveCount).toBe(5);
    });

    it('names a queue URL that is not a URL', () => {
      expect(() => loadConfig({ ...base, CONVERSION_QUEUE_URL: 'conversions' })).toThrow(
        'CONVERSION_QUEUE_URL must be a URL, not "conversions"',
      );
    });
  });

  it('names a missing required variable', () => {
    expect(() => loadConfig({})).toThrow('LEDGER_TABLE must be set');
  });

  describe('the Salesforce door', () => {
    it('keeps org ids in their 18-character form, given in either form, separated by commas or spaces', () => {
      const config = loadConfig({
        ...base,
        SALESFORCE_ORG_IDS: ' 00D5e000000KQ2e,00D000000000001EAA  00D000000000002 ',
      });

      expect(config.salesforceOrgIds).toEqual([
        '00D5e000000KQ2eEAG',
        '00D000000000001EAA',
        '00D000000000002EAA',
      ]);
      expect(loadConfig(base).salesforceOrgIds).toEqual([]);
    });

    it.each(['003000000000001', '00D5e000000KQ2eAAA', '00D5e000000KQ2', 'my-org'])(
      'stops at startup on an org id that is not one (%s), naming the variable',
      (id) => {
        expect(() => loadConfig({ ...base, SALESFORCE_ORG_IDS: `00D5e000000KQ2e,${id}` })).toThrow(
          `SALESFORCE_ORG_IDS must list Salesforce org ids (00D followed by 12 or 15 letters and digits), not "${id}"`,
        );
      },
    );

    it('reads the account-name field as an API name', () => {
      expect(
        loadConfig({ ...base, SALESFORCE_ACCOUNT_NAME_FIELD: 'Account_Name__c' }).salesforceAccountNameField,
      ).toBe('Account_Name__c');
      expect(() => loadConfig({ ...base, SALESFORCE_ACCOUNT_NAME_FIELD: 'Account.Name' })).toThrow(
        'SALESFORCE_ACCOUNT_NAME_FIELD must be a Salesforce field API name such as Account_Name__c, not "Account.Name"',
      );
    });
  });

  it('names a numeric setting out of range', () => {
    expect(() => loadConfig({ ...base, MAX_CONVERSION_ATTEMPTS: '0' })).toThrow(
      'MAX_CONVERSION_ATTEMPTS must be an integer from 1 to 1000, not "0"',
    );
  });

  describe('the doors', () => {
    it('checks CUSTOM_SOURCES given as a value at startup, naming the source and the path', () => {
      const sources = JSON.stringify({
        clay: { secrets: ['a-long-enough-secret'], fields: { email: 'rows[x]' } },
      });

      expect(() => loadConfig({ ...base, CUSTOM_SOURCES: sources })).toThrow(
        'CUSTOM_SOURCES: clay.fields.email: "rows[x]" is not a path',
      );
    });

    it("reads the HubSpot door's settings, and names a bad one at startup", () => {
      expect(loadConfig({ ...base, HUBSPOT_AUTH: 'api_key' }).hubspot.auth).toBe('api_key');
      expect(() => loadConfig({ ...base, HUBSPOT_PROPERTY_MAP: '{"fax": "fax"}' })).toThrow(
        /^HUBSPOT_PROPERTY_MAP\.fax: not a field HubSpot can fill/,
      );
    });
  });
});
