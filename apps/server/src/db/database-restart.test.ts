import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventTicket, LabDetail, TemplateList, TokenResponse, User } from '@ctp/contracts';
import { PrivatePostgres } from '../test-support/private-postgres.js';
import { destroyLeftoverGuests, freePort, ServerProcess } from '../test-support/server-process.js';
import { openSocket, type WatchedClient } from '../test-support/ws-client.js';

interface Message {
  id?: number;
  type: string;
  labId?: string;
  data?: Record<string, unknown>;
}

interface Answer {
  at: number;
  route: string;
  status: number;
  body: string;
}

/** Polls `check` until it is true, or fails after `timeoutMs` saying `what`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The real server (a child process) on a PostgreSQL server that this test owns and restarts: the
// same whichever database the test run itself uses (PGlite or DATABASE_URL).
describe('PostgreSQL restarted under a running platform', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-dbrestart-'));
  let postgres: PrivatePostgres | undefined;
  let server: ServerProcess | undefined;
  let socket: WatchedClient | undefined;

  afterAll(async () => {
    socket?.ws.terminate();
    await server?.kill();
    // Whatever happened, no guest outlives the test.
    await destroyLeftoverGuests(dataDir);
    await postgres?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('goes unready and answers 503 while it is down, then serves again with no 500, replays missed events and finishes the job', async () => {
    postgres = await PrivatePostgres.start();
    const api = (server = new ServerProcess(await freePort(), {
      DATABASE_URL: postgres.url,
      CTP_DATA_DIR: dataDir,
      CTP_ADMIN_PASSWORD: 'admin-password-1',
      CTP_JWT_SECRET: 'dbrestart-test-secret-0123456789abcdef',
      LOG_LEVEL: 'info',
      CTP_SAVED_STATES: 'false',
    }));
    await api.start();
    const login = async (username: string, password: string) =>
      (await api.request<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username, password })).json().accessToken;
    const admin = await login('admin', 'admin-password-1');
    const created = await api.request<User>('POST', '/api/v1/users', admin, {
      username: 'restarty',
      password: 'restarty-password',
      role: 'student',
    });
    expect(created.status).toBe(201);
    const studentId = created.json().id;
    const token = await login('restarty', 'restarty-password');

    // The owner's event stream, open through the whole restart.
    const ticket = (await api.request<EventTicket>('POST', '/api/v1/events/tickets', token)).json();
    socket = await openSocket(`ws://127.0.0.1:${api.port}${ticket.url}`);
    const messages: Message[] = [];
    socket.ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Message));
    await until('the stream to be ready', () => messages.some((m) => m.type === 'ready'));

    // A job enqueued before the restart: provisioning a lab (two tiny guests).
    const templateId = (await api.request<TemplateList>('GET', '/api/v1/templates', token)).json().items[0]!.id;
    const lab = await api.request<LabDetail>('POST', '/api/v1/labs', token, { templateId });
    expect(lab.status).toBe(202);
    const labId = lab.json().id;
    await until('a first event of the lab', () => messages.some((m) => m.labId === labId));

    // Every route polled through the outage, the platform's answers recorded.
    const answers: Answer[] = [];
    let polling = true;
    const routes = ['/readyz', `/api/v1/labs/${labId}`, '/api/v1/templates', '/api/v1/auth/me', '/api/v1/events?since=0'];
    const poller = (async () => {
      while (polling) {
        for (const route of routes) {
          const at = Date.now();
          const response = await fetch(`${api.url}${route}`, { headers: { authorization: `Bearer ${token}` } }).then(
            async (r) => ({ status: r.status, body: await r.text() }),
            (error: unknown) => ({ status: 0, body: String(error) }),
          );
          answers.push({ at, route, ...response });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const answered = (route: string, status: number, after = 0) =>
      answers.some((a) => a.route === route && a.status === status && a.at >= after);

    const stoppedAt = Date.now();
    await postgres.stop();
    await until('/readyz to answer 503', () => answered('/readyz', 503, stoppedAt));
    await until("the lab's route to answer 503", () => answered(`/api/v1/labs/${labId}`, 503, stoppedAt));

    // Back, but refusing the platform's connections for a while: meanwhile another writer (as another
    // instance would) records an event, whose announcement this instance cannot hear.
    postgres.allowTcp(false);
    await postgres.startServer();
    const [gap] = await postgres.sql<{ id: string }>(
      `insert into lab_events (lab_id, type, data) values ($1, 'test.gap', $2) returning id`,
      [labId, JSON.stringify({ note: 'written while the instance was not listening', audience: { ownerId: studentId, memberIds: [] } })],
      'ctp',
    );
    await postgres.sql(`select pg_notify('ctp_lab_events', $1)`, [gap!.id], 'ctp');
    const gapId = Number(gap!.id);
    const refusedAt = Date.now();
    await until('/readyz to answer 503 while refused', () => answered('/readyz', 503, refusedAt));
    expect(messages.some((m) => m.id === gapId)).toBe(false);

    await postgres.allowTcp(true, true);
    const reopenedAt = Date.now();
    await until('/readyz to answer 200 again', () => answered('/readyz', 200, reopenedAt));
    const readyAt = answers.find((a) => a.route === '/readyz' && a.status === 200 && a.at >= reopenedAt)!.at;

    // Replayed: the event written while this instance was deaf reaches the open socket.
    await until('the missed event on the socket', () => messages.some((m) => m.id === gapId), 15_000);
    // An event caused now reaches it too.
    const asked = await api.request('POST', `/api/v1/labs/${labId}/help`, token, { message: 'after the restart' });
    expect(asked.status).toBe(201);
    await until('the new event on the socket', () => messages.some((m) => m.type === 'help.requested' && m.labId === labId), 15_000);
    // The job enqueued before the restart finishes.
    await until(
      'the lab to run',
      async () => (await api.request<LabDetail>('GET', `/api/v1/labs/${labId}`, token)).json().status === 'running',
      180_000,
    );
    await until('the lab running on the socket', () =>
      messages.some((m) => m.labId === labId && m.type === 'lab.status' && m.data?.status === 'running'),
    );
    polling = false;
    await poller;

    // For the report: how the job got through (retried, or carried on).
    const jobs = await postgres.sql(
      `select state, retry_count from pgboss.job where name = 'lab-operation' order by created_on`,
      [],
      'ctp',
    );
    console.log(`lab running ${Date.now() - readyAt} ms after ready; lab-operation jobs: ${JSON.stringify(jobs)}`);
    const downFor = answers.filter((a) => a.route === '/readyz' && a.status === 503).length;
    console.log(
      `readyz 503 in ${downFor} polls; ready ${readyAt - reopenedAt} ms after connections were allowed again; ${answers.length} answers, ${answers.filter((a) => a.status === 503).length} of them 503`,
    );
    // While down: 503s with a reason, never a 500 or a dead process; after: every answer 200.
    const failures = answers.filter((a) => a.status !== 200 && a.status !== 503);
    expect(failures).toEqual([]);
    const unavailable = answers.filter((a) => a.status === 503 && a.route !== '/readyz');
    expect(unavailable.length).toBeGreaterThan(0);
    for (const a of unavailable) {
      expect(JSON.parse(a.body).error.code, a.body).toBe('database_unavailable');
      expect(a.body).not.toMatch(/select|lab_events|127\.0\.0\.1|ECONNREFUSED/i);
    }
    const afterReady = answers.filter((a) => a.at > readyAt);
    expect(afterReady.length).toBeGreaterThan(routes.length);
    expect(afterReady.filter((a) => a.status !== 200)).toEqual([]);
    // Every event once, in order.
    const ids = messages.flatMap((m) => (m.id === undefined ? [] : [m.id]));
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    expect(socket.isClosed()).toBe(false);

    expect((await api.request('DELETE', `/api/v1/labs/${labId}`, token)).status).toBe(202);
    await until(
      'the lab to be deleted',
      async () => (await api.request<LabDetail>('GET', `/api/v1/labs/${labId}`, token)).json().status === 'deleted',
      60_000,
    );
    // The sessions channel is listened to again: disabling the student closes its open socket.
    expect((await api.request('PATCH', `/api/v1/users/${studentId}`, admin, { disabled: true })).status).toBe(200);
    expect((await socket.closed).code).toBe(4401);
    await api.kill('SIGTERM');
  }, 300_000);
});
