import { createHash } from 'node:crypto';
/**
 * What the CRMs send, built for the tests: Salesforce Outbound Messages (SOAP, with the prefixes
 * and namespaces a sender may choose), Pipedrive webhook events (v2 and v1), the XML attacks a
 * safe reader must refuse, and the secrets the test harness configures. All people fictional.
 */

/** The org the harness accepts (18-character form of `00D000000000001`). */
export const ORG_ID = '00D000000000001EAA';
export const SALESFORCE_SECRET = 'harness-salesforce-endpoint-secret';
export const PIPEDRIVE_USER = 'pipedrive';
export const PIPEDRIVE_PASSWORD = 'harness-pipedrive-password';
export const PIPEDRIVE_BASIC_AUTH = `${PIPEDRIVE_USER}:${PIPEDRIVE_PASSWORD}`;

export function basicAuthorization(credentials: string = PIPEDRIVE_BASIC_AUTH): string {
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

export interface SalesforceNotification {
  /** `Contact`, `Lead`, or another sObject type (`Account`). */
  type: string;
  /** Field API name → text, written as `<sf:Name>text</sf:Name>` (text is inserted as given: escape it yourself). */
  fields: Record<string, string>;
  /** Extra XML inside the sObject, as given. */
  raw?: string;
  /** The notification's id; numbered from 1 when not given. */
  id?: string;
}

export interface MessageOptions {
  organizationId?: string;
  /** Prefix of the SOAP envelope namespace (`soapenv` as Salesforce writes it). */
  envelopePrefix?: string;
  /** Prefix of the outbound namespace; '' for the default namespace (as Salesforce writes it). */
  outboundPrefix?: string;
  /** Prefix of the sObject namespace (`sf`); '' for a default namespace on the sObject. */
  sObjectPrefix?: string;
}

/** A notification id: `04l` + 12 digits, in the 18-character form (the suffix of digits-only ids is AAA). */
export function notificationId(index: number): string {
  return `04l${String(index).padStart(12, '0')}AAA`;
}

/** An Outbound Message as Salesforce sends it (by default with Salesforce's own prefixes). */
export function outboundMessage(
  notifications: SalesforceNotification[],
  options: MessageOptions = {},
): string {
  const env = options.envelopePrefix ?? 'soapenv';
  const out = options.outboundPrefix ?? '';
  const sf = options.sObjectPrefix ?? 'sf';
  const o = (name: string) => (out === '' ? name : `${out}:${name}`);
  const f = (name: string) => (sf === '' ? name : `${sf}:${name}`);
  const outboundDeclaration =
    out === ''
      ? 'xmlns="http://soap.sforce.com/2005/09/outbound"'
      : `xmlns:${out}="http://soap.sforce.com/2005/09/outbound"`;
  // xsi:type is a QName: with a default sObject namespace, the type still needs a prefix of its own.
  const sObjectDeclaration =
    sf === ''
      ? 'xmlns="urn:sobject.enterprise.soap.sforce.com" xmlns:t="urn:sobject.enterprise.soap.sforce.com"'
      : `xmlns:${sf}="urn:sobject.enterprise.soap.sforce.com"`;
  const typePrefix = sf === '' ? 't' : sf;
  const body = notifications
    .map((notification, index) => {
      const fields = Object.entries(notification.fields)
        .map(([name, value]) => `<${f(name)}>${value}</${f(name)}>`)
        .join('');
      return (
        `<${o('Notification')}><${o('Id')}>${notification.id ?? notificationId(index + 1)}</${o('Id')}>` +
        `<${o('sObject')} xsi:type="${typePrefix}:${notification.type}" ${sObjectDeclaration}>` +
        `${fields}${notification.raw ?? ''}</${o('sObject')}></${o('Notification')}>`
      );
    })
    .join('\n');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<${env}:Envelope xmlns:${env}="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    `<${env}:Body><${o('notifications')} ${outboundDeclaration}>` +
    `<${o('OrganizationId')}>${options.organizationId ?? ORG_ID}</${o('OrganizationId')}>` +
    `<${o('ActionId')}>04k000000000001AAA</${o('ActionId')}><${o('SessionId')} xsi:nil="true"/>` +
    `<${o('EnterpriseUrl')}>https://example.my.salesforce.com/services/Soap/c/62.0/00D000000000001</${o('EnterpriseUrl')}>` +
    `<${o('PartnerUrl')}>https://example.my.salesforce.com/services/Soap/u/62.0/00D000000000001</${o('PartnerUrl')}>\n` +
    `${body}\n</${o('notifications')}></${env}:Body></${env}:Envelope>`
  );
}

/** A message of one Contact per email. */
export function contactsMessage(emails: string[], options: MessageOptions = {}): string {
  return outboundMessage(
    emails.map((email, index) => ({
      type: 'Contact',
      fields: {
        // One record per email, as in Salesforce: two messages about two people carry two ids.
        Id: `0035e${createHash('sha256').update(email).digest('hex').slice(0, 10)}`,
        Email: email,
        FirstName: 'Test',
        LastName: `Contact ${index}`,
      },
    })),
    options,
  );
}

/** The classic entity-expansion bomb: ten levels of ten, a billion `lol`s if expanded. */
export function billionLaughs(): string {
  const levels = ['<!ENTITY lol0 "lol">'];
  for (let level = 1; level <= 9; level += 1) {
    levels.push(`<!ENTITY lol${level} "${`&lol${level - 1};`.repeat(10)}">`);
  }
  return `<?xml version="1.0"?><!DOCTYPE lolz [${levels.join('')}]>${outboundMessage([
    { type: 'Contact', fields: { Email: 'a@b.example', FirstName: '&lol9;' } },
  ]).replace('<?xml version="1.0" encoding="UTF-8"?>\n', '')}`;
}

/** An external entity reading a local file (XXE), and a parameter entity fetching a remote DTD. */
export function xxe(kind: 'file' | 'remote-dtd' = 'file'): string {
  const declaration =
    kind === 'file'
      ? '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
      : '<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>';
  return `<?xml version="1.0"?>${declaration}${outboundMessage([
    { type: 'Contact', fields: { Email: 'a@b.example', FirstName: '&xxe;' } },
  ]).replace('<?xml version="1.0" encoding="UTF-8"?>\n', '')}`;
}

/** A Pipedrive webhooks v2 person event. */
export function pipedriveV2(
  /** `create`, `change`, `delete` (or anything else a test needs). */
  action: string,
  data: Record<string, unknown> | null,
  options: { previous?: Record<string, unknown> | null; entity?: string; id?: string; attempt?: number } = {},
): Record<string, unknown> {
  return {
    data,
    previous: options.previous ?? null,
    meta: {
      action,
      entity: options.entity ?? 'person',
      entity_id: typeof data?.id === 'number' ? String(data.id) : '1',
      id: options.id ?? crypto.randomUUID(),
      correlation_id: crypto.randomUUID(),
      company_id: '1000001',
      host: 'example.pipedrive.com',
      is_bulk_edit: false,
      timestamp: new Date().toISOString(),
      type: 'general',
      user_id: '1',
      webhook_id: '99',
      webhook_owner_id: '1',
      change_source: 'app',
      attempt: options.attempt ?? 1,
      version: '2.0',
    },
  };
}

/** A Pipedrive webhooks v1 person event (`current`, `meta.object`, `event`). */
export function pipedriveV1(
  /** `added`, `updated`, `deleted`, `merged` (or anything else a test needs). */
  action: string,
  current: Record<string, unknown> | null,
  previous: Record<string, unknown> | null = null,
): Record<string, unknown> {
  return {
    v: 1,
    matches_filters: { current: [] },
    meta: {
      v: 1,
      action,
      object: 'person',
      id: current?.id ?? 1,
      company_id: 1000001,
      user_id: 1,
      host: 'example.pipedrive.com',
      timestamp: Math.floor(Date.now() / 1000),
      timestamp_micro: Date.now() * 1000,
      permitted_user_ids: [1],
      trans_pending: false,
      is_bulk_update: false,
      pipedrive_service_name: false,
      change_source: 'app',
      webhook_id: '98',
    },
    current,
    previous,
    retry: 0,
    event: `${action}.person`,
  };
}

/** A v2 person's data as Pipedrive sends it. */
export function pipedrivePerson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 42,
    name: 'Jane Austen',
    first_name: 'Jane',
    last_name: 'Austen',
    emails: [{ label: 'work', value: 'jane.austen@chawton.example', primary: true }],
    phones: [
      { label: 'work', value: '+44 20 7946 0775', primary: true },
      { label: 'mobile', value: '+44 7700 900775', primary: false },
    ],
    org_id: 7,
    owner_id: 1,
    label_ids: [],
    visible_to: '3',
    custom_fields: {},
    ...overrides,
  };
}
