import { createHash } from 'node:crypto';
import { salesforceId18 } from '../crm-ids';
import { ConfigurationError, InvalidRequestError, UnauthorizedError } from '../errors';
import { MAX_PEOPLE_PER_REQUEST, type PersonInput, type PersonOptions } from '../person';
import type { PersonEntry } from '../requests';
import { invalidEntry, matchesAnySecret, secretList, toEntry } from './common';
import {
  XSI_NAMESPACE,
  attributeValue,
  childNamed,
  childrenNamed,
  isNil,
  readXml,
  resolveQName,
  type XmlElement,
} from './xml';

/**
 * The Salesforce door: Outbound Messages (SOAP 1.1, sent by Workflow Rules and Flows) of Contacts
 * and Leads, read into the canonical person. No AWS here; `functions/salesforce-webhook.ts` wires it.
 * The facts it relies on, with their sources: `docs/crm/salesforce.md`.
 */

export const SOAP_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';
export const OUTBOUND_NAMESPACE = 'http://soap.sforce.com/2005/09/outbound';
export const SOBJECT_NAMESPACE = 'urn:sobject.enterprise.soap.sforce.com';

/**
 * The acknowledgement Salesforce waits for. Anything else (another body, another status) leaves
 * the message in its queue, retried for up to 24 hours.
 */
export const SALESFORCE_ACK =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>' +
  '</notificationsResponse></soapenv:Body></soapenv:Envelope>';

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * A SOAP 1.1 fault. Salesforce retries it like any answer that is not the Ack, and shows
 * `faultstring` as the delivery failure reason in Setup > Outbound Messages.
 */
export function soapFaultXml(faultCode: 'Client' | 'Server', faultString: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE_NAMESPACE}"><soapenv:Body><soapenv:Fault>` +
    `<faultcode>soapenv:${faultCode}</faultcode><faultstring>${escapeXml(faultString)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  );
}

/** Envelope, Body, notifications, Notification, sObject, a field, and a relationship's field. */
const MAX_XML_DEPTH = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The body as text: Salesforce sends UTF-8; other bytes are refused, never replaced. */
export function xmlText(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new InvalidRequestError('body: not UTF-8 XML');
  }
}

/** What an Outbound Message comes to. */
export type OutboundMessage =
  | {
      kind: 'people';
      /** The sending org, in its 18-character form. */
      organizationId: string;
      /** One entry per Notification, in order. */
      people: PersonEntry[];
      /** Names the delivery for `answerOnce`: the org and its Notification ids (each names one event). */
      deliveryId: string;
      /** What a retry of the same message repeats (the notifications' ids, types and fields). */
      deliveryBody: Buffer;
    }
  | {
      kind: 'ignored';
      organizationId: string;
      /** The sObject type the message is about (`sf:Account`): not a person. */
      type: string;
    };

type Field = keyof PersonInput;

/** Contact fields and where they go. `Phone` is the Contact's business line. */
const CONTACT_FIELDS: Record<string, Field> = {
  FirstName: 'first_name',
  LastName: 'last_name',
  Email: 'email',
  Title: 'title',
  Phone: 'direct_phone',
  MobilePhone: 'mobile_phone',
  HomePhone: 'home_phone',
  OtherPhone: 'other_phone',
};
const CONTACT_ADDRESS = [
  'MailingStreet',
  'MailingCity',
  'MailingState',
  'MailingPostalCode',
  'MailingCountry',
];

/** Lead fields and where they go. */
const LEAD_FIELDS: Record<string, Field> = {
  FirstName: 'first_name',
  LastName: 'last_name',
  Email: 'email',
  Title: 'title',
  Company: 'organization_name',
  Website: 'website_url',
  Phone: 'direct_phone',
  MobilePhone: 'mobile_phone',
};
const LEAD_ADDRESS = ['Street', 'City', 'State', 'PostalCode', 'Country'];

export interface SalesforceOptions extends PersonOptions {
  /** A Contact field holding its account's name (e.g. the formula field `Account_Name__c`). */
  accountNameField?: string;
}

/** A field's text, or undefined when absent, nil or blank. */
function fieldText(sObject: XmlElement, name: string): string | undefined {
  const element = childNamed(sObject, SOBJECT_NAMESPACE, name);
  if (element === undefined || isNil(element)) return undefined;
  return element.text.trim() === '' ? undefined : element.text;
}

/** `Account.Name` when the sender nests the relationship (tolerated; Outbound Messages do not). */
function nestedAccountName(sObject: XmlElement): string | undefined {
  const account = childNamed(sObject, SOBJECT_NAMESPACE, 'Account');
  return account === undefined || isNil(account) ? undefined : fieldText(account, 'Name');
}

function address(sObject: XmlElement, fields: readonly string[]): string | undefined {
  const parts = fields.map((name) => fieldText(sObject, name)?.trim()).filter((part) => part);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** The person of one sObject (a Contact or a Lead), as the canonical input. */
function personInput(sObject: XmlElement, type: 'Contact' | 'Lead', options: SalesforceOptions): PersonInput {
  const input: Record<string, string | undefined> = {};
  for (const [name, field] of Object.entries(type === 'Contact' ? CONTACT_FIELDS : LEAD_FIELDS)) {
    input[field] = fieldText(sObject, name);
  }
  input.present_raw_address = address(sObject, type === 'Contact' ? CONTACT_ADDRESS : LEAD_ADDRESS);
  if (type === 'Contact') {
    input.organization_name =
      (options.accountNameField && fieldText(sObject, options.accountNameField)) ||
      nestedAccountName(sObject);
  }
  const id = fieldText(sObject, 'Id')?.trim();
  if (id !== undefined) input[type === 'Contact' ? 'salesforce_contact_id' : 'salesforce_lead_id'] = id;
  return input;
}

function requireChild(parent: XmlElement, namespace: string, name: string, location: string): XmlElement {
  const child = childNamed(parent, namespace, name);
  if (child === undefined) throw new InvalidRequestError(`${location}: has no ${name} element`);
  return child;
}

/** An id element's value in its 18-character form (400 when it is not a Salesforce id). */
function requireId(parent: XmlElement, name: string, location: string): string {
  const element = requireChild(parent, OUTBOUND_NAMESPACE, name, location);
  const id = salesforceId18(element.text.trim());
  if (id === undefined) throw new InvalidRequestError(`${location}.${name}: not a Salesforce id`);
  return id;
}

interface ReadNotification {
  id: string;
  /**
   * `Contact` or `Lead`; the other sObject type as written (`sf:Account`); or undefined when the
   * notification carries no typed record (Salesforce sends no data for a record deleted before
   * the message went out).
   */
  type: string | undefined;
  sObject: XmlElement | undefined;
}

function readNotification(notification: XmlElement, location: string): ReadNotification {
  const id = requireId(notification, 'Id', location);
  const sObject = childNamed(notification, OUTBOUND_NAMESPACE, 'sObject');
  const written = sObject === undefined ? undefined : attributeValue(sObject, XSI_NAMESPACE, 'type');
  if (sObject === undefined || written === undefined) return { id, type: undefined, sObject };
  const type = resolveQName(sObject, written);
  const isPerson =
    type !== undefined &&
    type.namespace === SOBJECT_NAMESPACE &&
    (type.name === 'Contact' || type.name === 'Lead');
  return { id, type: isPerson ? type.name : written.trim().slice(0, 100), sObject };
}

/** One notification's entry: its person, or why it has none. */
function entryOf({ type, sObject }: ReadNotification, at: string, options: SalesforceOptions): PersonEntry {
  if (sObject === undefined) return invalidEntry(at, 'no record data (deleted before the message was sent?)');
  if (type === undefined) return invalidEntry(at, 'no xsi:type: not a Contact or Lead');
  if (type !== 'Contact' && type !== 'Lead') return invalidEntry(at, `not a Contact or Lead (${type})`);
  return toEntry(personInput(sObject, type, options), at, options);
}

/**
 * Reads an Outbound Message: `Envelope/Body/notifications` with `OrganizationId` and 1 to 100
 * `Notification`s, each an `Id` and an `sObject` of `xsi:type` `sf:Contact` or `sf:Lead` whose
 * chosen fields are elements in the sObject namespace. Elements are matched by namespace, not by
 * prefix; unknown elements are ignored. A message about another sObject type (an Account, say) is
 * `ignored`; in a message of people, a notification of another type, or without record data, gets
 * its own `invalid` result. Throws InvalidRequestError (400) for anything that is not such a
 * message (a retry would not change it).
 */
export function parseOutboundMessage(text: string, options: SalesforceOptions): OutboundMessage {
  const envelope = readXml(text, { maxDepth: MAX_XML_DEPTH });
  if (envelope.namespace !== SOAP_ENVELOPE_NAMESPACE || envelope.name !== 'Envelope') {
    throw new InvalidRequestError('body: not a SOAP 1.1 envelope');
  }
  const body = requireChild(envelope, SOAP_ENVELOPE_NAMESPACE, 'Body', 'body.Envelope');
  const notifications = requireChild(body, OUTBOUND_NAMESPACE, 'notifications', 'body.Envelope.Body');
  const location = 'body.notifications';
  const organizationId = requireId(notifications, 'OrganizationId', location);

  const elements = childrenNamed(notifications, OUTBOUND_NAMESPACE, 'Notification');
  if (elements.length < 1 || elements.length > MAX_PEOPLE_PER_REQUEST) {
    throw new InvalidRequestError(
      `${location}.Notification: must be 1 to ${MAX_PEOPLE_PER_REQUEST} notifications, not ${elements.length}`,
    );
  }
  const read = elements.map((element, index) =>
    readNotification(element, `${location}.Notification[${index}]`),
  );
  // A message about another object only (its Outbound Message is defined on an Account, say).
  const [first] = read;
  if (read.every(({ type }) => type !== undefined && type !== 'Contact' && type !== 'Lead')) {
    return { kind: 'ignored', organizationId, type: first?.type ?? '' };
  }

  const entries = read.map((notification, index) =>
    entryOf(notification, `${location}.Notification[${index}].sObject`, options),
  );
  const ids = read.map(({ id }) => id);
  const repeated = read.map(({ id, type, sObject }) => [
    id,
    type ?? null,
    (sObject?.children ?? []).map((field) => [field.namespace, field.name, field.text]),
  ]);
  return {
    kind: 'people',
    organizationId,
    people: entries,
    deliveryId: `salesforce:${organizationId}:${createHash('sha256').update(ids.join(',')).digest('base64url')}`,
    deliveryBody: Buffer.from(JSON.stringify(repeated)),
  };
}

/**
 * The path secret(s) of `SALESFORCE_ENDPOINT_SECRET`: URL-safe (they travel in the path) and long
 * enough not to be guessed. Two may be set while the endpoint URL in Salesforce is being changed.
 */
export function endpointSecrets(value: string): string[] {
  return secretList('SALESFORCE_ENDPOINT_SECRET', value, (secret) =>
    !/^[A-Za-z0-9_-]+$/.test(secret)
      ? 'must be URL-safe: letters, digits, "-" and "_" only'
      : secret.length < 24
        ? 'must be at least 24 characters long'
        : undefined,
  );
}

/** Checks the secret in the path against the configured one(s), in constant time. */
export function requireEndpointSecret(given: string, configured: string): void {
  if (!matchesAnySecret(given, endpointSecrets(configured))) {
    throw new UnauthorizedError('Salesforce endpoint secret missing or wrong');
  }
}

/**
 * Checks the message's org against the configured ones (all in the 18-character form, so either
 * spelling may be configured). Salesforce signs nothing: the org id, the path secret and TLS are
 * what it offers.
 */
export function requireSalesforceOrg(organizationId: string, configured: readonly string[]): void {
  if (configured.length === 0) {
    throw new ConfigurationError('SALESFORCE_ORG_IDS must be set for the Salesforce door');
  }
  if (!matchesAnySecret(organizationId, configured)) {
    throw new UnauthorizedError('Outbound Message from an org that is not configured');
  }
}
