import { ErrorBody } from '@ctp/contracts';

/** Error responses for a route's schema, so that OpenAPI documents every failure it can answer. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}

/** The OpenAPI security requirement of routes that need a bearer token. */
export const bearer = [{ bearerAuth: [] }];
