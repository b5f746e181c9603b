import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ServerProcess } from '../test-support/server-process.js';
import { DRIVER_AUDIENCE, issueClusterToken } from './cluster-token.js';

const SECRET = 'agent-process-test-secret-0123456789abcd';

// The real server (`src/main.ts`) as `npm start` runs it, with CTP_AGENT_PORT: a wrong setup stops
// it at once with the reason; a right one serves the agent port beside the API, tokens required.
describe('the agent server in the real server process', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-agent-process-'));
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (agentPort: number, extra: Record<string, string> = {}) => ({
    CTP_DATA_DIR: path.join(dir, 'data'),
    CTP_ADMIN_PASSWORD: 'admin-password-1',
    CTP_JWT_SECRET: 'agent-process-jwt-secret-0123456789abcdef',
    CTP_ACCELERATOR: 'tcg',
    CTP_SAVED_STATES: 'false',
    CTP_HOST_NAME: 'hv-process',
    CTP_AGENT_PORT: String(agentPort),
    CTP_AGENT_HOST: '127.0.0.1',
    ...extra,
  });

  it('refuses to start with CTP_AGENT_PORT but no (or a short) CTP_CLUSTER_SECRET, saying why', async () => {
    for (const secret of [undefined, 'too-short']) {
      const refused = new ServerProcess(await freePort(), env(await freePort(), secret ? { CTP_CLUSTER_SECRET: secret } : {}));
      const error = await refused.start(60_000).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      await refused.kill();
      expect(error?.message).toMatch(/CTP_CLUSTER_SECRET must be set to at least 32 characters when CTP_AGENT_PORT is set/);
    }
  });

  it('serves the agent port beside the API: 401 without a token, driver calls with one', async () => {
    const agentPort = await freePort();
    server = new ServerProcess(await freePort(), env(agentPort, { CTP_CLUSTER_SECRET: SECRET }));
    await server.start();
    await server.waitForOutput('agent server listening');
    const call = (token?: string) =>
      fetch(`http://127.0.0.1:${agentPort}/agent/v1/driver`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ method: 'getVm', args: ['no-such-vm'] }),
      });
    expect((await call()).status).toBe(401);
    expect((await call(issueClusterToken(SECRET, { host: 'another-host', audience: DRIVER_AUDIENCE }))).status).toBe(401);
    const answer = await call(issueClusterToken(SECRET, { host: 'hv-process', audience: DRIVER_AUDIENCE }));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ result: null });
    const probe = await fetch(`http://127.0.0.1:${agentPort}/agent/v1/driver`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${issueClusterToken(SECRET, { host: 'hv-process', audience: DRIVER_AUDIENCE })}`,
      },
      body: JSON.stringify({ method: 'probe', args: [] }),
    });
    expect(((await probe.json()) as { result: unknown }).result).toMatchObject({ driver: 'qemu', accelerator: 'tcg' });
    // The public API's port has no agent routes.
    expect((await fetch(`${server.url}/agent/v1/driver`, { method: 'POST' })).status).toBe(404);
  });
});
