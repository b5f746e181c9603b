import WebSocket from 'ws';

/** What a WebSocket upgrade attempt got: refused with an HTTP status, or an open socket. */
export type UpgradeResult = { status: number; body: string; socket?: undefined } | { status: 101; body: ''; socket: WatchedClient };

/** An open client socket that remembers what it received and how it was closed. */
export interface WatchedClient {
  ws: WebSocket;
  /** Text of every message received so far. */
  received(): string;
  /** Resolves with the close code and reason once the server (or client) closed it. */
  closed: Promise<{ code: number; reason: string; at: number }>;
  isClosed(): boolean;
}

/** Tries a real WebSocket upgrade (as a browser would, with `origin` if given). */
export function tryUpgrade(url: string, options: { origin?: string } = {}): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...(options.origin ? { origin: options.origin } : {}) });
    let text = '';
    let done = false;
    const closed = new Promise<{ code: number; reason: string; at: number }>((onClose) =>
      ws.on('close', (code, reason) => {
        done = true;
        onClose({ code, reason: reason.toString(), at: Date.now() });
      }),
    );
    ws.on('message', (data) => (text += data.toString()));
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on('open', () => resolve({ status: 101, body: '', socket: { ws, received: () => text, closed, isClosed: () => done } }));
    ws.on('error', (error) => {
      if (!done) reject(error);
    });
  });
}

/** Opens a WebSocket that must be accepted. */
export async function openSocket(url: string, options: { origin?: string } = {}): Promise<WatchedClient> {
  const result = await tryUpgrade(url, options);
  if (!result.socket) throw new Error(`upgrade refused: ${result.status} ${result.body}`);
  return result.socket;
}
