import { CliError, EXIT, exitCodeForStatus } from './errors.js';
import { loadSession, saveSession, type StoredSession } from './session-store.js';

const REFRESH_COOKIE = 'ctp_refresh';

/** The refresh token from a login or refresh answer's Set-Cookie. */
function refreshTokenOf(response: Response): string | undefined {
  for (const cookie of response.headers.getSetCookie()) {
    const match = new RegExp(`^${REFRESH_COOKIE}=([^;]+)`).exec(cookie);
    if (match) return match[1];
  }
  return undefined;
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new CliError(EXIT.unreachable, `cannot reach ${new URL(url).origin}: ${(error as Error).cause ?? (error as Error).message}`);
  }
}

/** An error answer of the API as a CliError with the right exit code. */
async function failure(response: Response): Promise<CliError> {
  const text = await response.text();
  let body: { error?: { message?: string; details?: unknown } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON: the status says enough.
  }
  return new CliError(exitCodeForStatus(response.status), body.error?.message ?? `HTTP ${response.status}`, body.error?.details);
}

/** Signs in and stores the session. */
export async function login(server: string, username: string, password: string): Promise<StoredSession> {
  const base = server.replace(/\/+$/, '');
  const response = await send(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await failure(response);
  const answer = (await response.json()) as { accessToken: string; expiresIn: number };
  const session: StoredSession = {
    server: base,
    username,
    accessToken: answer.accessToken,
    accessExpiresAt: Date.now() + answer.expiresIn * 1000,
    refreshToken: refreshTokenOf(response),
  };
  saveSession(session);
  return session;
}

/** Calls the API with the stored session, refreshing the access token when it has expired. */
export class ApiClient {
  private constructor(private session: StoredSession) {}

  /** The client for the stored session (`ctp login` first), or for `CTP_URL` + `CTP_TOKEN`. */
  static fromStore(): ApiClient {
    if (process.env.CTP_URL && process.env.CTP_TOKEN)
      return new ApiClient({ server: process.env.CTP_URL, username: '', accessToken: process.env.CTP_TOKEN, accessExpiresAt: Infinity });
    const session = loadSession();
    if (!session) throw new CliError(EXIT.auth, 'not signed in: run `ctp login --server URL --username NAME` first');
    return new ApiClient(session);
  }

  get server(): string {
    return this.session.server;
  }

  private async refresh(): Promise<void> {
    if (!this.session.refreshToken) throw new CliError(EXIT.auth, 'the session has expired: run `ctp login` again');
    const response = await send(`${this.session.server}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { cookie: `${REFRESH_COOKIE}=${this.session.refreshToken}` },
    });
    if (!response.ok) throw new CliError(EXIT.auth, 'the session has expired: run `ctp login` again');
    const answer = (await response.json()) as { accessToken: string; expiresIn: number };
    this.session = {
      ...this.session,
      accessToken: answer.accessToken,
      accessExpiresAt: Date.now() + answer.expiresIn * 1000,
      refreshToken: refreshTokenOf(response) ?? this.session.refreshToken,
    };
    saveSession(this.session);
  }

  /** A request; answers the response when it is a success, throws a CliError otherwise. */
  async request(
    method: string,
    path: string,
    init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    if (Date.now() > this.session.accessExpiresAt - 10_000) await this.refresh();
    const response = await send(`${this.session.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.session.accessToken}`,
        ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
      ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    if (!response.ok) throw await failure(response);
    return response;
  }

  async json<T>(
    method: string,
    path: string,
    init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const response = await this.request(method, path, init);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  /** The access token (for streaming requests made outside `request`). */
  async token(): Promise<string> {
    if (Date.now() > this.session.accessExpiresAt - 10_000) await this.refresh();
    return this.session.accessToken;
  }
}
