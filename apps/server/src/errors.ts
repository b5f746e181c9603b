/** A failure with an HTTP meaning, thrown by services; the error handler turns it into the error body. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { field?: string; message: string; line?: number }[],
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, details?: { field?: string; message: string }[]) =>
  new AppError(400, 'bad_request', message, details);
export const unauthorized = (message = 'Authentication required') => new AppError(401, 'unauthorized', message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError(403, 'forbidden', message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
export const tooManyRequests = (message: string) => new AppError(429, 'too_many_requests', message);

/** Which quota refused a new lab, with its numbers (the error body's `quota`). */
export interface QuotaRefusal {
  scope: 'role' | 'user' | 'class' | 'default';
  subject: string;
  field: 'maxLabs' | 'maxVcpus' | 'maxMemoryMiB';
  limit: number;
  used: number;
  requested: number;
}

/** 429 `quota_exceeded`: a new lab would take its owner past a quota. */
export class QuotaExceededError extends AppError {
  constructor(
    message: string,
    readonly quota: QuotaRefusal,
  ) {
    super(429, 'quota_exceeded', message);
  }
}

/** Control characters (NUL included), which no message or stored value shown to people should carry. */
// eslint-disable-next-line no-control-regex -- matching them is the point
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]+/g;

/** True for a PostgreSQL unique-constraint violation (either driver's error shape). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
  return code === '23505';
}
