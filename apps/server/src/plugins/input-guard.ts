import { Readable } from 'node:stream';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import Format from 'typebox/format';
import { AppError } from '../errors.js';
import { findHostileValue } from '../services/hostile-values.js';

function refuse(problem: { field: string; message: string }): AppError {
  return new AppError(400, 'validation_failed', `Invalid request: ${problem.field} ${problem.message}`, [problem]);
}

/**
 * Refuses NUL bytes and lone surrogates in every path parameter, query value and body string
 * (and over-deep bodies) before anything else runs, authentication and the audit trail included:
 * PostgreSQL cannot store them in text, and no field of this API has a use for them.
 */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const problem =
      findHostileValue(request.params, 'params', 2) ??
      findHostileValue(request.query, 'querystring', 3) ??
      (request.url.includes('%00') || request.url.includes('\u0000') ? { field: 'url', message: 'must not contain NUL bytes' } : undefined);
    if (problem) throw refuse(problem);
  });
  app.addHook('preValidation', async (request) => {
    // A raw upload (an image file) is a byte stream, read by its route, not a document to walk.
    if (request.body instanceof Readable) return;
    const problem = findHostileValue(request.body, 'body');
    if (problem) throw refuse(problem);
  });
}

type SchemaWithProperties = { properties?: Record<string, { type?: unknown }> };

/**
 * TypeBox's compiler, plus one rule for query and path parameters: an integer must be written as
 * plain digits. (Its conversion would otherwise read `1.5` or `1e3` as a number first.)
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate = TypeBoxValidatorCompiler(route);
  if (route.httpPart !== 'querystring' && route.httpPart !== 'params') return validate;
  const properties = (route.schema as SchemaWithProperties).properties ?? {};
  const integers = Object.entries(properties)
    .filter(([, schema]) => schema.type === 'integer')
    .map(([name]) => name);
  if (!integers.length) return validate;
  return (value: unknown) => {
    const given = (value ?? {}) as Record<string, unknown>;
    for (const name of integers) {
      const raw = given[name];
      if (typeof raw === 'string' && !/^-?\d{1,20}$/.test(raw))
        return {
          error: [
            { keyword: 'integer', instancePath: `/${name}`, schemaPath: '#', params: {}, message: 'must be a whole number in digits' },
          ],
        };
    }
    return validate(value);
  };
};

/** The first instant of year 1 (PostgreSQL has no year 0). */
const FIRST_YEAR_ONE = new Date('0001-01-01T00:00:00Z').getTime();

/**
 * Narrows `date-time` (after `registerAjvFormats`) to instants a Date and PostgreSQL can hold:
 * the RFC 3339 grammar alone lets through leap seconds (`23:59:60`, not a Date) and year 0.
 */
export function registerStrictFormats(): void {
  const grammar = Format.Get('date-time') ?? (() => true);
  Format.Set('date-time', (value) => {
    if (!grammar(value)) return false;
    const time = Date.parse(value);
    return Number.isFinite(time) && time >= FIRST_YEAR_ONE;
  });
}
