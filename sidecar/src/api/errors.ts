// Errors the API answers with: { error: { code, message, field? } } and a fitting HTTP status.
import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** "queries[0].filters.gpu" from a zod issue path. */
export function fieldPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Parses with zod; a failure becomes a 400 naming the first bad field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, prefix?: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  const path = [...(prefix ? [prefix] : []), ...issue.path];
  const field = fieldPath(path);
  throw new ApiError(400, 'bad-request', field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}

export const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  // Failed while an answer was being written (a streamed query): the client sees it cut off.
  if (res.headersSent) {
    res.locals.internalError = err;
    res.destroy();
    return;
  }
  if (err instanceof ApiError) {
    res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    return;
  }
  // body-parser errors (bad JSON, too large) carry a status and a type.
  const status = typeof err?.status === 'number' ? err.status : 500;
  if (status >= 400 && status < 500) {
    const message = err.type === 'entity.parse.failed' ? 'body is not valid JSON' : String(err.message ?? 'bad request');
    res.status(status).json({ error: { code: err.type === 'entity.too.large' ? 'too-large' : 'bad-request', message, field: 'body' } });
    return;
  }
  res.status(500).json({ error: { code: 'internal', message: 'internal error (see the sidecar log)' } });
  res.locals.internalError = err;
};
