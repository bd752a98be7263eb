import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  basicCredentials,
  parsePipedriveWebhook,
  requireBasicAuth,
  type PipedriveEvent,
} from '../../lib/doors/pipedrive';
import { isInvalidPerson } from '../../lib/requests';
import type { Person } from '../../lib/person';
import { PROJECT_ROOT } from '../../local/stack';
import {
  PIPEDRIVE_BASIC_AUTH,
  basicAuthorization,
  pipedrivePerson,
  pipedriveV1,
  pipedriveV2,
} from '../support/crm-messages';

const options = { defaultPhoneCountry: 'US' as const };
const sample = readFileSync(join(PROJECT_ROOT, 'events/pipedrive-person-change.json'), 'utf8');

function parse(body: unknown): PipedriveEvent {
  return parsePipedriveWebhook(typeof body === 'string' ? body : JSON.stringify(body), options);
}

function fields(event: PipedriveEvent): Person['fields'] {
  if (event.kind !== 'person' || isInvalidPerson(event.entry)) {
    throw new Error(`expected a person: ${JSON.stringify(event)}`);
  }
  return event.entry.fields;
}

function reason(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  return 'no error';
}

describe('Function: parsePipedriveWebhook', () => {
  it('reads the sample change event: primary email, work and mobile phones by label, job title; previous ignored', () => {
    const event = parse(sample);

    expect(fields(event)).toEqual({
      first_name: 'Jane',
      last_name: 'Austen',
      email: 'jane.austen@chawton.example',
      title: 'Novelist',
      direct_phone: '+442079460775',
      mobile_phone: '+447700900775',
    });
    expect(event.kind === 'person' && event.delivery?.id).toBe(
      'pipedrive:6b1c2e3f-1d2a-4b5c-8d9e-0f1a2b3c4d5e',
    );
  });

  it('converts create and change, and acknowledges delete and other entities without a person', () => {
    expect(fields(parse(pipedriveV2('create', pipedrivePerson())))).toMatchObject({
      email: 'jane.austen@chawton.example',
    });
    expect(parse(pipedriveV2('delete', null, { previous: pipedrivePerson() }))).toEqual({
      kind: 'ignored',
      event: 'delete.person',
    });
    expect(parse(pipedriveV2('change', { id: 1, title: 'Deal' }, { entity: 'deal' }))).toEqual({
      kind: 'ignored',
      event: 'change.deal',
    });
    expect(parse(pipedriveV2('create', { id: 1 }, { entity: 'organization' }))).toEqual({
      kind: 'ignored',
      event: 'create.organization',
    });
  });

  it('reads the person from data, never from previous, on change', () => {
    const event = parse(
      pipedriveV2(
        'change',
        pipedrivePerson({ emails: [{ label: 'work', value: 'new@chawton.example', primary: true }] }),
        {
          previous: {
            emails: [{ label: 'work', value: 'old@chawton.example', primary: true }],
            first_name: 'Janet',
          },
        },
      ),
    );

    expect(fields(event)).toMatchObject({ email: 'new@chawton.example', first_name: 'Jane' });
  });

  it('maps phone labels: mobile, work, and any other label (home, other, none) to other_phone; primary first', () => {
    const event = parse(
      pipedriveV2(
        'create',
        pipedrivePerson({
          phones: [
            { label: 'home', value: '555-010-0001', primary: false },
            { label: 'mobile', value: '555-010-0002', primary: false },
            { label: 'Mobile', value: '555-010-0003', primary: true },
            { label: 'WORK', value: '555-010-0004' },
            { label: 'other', value: '555-010-0005', primary: true },
          ],
        }),
      ),
    );

    expect(fields(event)).toMatchObject({
      mobile_phone: '+15550100003',
      direct_phone: '+15550100004',
      other_phone: '+15550100005',
    });
  });

  it('tolerates other spellings: email and phone as strings or lists of strings, v1 names, org name when present', () => {
    const event = parse(
      pipedriveV2('create', {
        id: 3,
        name: 'Charlotte  Brontë Nicholls',
        email: ['charlotte@haworth.example'],
        phone: '555-010-1847',
        org_id: { value: 9, name: 'Haworth Parsonage' },
        job_title: 12,
        unexpected: { nested: [1, 2, 3] },
      }),
    );

    expect(fields(event)).toEqual({
      first_name: 'Charlotte',
      last_name: 'Brontë Nicholls',
      email: 'charlotte@haworth.example',
      organization_name: 'Haworth Parsonage',
      title: '12',
      other_phone: '+15550101847',
    });
  });

  it('reads v1 events: added, updated and merged carry the person in current; deleted is ignored', () => {
    const current = {
      id: 5,
      first_name: 'Anne',
      last_name: 'Brontë',
      email: [{ label: 'work', value: 'anne@haworth.example', primary: true }],
      phone: [{ label: 'mobile', value: '555-010-1849', primary: true }],
      org_name: 'Haworth Parsonage',
    };

    for (const action of ['added', 'updated', 'merged']) {
      const event = parse(pipedriveV1(action, current, action === 'updated' ? { first_name: 'Ann' } : null));
      expect(fields(event)).toEqual({
        first_name: 'Anne',
        last_name: 'Brontë',
        email: 'anne@haworth.example',
        organization_name: 'Haworth Parsonage',
        mobile_phone: '+15550101849',
      });
      expect(event.kind === 'person' && event.delivery).toBeUndefined();
    }
    expect(parse(pipedriveV1('deleted', null, current))).toEqual({
      kind: 'ignored',
      event: 'deleted.person',
    });
  });

  it('answers a person who cannot be converted with an invalid result, not a refusal', () => {
    const nameOnly = parse(pipedriveV2('create', { id: 8, name: 'Emily Brontë', emails: [], org_id: 9 }));
    const badEmail = parse(
      pipedriveV2('create', pipedrivePerson({ emails: [{ value: 'emily at haworth', primary: true }] })),
    );

    expect(nameOnly).toMatchObject({
      kind: 'person',
      entry: {
        id: null,
        status: 'invalid',
        contact_id: null,
        field: 'body.data',
        reason: expect.stringMatching(/^no identity/) as unknown,
      },
    });
    expect(badEmail).toMatchObject({
      entry: { status: 'invalid', field: 'body.data.email', reason: 'not an email address' },
    });
  });

  it('leaves meta.attempt out of what tells a retry from another delivery', () => {
    const first = parse(pipedriveV2('create', pipedrivePerson(), { id: 'evt-1', attempt: 1 }));
    const retry = parse(pipedriveV2('create', pipedrivePerson(), { id: 'evt-1', attempt: 3 }));

    if (first.kind !== 'person' || retry.kind !== 'person') throw new Error('people expected');
    const strip = (body: Buffer | undefined) =>
      JSON.parse(body?.toString() ?? '{}') as { meta: Record<string, unknown> };
    expect(strip(first.delivery?.body).meta.attempt).toBeUndefined();
    // Both carry fresh correlation ids and timestamps here; the same event repeats them.
    expect({ ...strip(first.delivery?.body).meta, correlation_id: 0, timestamp: 0 }).toEqual({
      ...strip(retry.delivery?.body).meta,
      correlation_id: 0,
      timestamp: 0,
    });
  });

  it.each([
    ['not JSON', 'meta=1', 'body: not valid JSON'],
    ['an array', '[]', 'body: must be a JSON object'],
    ['no meta', '{"data": {}}', 'body.meta: must be an object (a Pipedrive webhook)'],
    [
      'an unknown meta',
      '{"meta": {"action": "create"}}',
      'body.meta: not a Pipedrive webhook (neither version 2.0 nor 1)',
    ],
    [
      'a v2 create without data',
      JSON.stringify(pipedriveV2('create', null)),
      'body.data: must be the person (an object)',
    ],
    [
      'a v1 update without current',
      JSON.stringify(pipedriveV1('updated', null)),
      'body.current: must be the person (an object)',
    ],
  ])('refuses %s with a 400', (_what, body, expected) => {
    expect(reason(() => parse(body))).toBe(`InvalidRequestError: ${expected}`);
  });
});

describe('Pipedrive authentication', () => {
  const rotating = `${PIPEDRIVE_BASIC_AUTH} pipedrive:the-next-password-0123`;

  it('accepts either configured credential (rotation), the scheme in any case', () => {
    expect(() => requireBasicAuth(basicAuthorization(), rotating)).not.toThrow();
    expect(() =>
      requireBasicAuth(basicAuthorization('pipedrive:the-next-password-0123'), rotating),
    ).not.toThrow();
    expect(() => requireBasicAuth(basicAuthorization().replace('Basic', 'basic'), rotating)).not.toThrow();
  });

  it.each([
    ['no header', undefined],
    ['another scheme', `Bearer ${Buffer.from(PIPEDRIVE_BASIC_AUTH).toString('base64')}`],
    ['another password', basicAuthorization('pipedrive:wrong-password-but-long')],
    ['another user', basicAuthorization(PIPEDRIVE_BASIC_AUTH.replace('pipedrive', 'pipedrivE'))],
    ['the user alone', basicAuthorization('pipedrive')],
    ['not base64', 'Basic ***'],
    ['empty', 'Basic '],
  ])('refuses %s with 401', (_what, header) => {
    expect(reason(() => requireBasicAuth(header, rotating))).toBe(
      'UnauthorizedError: Pipedrive basic credentials missing or wrong',
    );
  });

  it('refuses unusable credentials at first use, naming the setting and never the value', () => {
    expect(reason(() => basicCredentials('no-colon-here'))).toBe(
      'ConfigurationError: PIPEDRIVE_BASIC_AUTH: secret 1 must be user:password',
    );
    expect(reason(() => basicCredentials(`${PIPEDRIVE_BASIC_AUTH} user:short`))).toBe(
      'ConfigurationError: PIPEDRIVE_BASIC_AUTH: secret 2 must have a password of at least 16 characters',
    );
    expect(reason(() => basicCredentials(':password-without-user'))).toMatch(/must be user:password/);
  });
});
