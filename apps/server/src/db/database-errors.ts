// Errors that say the database cannot be reached right now (restarting, failing over, network), as
// opposed to a query that is wrong: those are worth a 503 and a retry, not a 500.

// SQLSTATE classes and codes: 08 connection exception, 57P01-57P03 admin/crash shutdown and
// "cannot connect now" (starting up or shutting down), 53300 too many connections, 25006 a
// read-only transaction (a standby that is not promoted yet), 28000/28P01 refused at login.
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', '25006', '28000', '28P01']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// node-postgres says these in words, without a code.
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error and is not queryable/i,
  /cannot use a pool after calling end/i,
  /connection ended unexpectedly/i,
];

/** Whether `error` (or what it wraps) says the database is unreachable now, rather than that the query is wrong. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') return false;
    const { code, message, errors } = current as { code?: unknown; message?: unknown; errors?: unknown };
    if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
    // An AggregateError (a connect to several addresses, e.g. localhost's ::1 and 127.0.0.1).
    if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
