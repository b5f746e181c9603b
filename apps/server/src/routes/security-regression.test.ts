import { randomUUID } from 'node:crypto';
import { getTableName, is, sql, Table } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../db/schema.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

// The security regression suite, generated from the OpenAPI document: every route, every path,
// query and body parameter, with hostile values. A route added later is covered without anyone
// remembering it. Every answer must be a 4xx (never a 5xx), name the field when it is a
// validation error, carry no SQL, stack, file path or driver VM name, write nothing (but the
// audit trail), and every refused mutating request must be in the audit trail.

type JsonSchema = {
  type?: string | string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
};
type Operation = {
  parameters?: { in: 'path' | 'query' | 'header'; name: string; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
};
type Where = 'path' | 'query' | 'body';
interface Case {
  method: string;
  path: string;
  label: string;
  url: string;
  payload?: string;
  field: string;
}

const LEAK =
  /insert into|select .* from|update .* set|delete from|"audit_events"|\bat .*\(.*:\d+:\d+\)|node_modules|\/src\/|\/var\/|\/tmp\/|\/work\/|l[0-9a-f]{16}-|\\u0000/i;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The schema's alternatives flattened (`anyOf` of enums, nullable strings...). */
const variants = (s: JsonSchema): JsonSchema[] => s.anyOf ?? s.oneOf ?? [s];
const typesOf = (s: JsonSchema): string[] => variants(s).flatMap((v) => [v.type ?? []].flat());

/** A value the schema accepts (enough for the fields not being attacked). */
function sample(s: JsonSchema): unknown {
  const v = variants(s).find((x) => x.type !== 'null') ?? s;
  if (v.const !== undefined) return v.const;
  if (v.enum) return v.enum[0];
  switch (v.type) {
    case 'string':
      if (v.format === 'uuid') return randomUUID();
      if (v.format === 'date-time') return new Date().toISOString();
      if (v.format === 'email') return 'someone@example.org';
      if (v.format === 'ipv4') return '10.0.0.1';
      return ['sample-1', 'a1', 'Sample password 1'].find((c) => !v.pattern || new RegExp(v.pattern).test(c)) ?? 'sample';
    case 'integer':
    case 'number':
      return v.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return Object.fromEntries((v.required ?? []).map((name) => [name, sample(v.properties?.[name] ?? {})]));
    default:
      return 'sample';
  }
}

/** The hostile values for one parameter, by what its schema says it is. */
function hostileValues(s: JsonSchema, where: Where): { label: string; value: unknown }[] {
  const types = typesOf(s);
  const values: { label: string; value: unknown }[] = [
    { label: 'a NUL byte', value: 'a\u0000b' },
    { label: 'a huge string', value: 'x'.repeat(where === 'body' ? 200_000 : 8_000) },
  ];
  if (variants(s).some((v) => v.format === 'uuid'))
    values.push({ label: 'a non-UUID id', value: 'not-a-uuid' }, { label: 'an SQL fragment', value: "1' OR '1'='1" });
  if (variants(s).some((v) => v.format === 'date-time'))
    values.push(
      { label: 'a bad date', value: '2024-13-45T99:99:99Z' },
      { label: 'a leap second', value: '2024-01-01T23:59:60Z' },
      { label: 'year 0', value: '0000-01-01T00:00:00Z' },
    );
  const numeric = types.includes('integer') || types.includes('number');
  if (numeric) {
    values.push({ label: 'a huge number', value: where === 'body' ? 1e20 : '99999999999999999999' });
    values.push({ label: 'an unsafe integer', value: where === 'body' ? 2 ** 53 + 2 : '9007199254740994' });
    if (types.includes('integer')) values.push({ label: 'a fraction', value: where === 'body' ? 1.5 : '1.5' });
    const minimum = variants(s).find((v) => v.minimum !== undefined)?.minimum;
    if (minimum !== undefined) values.push({ label: 'below the minimum', value: where === 'body' ? minimum - 1 : String(minimum - 1) });
    const maximum = variants(s).find((v) => v.maximum !== undefined)?.maximum;
    if (maximum !== undefined && maximum < Number.MAX_SAFE_INTEGER)
      values.push({ label: 'above the maximum', value: where === 'body' ? maximum + 1 : String(maximum + 1) });
  }
  if (where === 'body') {
    // (A URL cannot carry one: percent-decoding makes U+FFFD of it.)
    values.push({ label: 'a lone surrogate', value: 'x\ud800' });
    for (const [label, value] of [
      ['a number', 12345],
      ['a boolean', true],
      ['an object', { nested: { deeper: 'x' } }],
      ['an array', ['x', 1]],
    ] as const) {
      const wrong = typeof value === 'object' ? (Array.isArray(value) ? 'array' : 'object') : typeof value;
      if (!types.includes(wrong) && !(wrong === 'number' && numeric) && types.length)
        values.push({ label: `the wrong type (${label})`, value });
    }
  } else if (numeric || types.includes('boolean')) {
    values.push({ label: 'the wrong type (a word)', value: 'abc' });
  }
  return values;
}

/** Every body field path (objects recursively, a few levels deep) with its schema. */
function bodyFields(s: JsonSchema, prefix: string[] = [], depth = 0): { path: string[]; schema: JsonSchema }[] {
  const out: { path: string[]; schema: JsonSchema }[] = [];
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    out.push({ path: [...prefix, name], schema: child });
    if (depth < 3 && child.properties) out.push(...bodyFields(child, [...prefix, name], depth + 1));
  }
  return out;
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(target);
  let node = copy;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

/** All the hostile requests of one operation. */
function casesOf(method: string, path: string, operation: Operation): Case[] {
  const parameters = operation.parameters ?? [];
  const pathParams = Object.fromEntries(parameters.filter((p) => p.in === 'path').map((p) => [p.name, String(sample(p.schema))]));
  const bodySchema = operation.requestBody?.content['application/json']?.schema;
  const body = bodySchema ? (sample(bodySchema) as Record<string, unknown>) : undefined;
  const urlOf = (params: Record<string, string>, query = '') =>
    path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name]!)) + query;
  const cases: Case[] = [];
  for (const p of parameters) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    for (const { label, value } of hostileValues(p.schema, p.in)) {
      const text = String(value);
      const url = p.in === 'path' ? urlOf({ ...pathParams, [p.name]: text }) : urlOf(pathParams, `?${p.name}=${encodeURIComponent(text)}`);
      const field = p.in === 'path' ? `params.${p.name}` : `querystring.${p.name}`;
      cases.push({ method, path, label: `${field} = ${label}`, url, field, payload: body && JSON.stringify(body) });
    }
  }
  if (bodySchema && body) {
    for (const { path: fieldPath, schema: fieldSchema } of bodyFields(bodySchema)) {
      for (const { label, value } of hostileValues(fieldSchema, 'body')) {
        const field = ['body', ...fieldPath].join('.');
        cases.push({
          method,
          path,
          label: `${field} = ${label}`,
          url: urlOf(pathParams),
          field,
          payload: JSON.stringify(setIn(body, fieldPath, value)),
        });
      }
    }
    for (const [label, payload] of [
      ['the body as an array', '[1,2]'],
      ['the body as a string', '"text"'],
      ['the body nested 5,000 levels', `{"x":${'['.repeat(5000)}${']'.repeat(5000)}}`],
    ] as const)
      cases.push({ method, path, label, url: urlOf(pathParams), field: 'body', payload });
  }
  return cases;
}

describe('security regression suite (generated from the OpenAPI document)', () => {
  let ctx: TestContext;
  let adminHeaders: Record<string, string>;
  let operations: { method: string; path: string; operation: Operation }[];
  const tables = (Object.values(schema) as unknown[])
    .filter((value): value is Table => is(value, Table))
    .map((table) => getTableName(table))
    .filter((name) => name !== 'audit_events');

  beforeAll(async () => {
    ctx = await createTestApp({ bodyLimitBytes: 1024 * 1024 });
    adminHeaders = (await signedIn(ctx, 'admin')).headers;
    const document = (await ctx.app.inject('/api/openapi.json')).json() as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
    );
  });
  afterAll(() => ctx.close());

  const rowCounts = async (): Promise<Record<string, number>> => {
    const query = tables.map((t) => `select '${t}' as t, count(*)::int as n from "${t}"`).join(' union all ');
    const result = (await ctx.services.database.db.execute(sql.raw(query))) as unknown as { rows: { t: string; n: number }[] };
    return Object.fromEntries(result.rows.map((r) => [r.t, Number(r.n)]));
  };

  it('covers every documented route with at least one hostile case', () => {
    expect(operations.length).toBeGreaterThan(30);
    const withInput = operations.filter((o) => o.operation.parameters?.length || o.operation.requestBody);
    for (const o of withInput) expect(casesOf(o.method, o.path, o.operation).length, `${o.method} ${o.path}`).toBeGreaterThan(0);
  });

  for (const caller of ['anonymous', 'admin'] as const) {
    it(`answers every hostile request as ${caller} with a clean 4xx, writing nothing but the audit trail`, async () => {
      const headers = caller === 'admin' ? adminHeaders : {};
      const failures: string[] = [];
      const audited: { id: string; name: string }[] = [];
      let n = 0;
      for (const { method, path, operation } of operations) {
        const cases = casesOf(method, path, operation);
        if (!cases.length) continue;
        const before = await rowCounts();
        for (const c of cases) {
          const requestId = `sr-${caller}-${n++}`;
          const name = `${caller} ${method} ${path} with ${c.label}`;
          const response = await ctx.app.inject({
            method: method as 'GET',
            url: c.url,
            headers: { ...headers, 'x-request-id': requestId, ...(c.payload !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(c.payload !== undefined ? { payload: c.payload } : {}),
          });
          const status = response.statusCode;
          if (status < 400 || status >= 500) failures.push(`${name}: status ${status} ${response.body.slice(0, 200)}`);
          if (LEAK.test(response.body)) failures.push(`${name}: leaks internals: ${response.body.slice(0, 300)}`);
          const error = (response.json() as { error?: { code?: string; details?: { field?: string }[] } }).error;
          if (!error?.code) failures.push(`${name}: no error body`);
          if (error?.code === 'validation_failed') {
            const fields = (error.details ?? []).map((d) => d.field ?? '');
            if (!fields.some((f) => f === c.field || f.startsWith(`${c.field}.`) || f.startsWith(`${c.field}[`)))
              failures.push(`${name}: does not name ${c.field} (names ${fields.join(', ')})`);
          }
          if (MUTATING.has(method)) audited.push({ id: requestId, name });
        }
        const after = await rowCounts();
        for (const table of tables)
          if (after[table] !== before[table])
            failures.push(`${caller} ${method} ${path}: wrote to ${table} (${before[table]} → ${after[table]})`);
      }
      const result = (await ctx.services.database.db.execute(
        sql`select request_id from audit_events where request_id like ${`sr-${caller}-%`}`,
      )) as unknown as { rows: { request_id: string }[] };
      const recorded = new Set(result.rows.map((r) => r.request_id));
      for (const a of audited) if (!recorded.has(a.id)) failures.push(`${a.name}: not in the audit trail`);
      expect(n).toBeGreaterThan(300);
      expect(failures).toEqual([]);
    });
  }
});
