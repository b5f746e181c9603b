import { readFileSync } from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import type { Config } from '../config.js';

/** The certificate and key the server serves, read from the files named by CTP_TLS_CERT / CTP_TLS_KEY. */
export function readTlsFiles(config: Pick<Config, 'tlsCert' | 'tlsKey'>): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  return { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
}

/**
 * Reloads the certificate on SIGHUP (after a renewal): new handshakes get the new one, open
 * connections and WebSockets keep the context they started with, so nothing is dropped.
 */
export function reloadCertificatesOnSighup(
  server: https.Server,
  config: Pick<Config, 'tlsCert' | 'tlsKey'>,
  log: { info: (details: object, message: string) => void; error: (details: object, message: string) => void },
): () => void {
  const reload = () => {
    try {
      const files = readTlsFiles(config);
      if (!files) return;
      server.setSecureContext(files);
      log.info({ cert: config.tlsCert }, 'TLS certificate reloaded');
    } catch (error) {
      // A half-written or wrong file keeps the previous certificate in service.
      log.error({ err: error, cert: config.tlsCert }, 'TLS certificate reload failed; the previous one stays');
    }
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}

/** The URL on the HTTPS port that a plain-HTTP request for `host` and `url` is sent to. */
export function httpsLocation(hostHeader: string | undefined, url: string, httpsPort: number): string {
  // Keep the name the client used, drop its port (it was the plain one), add ours unless 443.
  const name = (hostHeader || 'localhost').replace(/:\d+$/, '');
  return `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${url}`;
}

/** A plain-HTTP listener on CTP_HTTP_REDIRECT_PORT that only answers with a redirect to HTTPS. */
export async function startHttpRedirect(port: number, host: string, httpsPort: number): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    // 308 keeps the method and body, so a POST that landed here is not turned into a GET.
    response.writeHead(308, { location: httpsLocation(request.headers.host, request.url || '/', httpsPort), 'content-length': '0' });
    response.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
