import { bodyBytes, pathParameter } from '../lib/http/api';
import { soapAck, soapRoute } from '../lib/http/soap';
import { handOver } from '../lib/doors/common';
import {
  parseOutboundMessage,
  requireEndpointSecret,
  requireSalesforceOrg,
  xmlText,
} from '../lib/doors/salesforce';
import { logger } from '../lib/logger';
import { getConversionRoot } from '../lib/roots/conversion';

/**
 * POST /webhooks/salesforce/{secret}: Salesforce Outbound Messages of Contacts and Leads. The Ack
 * goes back only once the people are recorded and handed to the queue; anything else (the queue
 * refused a send, a person held by another delivery) is a SOAP fault, which Salesforce retries.
 */
export const handler = soapRoute(async (request) => {
  const root = getConversionRoot();
  const { config } = root;
  const body = bodyBytes(request, config.maxBodyBytes);
  requireEndpointSecret(pathParameter(request, 'secret'), await config.secret('SALESFORCE_ENDPOINT_SECRET'));
  const message = parseOutboundMessage(xmlText(body), {
    defaultPhoneCountry: config.defaultPhoneCountry,
    accountNameField: config.salesforceAccountNameField,
  });
  requireSalesforceOrg(message.organizationId, config.salesforceOrgIds);
  if (message.kind === 'ignored') {
    logger.warn('Outbound Message about another sObject type acknowledged and ignored', {
      type: message.type,
    });
    return soapAck();
  }
  const answer = await handOver(root, message.people, request, {
    id: message.deliveryId,
    body: message.deliveryBody,
  });
  // Salesforce reads only the Ack: the results go to the log (statuses and invalid fields, no person data).
  logger.info('Outbound Message handed over', {
    statuses: answer.results.map((result) => result.status),
    invalid: answer.results.flatMap((result) =>
      'field' in result ? [`${result.field}: ${result.reason}`] : [],
    ),
  });
  return soapAck();
});
