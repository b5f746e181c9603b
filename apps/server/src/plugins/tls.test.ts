import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, ServerProcess } from '../test-support/server-process.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ctp-tls-'));
const file = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** A test CA and a leaf certificate for 127.0.0.1 signed by it, with the given serial. */
function makeCertificates(): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=CTP test CA',
  );
}
function makeLeaf(name: string, serial: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.csr`),
    '-subj',
    `/CN=${name}`,
  );
  writeFileSync(file(`${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    serial,
    '-days',
    '2',
    '-extfile',
    file(`${name}.ext`),
    '-out',
    file(`${name}.pem`),
  );
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  serial: string;
  reused: boolean;
}

/** One HTTPS request (a new connection unless an agent is given) that trusts only the test CA; answers the serial of the certificate the server showed. */
function request(
  port: number,
  method: string,
  url: string,
  options: { body?: unknown; agent?: https.Agent; token?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        ca: readFileSync(file('ca.pem')),
        agent: options.agent ?? false,
        headers: {
          ...(options.body ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        // Read now: the socket is detached from the response once it ends.
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, serial, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end(options.body ? JSON.stringify(options.body) : undefined);
  });
}

describe('HTTPS served by the platform itself', () => {
  let server: ServerProcess;
  let redirectPort: number;

  beforeAll(async () => {
    makeCertificates();
    makeLeaf('first', '0x1001');
    makeLeaf('second', '0x2002');
    writeFileSync(file('server.pem'), readFileSync(file('first.pem')));
    writeFileSync(file('server.key'), readFileSync(file('first.key')));
    redirectPort = await freePort();
    server = new ServerProcess(await freePort(), {
      CTP_DATA_DIR: path.join(dir, 'data'),
      CTP_ADMIN_PASSWORD: 'admin-password-1',
      CTP_JWT_SECRET: 'tls-test-secret-0123456789abcdef0123456',
      CTP_TLS_CERT: file('server.pem'),
      CTP_TLS_KEY: file('server.key'),
      CTP_HTTP_REDIRECT_PORT: String(redirectPort),
      CTP_ACCELERATOR: 'tcg',
    });
    await server.start();
  }, 90_000);

  afterAll(async () => {
    await server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the API over HTTPS with HSTS, and sets the refresh cookie Secure', async () => {
    const health = await request(server.port, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.serial).toBe('1001');
    expect(health.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const login = await request(server.port, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password-1' } });
    expect(login.status).toBe(200);
    const cookie = [login.headers['set-cookie']].flat().find((c) => c?.startsWith('ctp_refresh='));
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/HttpOnly/i);
  });

  it('refuses plain HTTP on the TLS port and redirects it from CTP_HTTP_REDIRECT_PORT', async () => {
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
    const answer = await fetch(`http://127.0.0.1:${redirectPort}/api/v1/templates?limit=5`, { redirect: 'manual', method: 'POST' });
    expect(answer.status).toBe(308);
    expect(answer.headers.get('location')).toBe(`https://127.0.0.1:${server.port}/api/v1/templates?limit=5`);
  });

  it('streams events over WSS, and reloads the certificate on SIGHUP without dropping open connections', async () => {
    const login = JSON.parse(
      (await request(server.port, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password-1' } })).body,
    ) as { accessToken: string };
    const ticket = JSON.parse((await request(server.port, 'POST', '/api/v1/events/tickets', { token: login.accessToken })).body) as {
      url: string;
    };
    const socket = new WebSocket(`wss://127.0.0.1:${server.port}${ticket.url}`, { ca: readFileSync(file('ca.pem')) });
    const messages: string[] = [];
    let closed = false;
    socket.on('message', (data: Buffer) => messages.push(data.toString()));
    socket.on('close', () => (closed = true));
    await new Promise<void>((resolve, reject) => (socket.once('open', () => resolve()), socket.once('error', reject)));
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(JSON.parse(messages[0]!)).toEqual({ type: 'ready' });

    // A keep-alive connection opened with the first certificate.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await request(server.port, 'GET', '/healthz', { agent })).serial).toBe('1001');

    // Renewal: the files are replaced, then the server is told.
    writeFileSync(file('server.pem'), readFileSync(file('second.pem')));
    writeFileSync(file('server.key'), readFileSync(file('second.key')));
    server.signal('SIGHUP');
    await server.waitForOutput('TLS certificate reloaded');

    // New handshakes get the new certificate...
    expect((await request(server.port, 'GET', '/healthz')).serial).toBe('2002');
    // ...while the connection and the WebSocket opened before keep working.
    const again = await request(server.port, 'GET', '/healthz', { agent });
    expect(again.reused).toBe(true);
    expect(again.serial).toBe('1001');
    expect(again.status).toBe(200);
    expect(closed).toBe(false);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
    agent.destroy();

    // A broken file on the next reload keeps the current certificate in service.
    writeFileSync(file('server.pem'), 'not a certificate');
    server.signal('SIGHUP');
    await server.waitForOutput('TLS certificate reload failed');
    expect((await request(server.port, 'GET', '/healthz')).serial).toBe('2002');
  }, 30_000);
});

describe('TLS configuration', () => {
  it('turns HTTPS behaviour on with the certificate pair, and refuses half a pair', async () => {
    const { loadConfig } = await import('../config.js');
    expect(loadConfig({ CTP_TLS_CERT: '/c.pem', CTP_TLS_KEY: '/k.pem' }).https).toBe(true);
    expect(loadConfig({ CTP_HTTPS: 'true' }).https).toBe(true);
    expect(loadConfig({}).https).toBe(false);
    expect(() => loadConfig({ CTP_TLS_CERT: '/c.pem' })).toThrow(/together/);
    expect(() => loadConfig({ CTP_HTTP_REDIRECT_PORT: '80' })).toThrow(/needs CTP_TLS_CERT/);
  });
});
