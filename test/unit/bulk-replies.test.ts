/**
 * Mapping Apollo's bulk_create reply (no index) back to the people sent: by email, CRM id, then
 * name + company, and never mistaking Apollo's name + company false merge for the person.
 */
import { describe, expect, it } from 'vitest';
import type { ApolloContact, BulkContact } from '../../lib/apollo/apollo';
import { toBulkContact } from '../../lib/apollo/bulk-contacts';
import { mapBulkCreateReply, normaliseEmail } from '../../lib/apollo/bulk-replies';

const WREN: BulkContact = {
  first_name: 'Wren',
  last_name: 'Halloway',
  email: 'wren.halloway@lanternfish.example',
  organization_name: 'Lanternfish Labs',
};
const JUNO: BulkContact = {
  first_name: 'Juno',
  last_name: 'Marsh',
  email: 'juno.marsh@brackenridge.example',
  organization_name: 'Brackenridge Mills',
};
/** Another Wren Halloway at Lanternfish Labs, with her own email: a different person. */
const OTHER_WREN: BulkContact = { ...WREN, email: 'w.halloway@lanternfish.example' };
/** Someone without an email: recognisable by name and company only. */
const OTTILIE: BulkContact = {
  first_name: 'Ottilie',
  last_name: 'Fenwick',
  organization_name: 'Cobblestone Cartography',
};

/** The contact Apollo answers for `sent`, as its reply shows it. */
function apolloContact(id: string, sent: BulkContact, overrides: Partial<ApolloContact> = {}): ApolloContact {
  return {
    id,
    email: sent.email ?? null,
    first_name: sent.first_name ?? null,
    last_name: sent.last_name ?? null,
    organization_name: sent.organization_name ?? null,
    ...overrides,
  };
}

/** The verdict of each ref, for compact assertions. */
function verdicts(result: ReturnType<typeof mapBulkCreateReply>): Record<string, string> {
  const byRef: Record<string, string> = {};
  for (const [ref, { contact, outcome }] of result.matched) byRef[ref] = `${outcome} ${contact.id}`;
  for (const ref of result.falseMerges) byRef[ref] = 'false merge';
  for (const ref of result.unknown) byRef[ref] = 'unknown';
  return byRef;
}

describe('Function: mapBulkCreateReply', () => {
  describe('by email', () => {
    it('maps created and existing contacts to their people whatever the order of the reply', () => {
      // Prepare
      const sent = [
        { ref: 'c_wren', contact: WREN },
        { ref: 'c_juno', contact: JUNO },
      ];
      const reply = { created: [apolloContact('x-juno', JUNO)], existing: [apolloContact('x-wren', WREN)] };

      // Act
      const result = mapBulkCreateReply(sent, reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'existing x-wren', c_juno: 'created x-juno' });
      expect(result.matched.get('c_juno')?.contact).toBe(reply.created[0]);
    });

    it.each([
      ['another case and spaces', '  WREN.Halloway@LanternFish.EXAMPLE '],
      ['an invisible character', 'wren.halloway@lantern\u200bfish.example'],
    ])('maps an email Apollo returns in %s', (_how, returned) => {
      // Prepare
      const reply = { created: [apolloContact('x-wren', WREN, { email: returned })], existing: [] };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_wren', contact: WREN }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'created x-wren' });
    });

    it.each([
      ['sent in Unicode, returned in punycode', 'ana@bücher.example', 'ana@xn--bcher-kva.example'],
      ['sent in punycode, returned in Unicode', 'ana@xn--bcher-kva.example', 'Ana@Bücher.example'],
    ])('maps an internationalised domain %s', (_how, sentEmail, returned) => {
      // Prepare
      const ana: BulkContact = { first_name: 'Ana', last_name: 'Lind', email: sentEmail };
      const reply = { created: [apolloContact('x-ana', ana, { email: returned })], existing: [] };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_ana', contact: ana }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_ana: 'created x-ana' });
    });

    it('maps a person whose contact came back twice (created for them, existing for a namesake) as created', () => {
      // Prepare: Apollo created Wren's contact, then matched the other Wren onto it by name + company.
      const wrens = apolloContact('x-wren', WREN);
      const sent = [
        { ref: 'c_wren', contact: WREN },
        { ref: 'c_other', contact: OTHER_WREN },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [wrens], existing: [{ ...wrens }] });

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'created x-wren', c_other: 'false merge' });
    });

    it('leaves people unknown when two of them sent the same email', () => {
      // Prepare
      const sent = [
        { ref: 'c_1', contact: WREN },
        { ref: 'c_2', contact: { ...WREN, title: 'Keeper' } },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [apolloContact('x-wren', WREN)], existing: [] });

      // Assess
      expect(verdicts(result)).toEqual({ c_1: 'unknown', c_2: 'unknown' });
    });

    it('leaves a person unknown when two contacts carry its email', () => {
      // Prepare
      const reply = {
        created: [apolloContact('x-1', WREN)],
        existing: [apolloContact('x-2', WREN)],
      };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_wren', contact: WREN }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'unknown' });
    });
  });

  describe('false merges', () => {
    it('reports a namesake at the same company with another email as a false merge, never as existing', () => {
      // Prepare: Apollo already has Wren; the other Wren is "existing" by name + company.
      const reply = { created: [], existing: [apolloContact('x-wren', WREN)] };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_other', contact: OTHER_WREN }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_other: 'false merge' });
    });

    it('reports two namesakes merged onto a contact Apollo already had as two false merges', () => {
      // Prepare
      const thirdWren: BulkContact = { ...WREN, email: 'wren@tidetables.example' };
      const wrens = apolloContact('x-wren', WREN);
      const sent = [
        { ref: 'c_other', contact: OTHER_WREN },
        { ref: 'c_third', contact: thirdWren },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [], existing: [wrens, { ...wrens }] });

      // Assess
      expect(verdicts(result)).toEqual({ c_other: 'false merge', c_third: 'false merge' });
    });

    it('maps the owner of an existing contact and reports the namesake merged onto it', () => {
      // Prepare
      const wrens = apolloContact('x-wren', WREN);
      const sent = [
        { ref: 'c_other', contact: OTHER_WREN },
        { ref: 'c_wren', contact: WREN },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [], existing: [wrens, { ...wrens }] });

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'existing x-wren', c_other: 'false merge' });
    });

    it('leaves the owner and the namesake unknown when their one contact came back once for the two', () => {
      // Act
      const result = mapBulkCreateReply(
        [
          { ref: 'c_other', contact: OTHER_WREN },
          { ref: 'c_wren', contact: WREN },
        ],
        { created: [], existing: [apolloContact('x-wren', WREN)] },
      );

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'unknown', c_other: 'unknown' });
    });

    it("reports a false merge Apollo made by the email's domain when no organisation was sent", () => {
      // Prepare
      const noCompany: BulkContact = { first_name: 'Wren', last_name: 'Halloway', email: OTHER_WREN.email };
      const reply = {
        created: [],
        existing: [apolloContact('x-wren', WREN, { organization_name: null })],
      };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_other', contact: noCompany }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_other: 'false merge' });
    });

    it('leaves a person unknown when its name matches an existing contact without email', () => {
      // Prepare: maybe the same person converted without email before, maybe not.
      const reply = { created: [], existing: [apolloContact('x-wren', WREN, { email: null })] };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_wren', contact: WREN }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'unknown' });
    });

    it('leaves a person unknown when its name matches a contact created in this call with another email', () => {
      // Prepare
      const reply = { created: [apolloContact('x-wren', WREN)], existing: [] };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_other', contact: OTHER_WREN }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_other: 'unknown' });
    });
  });

  describe('by name and company', () => {
    it('maps a person without email to the one contact with its name and company, created or existing', () => {
      // Prepare
      const sent = [
        { ref: 'c_ottilie', contact: OTTILIE },
        { ref: 'c_juno', contact: { ...JUNO, email: undefined } },
      ];
      const reply = {
        created: [apolloContact('x-ottilie', OTTILIE, { organization_name: 'Cobblestone Cartography Ltd.' })],
        existing: [apolloContact('x-juno', JUNO, { first_name: 'JUNO' })],
      };

      // Act
      const result = mapBulkCreateReply(sent, reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_ottilie: 'created x-ottilie', c_juno: 'existing x-juno' });
    });

    it('leaves two people without email with the same name and company unknown', () => {
      // Prepare
      const sent = [
        { ref: 'c_1', contact: OTTILIE },
        { ref: 'c_2', contact: { ...OTTILIE, title: 'Surveyor' } },
      ];
      const reply = {
        created: [apolloContact('x-ottilie', OTTILIE)],
        existing: [apolloContact('x-ottilie', OTTILIE)],
      };

      // Act
      const result = mapBulkCreateReply(sent, reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_1: 'unknown', c_2: 'unknown' });
    });

    it('leaves a person without email unknown when two contacts have its name and company', () => {
      // Prepare
      const reply = {
        created: [apolloContact('x-1', OTTILIE)],
        existing: [apolloContact('x-2', OTTILIE)],
      };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_ottilie', contact: OTTILIE }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_ottilie: 'unknown' });
    });

    it('leaves a person without email unknown when its name matches a contact created with an email', () => {
      // Prepare: the contact was made for someone who sent an email, not for this person.
      const reply = {
        created: [apolloContact('x-1', { ...OTTILIE, email: 'o.f@cobble.example' })],
        existing: [],
      };

      // Act
      const result = mapBulkCreateReply([{ ref: 'c_ottilie', contact: OTTILIE }], reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_ottilie: 'unknown' });
    });

    it("leaves a person without email unknown when its name matches a contact another person's email claimed", () => {
      // Prepare: Apollo matched Ottilie (no email) onto Wren's new contact; Wren's email claims it.
      const namesake: BulkContact = {
        first_name: 'Wren',
        last_name: 'Halloway',
        organization_name: 'Lanternfish Labs',
      };
      const wrens = apolloContact('x-wren', WREN);
      const sent = [
        { ref: 'c_wren', contact: WREN },
        { ref: 'c_namesake', contact: namesake },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [wrens], existing: [{ ...wrens }] });

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'created x-wren', c_namesake: 'unknown' });
    });
  });

  describe('by CRM id', () => {
    it('maps by salesforce_contact_id, salesforce_lead_id, and hubspot_id against hubspot_vid', () => {
      // Prepare: Apollo's contacts carry other emails than the ones sent are missing.
      const sent = [
        { ref: 'c_sf', contact: { ...OTTILIE, salesforce_contact_id: '003xx000004TmiQ' } },
        { ref: 'c_lead', contact: { first_name: 'Tobin', salesforce_lead_id: '00Qxx000001abc' } },
        { ref: 'c_hub', contact: { first_name: 'Juno', hubspot_id: '12345678' } },
      ];
      const reply = {
        created: [],
        existing: [
          { id: 'x-hub', hubspot_vid: 12345678, email: 'juno@brackenridge.example' },
          { id: 'x-sf', salesforce_contact_id: '003xx000004TmiQ' },
          { id: 'x-lead', salesforce_lead_id: '00Qxx000001abc', first_name: 'Tobias' },
        ],
      };

      // Act
      const result = mapBulkCreateReply(sent, reply);

      // Assess
      expect(verdicts(result)).toEqual({
        c_sf: 'existing x-sf',
        c_lead: 'existing x-lead',
        c_hub: 'existing x-hub',
      });
    });

    it('leaves a person unknown when its CRM id names a contact with another email', () => {
      // Prepare
      const reply = {
        created: [],
        existing: [{ id: 'x-1', salesforce_contact_id: '003A', email: 'someone.else@lanternfish.example' }],
      };

      // Act
      const result = mapBulkCreateReply(
        [{ ref: 'c_wren', contact: { ...WREN, salesforce_contact_id: '003A' } }],
        reply,
      );

      // Assess
      expect(verdicts(result)).toEqual({ c_wren: 'unknown' });
    });

    it('leaves both unknown when one entry of one contact answers for a person by email and another by CRM id', () => {
      // Prepare: two inputs, one entry: which of them was it for?
      const sent = [
        { ref: 'c_juno', contact: JUNO },
        { ref: 'c_crm', contact: { first_name: 'J', hubspot_id: '77' } },
      ];
      const reply = { created: [], existing: [apolloContact('x-juno', JUNO, { hubspot_vid: '77' })] };

      // Act
      const result = mapBulkCreateReply(sent, reply);

      // Assess
      expect(verdicts(result)).toEqual({ c_juno: 'unknown', c_crm: 'unknown' });
    });

    it('leaves both unknown when two people would each hold one contact, by email and by CRM id', () => {
      // Prepare: Apollo says these two of our people are one contact.
      const juno = apolloContact('x-juno', JUNO, { hubspot_vid: '77' });
      const sent = [
        { ref: 'c_juno', contact: JUNO },
        { ref: 'c_crm', contact: { first_name: 'J', hubspot_id: '77' } },
      ];

      // Act
      const result = mapBulkCreateReply(sent, { created: [], existing: [juno, { ...juno }] });

      // Assess
      expect(verdicts(result)).toEqual({ c_juno: 'unknown', c_crm: 'unknown' });
    });
  });

  describe('what is left', () => {
    it('leaves everyone unknown when the reply is empty, and keeps the order sent', () => {
      // Act
      const result = mapBulkCreateReply(
        [
          { ref: 'c_2', contact: JUNO },
          { ref: 'c_1', contact: OTTILIE },
        ],
        { created: [], existing: [] },
      );

      // Assess
      expect(result.unknown).toEqual(['c_2', 'c_1']);
      expect(result.matched.size).toBe(0);
      expect(result.falseMerges).toEqual([]);
    });

    it('leaves a person without email, name or company unknown', () => {
      // Act
      const result = mapBulkCreateReply([{ ref: 'c_1', contact: { title: 'Keeper' } }], {
        created: [{ id: 'x-1' }],
        existing: [],
      });

      // Assess
      expect(verdicts(result)).toEqual({ c_1: 'unknown' });
    });

    it('throws when a ref is sent twice', () => {
      // Act
      const act = () =>
        mapBulkCreateReply(
          [
            { ref: 'c_1', contact: WREN },
            { ref: 'c_1', contact: JUNO },
          ],
          { created: [], existing: [] },
        );

      // Assess
      expect(act).toThrow(RangeError);
    });
  });
});

describe('Function: normaliseEmail', () => {
  it.each([
    [' Ana@Bücher.Example ', 'ana@xn--bcher-kva.example'],
    ['ANA@XN--BCHER-KVA.EXAMPLE', 'ana@xn--bcher-kva.example'],
    ['', undefined],
    [null, undefined],
  ])('normalises %j to %j', (email, expected) => {
    // Act
    const normalised = normaliseEmail(email);

    // Assess
    expect(normalised).toBe(expected);
  });
});

describe('Function: toBulkContact', () => {
  it('keeps what bulk_create takes and moves typed phones, website and lists to the follow-up', () => {
    // Act
    const split = toBulkContact(
      {
        first_name: 'Wren',
        email: 'wren.halloway@lanternfish.example',
        website_url: 'https://lanternfish.example',
        direct_phone: '+12025550143',
        mobile_phone: '+12025550188',
        label_names: ['Tide'],
      },
      { salesforce_contact_id: '003A', hubspot_id: undefined },
    );

    // Assess
    expect(split).toEqual({
      contact: {
        first_name: 'Wren',
        email: 'wren.halloway@lanternfish.example',
        salesforce_contact_id: '003A',
      },
      followUp: {
        website_url: 'https://lanternfish.example',
        direct_phone: '+12025550143',
        mobile_phone: '+12025550188',
        label_names: ['Tide'],
      },
    });
  });

  it('needs no follow-up when there is nothing bulk_create cannot take', () => {
    // Act
    const split = toBulkContact({ first_name: 'Ottilie', organization_name: 'Cobblestone Cartography' });

    // Assess
    expect(split.followUp).toBeUndefined();
  });
});
