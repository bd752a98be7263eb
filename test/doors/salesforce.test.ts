import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { salesforceId18 } from '../../lib/crm-ids';
import {
  SALESFORCE_ACK,
  endpointSecrets,
  parseOutboundMessage,
  requireEndpointSecret,
  requireSalesforceOrg,
  soapFaultXml,
  xmlText,
  type OutboundMessage,
} from '../../lib/doors/salesforce';
import { isInvalidPerson, type PersonEntry } from '../../lib/requests';
import type { Person } from '../../lib/person';
import { PROJECT_ROOT } from '../../local/stack';
import { ORG_ID, SALESFORCE_SECRET, billionLaughs, outboundMessage, xxe } from '../support/crm-messages';

const options = { defaultPhoneCountry: 'US' as const };
const sample = readFileSync(join(PROJECT_ROOT, 'events/salesforce-outbound-message.xml'), 'utf8');

function people(message: OutboundMessage): PersonEntry[] {
  if (message.kind !== 'people') throw new Error(`expected people, got ${message.kind}`);
  return message.people;
}

function fields(entry: PersonEntry | undefined): Person['fields'] {
  if (entry === undefined || isInvalidPerson(entry))
    throw new Error(`expected a person: ${JSON.stringify(entry)}`);
  return entry.fields;
}

function reason(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  return 'no error';
}

describe('Function: salesforceId18', () => {
  it("turns a 15-character id into the 18-character form Salesforce's API shows", () => {
    // Salesforce's own example org id in both forms (a public sample payload).
    expect(salesforceId18('00D5e000000KQ2e')).toBe('00D5e000000KQ2eEAG');
    expect(salesforceId18('00D5e000000KQ2eEAG')).toBe('00D5e000000KQ2eEAG');
    expect(salesforceId18('00D5e000000KQ2eeag')).toBe('00D5e000000KQ2eEAG');
  });

  it('refuses what is not an id: wrong length, other characters, a suffix that does not match', () => {
    for (const bad of [
      '',
      '00D5e000000KQ2',
      '00D5e000000KQ2eEA',
      '00D5e000000KQ2eEAGX',
      '00D5e000000KQ2-',
      '00D5e000000KQ2eAAA',
    ]) {
      expect(salesforceId18(bad), bad).toBeUndefined();
    }
  });
});

describe('Function: parseOutboundMessage', () => {
  it('reads the sample message: two Contacts with their fields, ids and delivery name', () => {
    const message = parseOutboundMessage(sample, options);

    expect(message.organizationId).toBe(ORG_ID);
    const [mary, percy] = people(message);
    expect(fields(mary)).toEqual({
      first_name: 'Mary',
      last_name: 'Shelley',
      email: 'mary.shelley@frankenstein.example',
      title: 'Author & Editor',
      present_raw_address: 'London, United Kingdom',
      direct_phone: '+442079460958',
      mobile_phone: '+442079460018',
      salesforce_contact_id: '0035e00000MaRySAAV',
    });
    expect(fields(percy)).toEqual({
      first_name: 'Percy',
      last_name: 'Shelley',
      email: 'percy.shelley@frankenstein.example',
      title: 'Poet',
      salesforce_contact_id: '0035e00000PeRcYAAV',
    });
    expect(message.kind === 'people' && message.deliveryId).toMatch(
      /^salesforce:00D000000000001EAA:[\w-]{43}$/,
    );
  });

  it('matches elements by namespace whatever the prefixes: SOAP-ENV, a default sObject namespace, ns1', () => {
    const message = outboundMessage(
      [
        {
          type: 'Lead',
          fields: {
            Id: '00Q5e00000JaNeA',
            FirstName: 'Jane',
            LastName: 'Austen',
            Company: 'Chawton Press',
            Website: 'chawton.example',
          },
        },
      ],
      { envelopePrefix: 'SOAP-ENV', outboundPrefix: 'ns1', sObjectPrefix: '' },
    );

    expect(fields(people(parseOutboundMessage(message, options))[0])).toEqual({
      first_name: 'Jane',
      last_name: 'Austen',
      organization_name: 'Chawton Press',
      website_url: 'chawton.example',
      salesforce_lead_id: '00Q5e00000JaNeAEAV',
    });
  });

  it('maps Lead fields: Company, Website, address parts in order, phones; Contact home and other phones', () => {
    const [lead, contact] = [
      outboundMessage([
        {
          type: 'Lead',
          fields: {
            Id: '00Q5e00000JaNeAEAV',
            Email: 'jane@chawton.example',
            Company: 'Chawton Press',
            Street: '1 Winchester Road',
            City: 'Chawton',
            PostalCode: 'GU34 1SD',
            Country: 'UK',
            Phone: '(555) 123-4567',
            MobilePhone: '555.765.4321',
          },
        },
      ]),
      outboundMessage([
        {
          type: 'Contact',
          fields: { Email: 'c@chawton.example', HomePhone: '555 567 8901', OtherPhone: '555-010-1851' },
        },
      ]),
    ].map((xml) => fields(people(parseOutboundMessage(xml, options))[0]));

    expect(lead).toMatchObject({
      organization_name: 'Chawton Press',
      present_raw_address: '1 Winchester Road, Chawton, GU34 1SD, UK',
      direct_phone: '+15551234567',
      mobile_phone: '+15557654321',
      salesforce_lead_id: '00Q5e00000JaNeAEAV',
    });
    expect(contact).toMatchObject({ home_phone: '+15555678901', other_phone: '+15550101851' });
  });

  it("takes a Contact's company from the configured account-name field, or a nested Account.Name", () => {
    const configured = outboundMessage([
      {
        type: 'Contact',
        fields: { FirstName: 'Ada', LastName: 'Byron', Account_Name__c: 'Analytical Engines Ltd' },
      },
    ]);
    const nested = outboundMessage([
      {
        type: 'Contact',
        fields: { FirstName: 'Ada', LastName: 'Byron' },
        raw: '<sf:Account><sf:Name>Analytical Engines Ltd</sf:Name></sf:Account>',
      },
    ]);

    expect(
      fields(people(parseOutboundMessage(configured, { ...options, accountNameField: 'Account_Name__c' }))[0])
        .organization_name,
    ).toBe('Analytical Engines Ltd');
    expect(fields(people(parseOutboundMessage(nested, options))[0]).organization_name).toBe(
      'Analytical Engines Ltd',
    );
    // Without the setting the custom field is just an unknown field: the person has no identity.
    expect(people(parseOutboundMessage(configured, options))[0]).toMatchObject({ status: 'invalid' });
  });

  it('reads 100 notifications in order, and gives each unconvertible one its own invalid result', () => {
    const notifications = Array.from({ length: 100 }, (_, index) => ({
      type: 'Contact' as const,
      fields: index % 10 === 3 ? { Email: 'not an email' } : { Email: `p${index}@hundred.example` },
    }));

    const entries = people(parseOutboundMessage(outboundMessage(notifications), options));

    expect(entries).toHaveLength(100);
    entries.forEach((entry, index) => {
      if (index % 10 === 3) {
        expect(entry).toEqual({
          id: null,
          status: 'invalid',
          contact_id: null,
          field: `body.notifications.Notification[${index}].sObject.email`,
          reason: 'not an email address',
        });
      } else expect(fields(entry).email).toBe(`p${index}@hundred.example`);
    });
  });

  it('decodes the predefined entities, character references and CDATA; trims and ignores unknown fields', () => {
    const xml = outboundMessage([
      {
        type: 'Contact',
        fields: { Email: 'ada@engines.example' },
        raw: '<sf:FirstName> Ad&#97; </sf:FirstName><sf:LastName>L&#x2019;Ov&lt;&gt;&quot;&apos;</sf:LastName><sf:Title><![CDATA[R&D <lead>]]></sf:Title><sf:Custom__c>x</sf:Custom__c><other xmlns="urn:else">y</other>',
      },
    ]);

    expect(fields(people(parseOutboundMessage(xml, options))[0])).toMatchObject({
      first_name: 'Ada',
      last_name: 'L\u2019Ov<>"\'',
      title: 'R&D <lead>',
    });
  });

  it('ignores a message about another sObject type, and marks such notifications invalid among people', () => {
    const accounts = outboundMessage([{ type: 'Account', fields: { Name: 'Acme' } }]);
    const mixed = outboundMessage([
      { type: 'Contact', fields: { Email: 'ok@mixed.example' } },
      { type: 'Opportunity', fields: { Name: 'Deal' } },
    ]);

    expect(parseOutboundMessage(accounts, options)).toEqual({
      kind: 'ignored',
      organizationId: ORG_ID,
      type: 'sf:Account',
    });
    expect(people(parseOutboundMessage(mixed, options))[1]).toEqual({
      id: null,
      status: 'invalid',
      contact_id: null,
      field: 'body.notifications.Notification[1].sObject',
      reason: 'not a Contact or Lead (sf:Opportunity)',
    });
  });

  it('answers a notification without record data (a record deleted before sending) or without type as invalid', () => {
    const message = outboundMessage([
      { type: 'Contact', fields: { Email: 'kept@doors.example' } },
      { type: 'Contact', fields: { Email: 'deleted@doors.example' } },
      { type: 'Contact', fields: { Email: 'untyped@doors.example' } },
    ])
      .replace(/<sObject[^>]*><sf:Email>deleted@doors.example<\/sf:Email><\/sObject>/, '')
      .replace(/xsi:type="sf:Contact"(?=[^<]*><sf:Email>untyped)/, '');

    const [kept, deleted, untyped] = people(parseOutboundMessage(message, options));

    expect(fields(kept).email).toBe('kept@doors.example');
    expect(deleted).toEqual({
      id: null,
      status: 'invalid',
      contact_id: null,
      field: 'body.notifications.Notification[1].sObject',
      reason: 'no record data (deleted before the message was sent?)',
    });
    expect(untyped).toMatchObject({
      field: 'body.notifications.Notification[2].sObject',
      reason: 'no xsi:type: not a Contact or Lead',
    });
  });

  it('names the same delivery for a retry of the same message, another for other notifications', () => {
    const first = parseOutboundMessage(sample, options);
    const retried = parseOutboundMessage(
      sample.replace('<SessionId xsi:nil="true"/>', '<SessionId>another</SessionId>'),
      options,
    );
    const other = parseOutboundMessage(sample.replace('04l000000000002AAA', '04l000000000003AAA'), options);

    if (first.kind !== 'people' || retried.kind !== 'people' || other.kind !== 'people')
      throw new Error('people expected');
    expect(retried.deliveryId).toBe(first.deliveryId);
    expect(retried.deliveryBody.equals(first.deliveryBody)).toBe(true);
    expect(other.deliveryId).not.toBe(first.deliveryId);
  });

  it.each([
    [
      'a DOCTYPE',
      `<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]>${outboundMessage([{ type: 'Contact', fields: { Email: 'a@b.example' } }])}`,
      /DTD/,
    ],
    ['billion laughs', billionLaughs(), /DTD/],
    ['an external entity (XXE)', xxe(), /DTD/],
    ['a lower-case doctype', '<!doctype html><html/>', /DTD/],
    [
      'an undeclared entity',
      outboundMessage([{ type: 'Contact', fields: { Email: 'a@b.example', FirstName: '&lol;' } }]),
      /unknown reference/,
    ],
    [
      'a bare ampersand',
      outboundMessage([{ type: 'Contact', fields: { Email: 'a@b.example', FirstName: 'A & B' } }]),
      /not well-formed|unknown reference/,
    ],
    [
      'a character reference to NUL',
      outboundMessage([{ type: 'Contact', fields: { Email: 'a@b.example', FirstName: '&#0;' } }]),
      /unknown reference/,
    ],
    ['mismatched tags', '<a><b></a>', /not well-formed/],
    ['two root elements', '<a/><b/>', /exactly one root/],
    ['JSON', '{"email": "a@b.example"}', /not well-formed/],
    ['nesting 20 deep', `${'<a>'.repeat(20)}${'</a>'.repeat(20)}`, /not readable XML: Maximum nested tags/],
    ['an undeclared prefix', '<x:Envelope/>', /undeclared namespace prefix "x"/],
    ['another root', '<Envelope/>', /not a SOAP 1.1 envelope/],
    [
      'no notifications',
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
      /Body: has no notifications/,
    ],
    ['no Notification', outboundMessage([]), /must be 1 to 100 notifications, not 0/],
    [
      '101 Notifications',
      outboundMessage(
        Array.from({ length: 101 }, () => ({ type: 'Contact' as const, fields: { Email: 'a@b.example' } })),
      ),
      /not 101/,
    ],
    [
      'an org id that is not one',
      outboundMessage([{ type: 'Contact', fields: {} }], { organizationId: 'not-an-org' }),
      /OrganizationId: not a Salesforce id/,
    ],
  ])('refuses %s with a 400 naming the problem', (_what, xml, expected) => {
    expect(reason(() => parseOutboundMessage(xml, options))).toMatch(/^InvalidRequestError: /);
    expect(reason(() => parseOutboundMessage(xml, options))).toMatch(expected);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(reason(() => xmlText(Buffer.from([0x3c, 0x61, 0xff, 0x3e])))).toBe(
      'InvalidRequestError: body: not UTF-8 XML',
    );
  });
});

describe('Salesforce authentication', () => {
  it('accepts either configured path secret (rotation) and refuses others, in constant time', () => {
    const configured = `${SALESFORCE_SECRET} ${'n'.repeat(32)}`;

    expect(() => requireEndpointSecret(SALESFORCE_SECRET, configured)).not.toThrow();
    expect(() => requireEndpointSecret('n'.repeat(32), configured)).not.toThrow();
    for (const wrong of ['', SALESFORCE_SECRET.slice(1), `${SALESFORCE_SECRET}x`, 'n'.repeat(31)]) {
      expect(reason(() => requireEndpointSecret(wrong, configured))).toMatch(/^UnauthorizedError/);
    }
  });

  it('refuses unusable path secrets at first use, naming the setting and never the value', () => {
    expect(reason(() => endpointSecrets('short'))).toBe(
      'ConfigurationError: SALESFORCE_ENDPOINT_SECRET: secret 1 must be at least 24 characters long',
    );
    expect(reason(() => endpointSecrets(`${'a'.repeat(24)} has/slash-and-more-characters`))).toBe(
      'ConfigurationError: SALESFORCE_ENDPOINT_SECRET: secret 2 must be URL-safe: letters, digits, "-" and "_" only',
    );
    expect(reason(() => endpointSecrets(`${'a'.repeat(24)} ${'b'.repeat(24)} ${'c'.repeat(24)}`))).toMatch(
      /at most 2/,
    );
  });

  it('accepts the configured orgs in either spelling, and refuses other orgs', () => {
    const configured = [salesforceId18('00D5e000000KQ2e') as string, ORG_ID];

    expect(() => requireSalesforceOrg('00D5e000000KQ2eEAG', configured)).not.toThrow();
    expect(() => requireSalesforceOrg(ORG_ID, configured)).not.toThrow();
    expect(
      reason(() => requireSalesforceOrg(salesforceId18('00D5e000000KQ2E') as string, configured)),
    ).toMatch(/^UnauthorizedError/);
    expect(reason(() => requireSalesforceOrg(ORG_ID, []))).toBe(
      'ConfigurationError: SALESFORCE_ORG_IDS must be set for the Salesforce door',
    );
  });
});

describe('SOAP answers', () => {
  it('acknowledges with exactly the notificationsResponse Salesforce expects', () => {
    expect(SALESFORCE_ACK).toBe(
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>',
    );
  });

  it('writes faults with the text escaped', () => {
    expect(soapFaultXml('Client', 'a <b> & "c"')).toContain(
      '<faultcode>soapenv:Client</faultcode><faultstring>a &#60;b&#62; &#38; &#34;c&#34;</faultstring>',
    );
  });
});
