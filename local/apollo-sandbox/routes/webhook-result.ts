/** `GET /webhook_result/{request_id}`: polling for the result a phone-reveal callback delivers. */
import { parseRequestId } from '../ids';
import { ApolloReplyError, type Reply } from '../replies';
import type { SandboxState } from '../state';
import type { RouteRequest } from './route';

function webhookResultError(status: number, errorCode: string, extra: Record<string, unknown> = {}) {
  return new ApolloReplyError({ status, body: { error_code: errorCode, ...extra } });
}

/**
 * `GET /webhook_result/{request_id}`: 400 invalid_request_id, 404 request_id_unknown (also for
 * request ids that asked for no webhook), 410 request_id_expired (`expireRequest`), 404
 * result_pending until the first callback is due, then 200 with the payload (even when the
 * callbacks are scripted 'never' or failed), request_id echoed as a string.
 */
export function showWebhookResult(state: SandboxState, { pathId }: RouteRequest): Reply {
  const requestId = parseRequestId(pathId);
  if (requestId === undefined) throw webhookResultError(400, 'invalid_request_id');
  const issued = state.issuedRequests.get(requestId);
  if (issued?.expired) throw webhookResultError(410, 'request_id_expired');
  const phone = issued?.phone;
  if (!phone) throw webhookResultError(404, 'request_id_unknown');
  const waitMs = phone.readyAt - Date.now();
  if (waitMs > 0) {
    throw webhookResultError(404, 'result_pending', {
      retry_after_seconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }
  return {
    status: 200,
    body: {
      request_id: phone.requestId,
      webhook_status: 'success',
      request_type: phone.requestType,
      last_dispatched_at: phone.lastDispatchedAt,
      failure_reason: null,
      webhook_result: phone.payload,
    },
  };
}
