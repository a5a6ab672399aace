import type { RequestHandler } from 'express';
import type { ApiArea } from '../errors.js';

export type Method = 'get' | 'post';

export interface Route {
  method: Method;
  path: string;
  /** Whose error codes its answers carry: BPE-… for biometry, LDE-… for liveness, SVC-… for the service's own. */
  area: ApiArea;
  /** What reads and checks the body, before the request takes an inference slot. */
  body?: RequestHandler[];
  handlers: RequestHandler[];
  /**
   * Inference routes pass the admission gate (body budget, then an inference slot once the body is in) and the body
   * deadline; `maxBodyBytes` is the largest body they read, whatever its Content-Type.
   */
  inference?: { maxBodyBytes: number };
}
