import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What `ctp login` keeps: the server and a session (access token, refresh token). */
export interface StoredSession {
  server: string;
  username: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken?: string;
}

/** `$CTP_CLI_CONFIG`, else `~/.config/ctp/session.json` (mode 600: it holds tokens). */
export function sessionFile(): string {
  return process.env.CTP_CLI_CONFIG || path.join(os.homedir(), '.config', 'ctp', 'session.json');
}

export function loadSession(): StoredSession | undefined {
  const file = sessionFile();
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StoredSession;
}

export function saveSession(session: StoredSession): void {
  const file = sessionFile();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(session, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
}
