import { isFetchError } from '@grafana/runtime';

import type { SidecarErrorBody } from './types';

/** A sidecar failure turned into something a dashboard user can act on. */
export interface DescribedError {
  message: string;
  status?: number;
  code?: string;
  field?: string;
}

function sidecarBody(data: unknown): SidecarErrorBody['error'] | undefined {
  if (data && typeof data === 'object' && 'error' in data) {
    const e = (data as { error: unknown }).error;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
      return e as SidecarErrorBody['error'];
    }
  }
  return undefined;
}

/**
 * Turns whatever getBackendSrv().fetch() threw into one readable sentence.
 *
 * Two kinds of failure reach the browser and need different advice: the sidecar answered with its
 * JSON error body (`{error:{code,message,field?}}`), or Grafana's data proxy could not reach the
 * sidecar at all (502/504 with Grafana's own body) — the second is a URL / network problem, not a
 * query problem, and saying so saves the user a detour.
 */
export function describeError(err: unknown): DescribedError {
  if (isFetchError(err)) {
    const status = err.status;
    const body = sidecarBody(err.data);
    if (body) {
      const where = body.field ? ` (field "${body.field}")` : '';
      const base = { status, code: body.code, field: body.field };
      switch (status) {
        case 400:
          return { ...base, message: `The sidecar rejected the query: ${body.message}${where}` };
        case 401:
          return {
            ...base,
            message: `The sidecar refused the request (401 ${body.code}): ${body.message}. Check the bearer token in the data source settings.`,
          };
        case 404:
          return { ...base, message: `Not found on the sidecar: ${body.message}${where}` };
        case 503:
          return { ...base, message: `The sidecar cannot answer right now (503 ${body.code}): ${body.message}` };
        default:
          return { ...base, message: `Sidecar error ${status} (${body.code}): ${body.message}${where}` };
      }
    }
    const proxyMessage =
      err.data && typeof err.data === 'object' && typeof (err.data as { message?: unknown }).message === 'string'
        ? (err.data as { message: string }).message
        : undefined;
    if (status === 502 || status === 504) {
      return {
        status,
        message:
          `Grafana could not reach the sidecar (${status} ${err.statusText ?? ''}${proxyMessage ? `: ${proxyMessage}` : ''}). Check that the sidecar is running and that the data source URL points at it.`.replace(
            /\s+\)/,
            ')'
          ),
      };
    }
    if (status === 401 || status === 403) {
      return {
        status,
        message: `Access denied (${status})${proxyMessage ? `: ${proxyMessage}` : ''}. Check the bearer token in the data source settings.`,
      };
    }
    if (status === 404) {
      return {
        status,
        message: `The sidecar API was not found (404)${proxyMessage ? `: ${proxyMessage}` : ''}. The URL should be the sidecar's base URL, such as http://gpu-host:9740, with no path.`,
      };
    }
    if (!status) {
      return { message: `The request to the sidecar failed${proxyMessage ? `: ${proxyMessage}` : ''}.` };
    }
    return {
      status,
      message:
        `Sidecar request failed (${status} ${err.statusText ?? ''})${proxyMessage ? `: ${proxyMessage}` : ''}`.replace(
          /\s+\)/,
          ')'
        ),
    };
  }
  if (err instanceof Error) {
    return { message: err.message };
  }
  return { message: String(err) };
}
