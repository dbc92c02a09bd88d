// A cap on requests in progress for the routes whose answers are large or costly to build: past it the
// client is told to come back (503 + Retry-After) instead of queueing work and memory without bound.
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.js';

export interface ConcurrencyLimit extends RequestHandler {
  /** Takes a slot for `res` until it closes (true at once if it holds one); false (and no slot) when all are taken. */
  tryEnter: (res: ServerResponse) => boolean;
}

export function limitConcurrency(max: number, flag: string): ConcurrencyLimit {
  let inFlight = 0;
  // A request a hot route took a slot for, then handed on to Express, keeps that one slot.
  const holding = new WeakSet<ServerResponse>();
  const tryEnter = (res: ServerResponse): boolean => {
    if (holding.has(res)) return true;
    if (inFlight >= max) return false;
    inFlight++;
    holding.add(res);
    // 'close' comes once the answer is flushed or the client went away: a slow reader or a slow body
    // holds its slot as long as it holds the server's memory.
    res.once('close', () => inFlight--);
    return true;
  };
  const middleware = (_req: Request, res: Response, next: NextFunction) => {
    if (!tryEnter(res)) {
      res.set('Retry-After', '1');
      next(new ApiError(503, 'overloaded', `${max} heavy requests are in progress (${flag}); retry in a second`));
      return;
    }
    next();
  };
  return Object.assign(middleware, { tryEnter });
}
