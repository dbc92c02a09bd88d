// A cap on requests in progress for the routes whose answers are large or costly to build: past it the
// client is told to come back (503 + Retry-After) instead of queueing work and memory without bound.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.js';

export function limitConcurrency(max: number, flag: string): RequestHandler {
  let inFlight = 0;
  return (_req: Request, res: Response, next: NextFunction) => {
    if (inFlight >= max) {
      res.set('Retry-After', '1');
      next(new ApiError(503, 'overloaded', `${max} heavy requests are in progress (${flag}); retry in a second`));
      return;
    }
    inFlight++;
    // 'close' comes once the answer is flushed or the client went away: a slow reader or a slow body
    // holds its slot as long as it holds the server's memory.
    res.once('close', () => inFlight--);
    next();
  };
}
