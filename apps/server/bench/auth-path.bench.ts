import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { hashPassword } from '../src/services/password.js';
import { DEMO_TEMPLATE } from '../src/services/template.service.js';
import { freePort } from '../src/test-support/server-process.js';
import { writeSection } from './report.js';

// The authenticated read path: GET /api/v1/auth/me and GET /api/v1/templates, with
// `wrk -t1 -c50 -d10s`, against the API (one process) and against a FastAPI reference
// (fastapi_reference.py, one uvicorn process) on the same PostgreSQL server and data, the two
// alternating in the same run. Needs the Debian packages wrk python3-fastapi python3-asyncpg
// python3-jwt uvicorn and a PostgreSQL server (CTP_BENCH_DATABASE_URL, by default the local
// one of the developers' guide). Writes its section of docs/benchmarks.md.

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const ADMIN_URL = process.env.CTP_BENCH_ADMIN_URL ?? 'postgres://ctp:ctp@127.0.0.1:5432/postgres';
const DATABASE_URL = process.env.CTP_BENCH_DATABASE_URL ?? 'postgres://ctp:ctp@127.0.0.1:5432/ctp_bench_auth_path';
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const ROUNDS = Number(process.env.CTP_BENCH_ROUNDS ?? 3);
const WRK = ['-t1', '-c50', '-d10s', '--latency'];
const PATHS = ['/api/v1/auth/me', '/api/v1/templates'] as const;

interface Run {
  requestsPerSecond: number;
  p99Ms: number;
}

/** Creates the bench database when missing. */
async function ensureDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const name = new URL(DATABASE_URL).pathname.slice(1);
  const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`create database "${name.replaceAll('"', '')}"`);
  await admin.end();
}

/** Migrates and fills the database: one student and ten published templates. */
async function seed(): Promise<void> {
  const database = await openDatabase({ databaseUrl: DATABASE_URL });
  const client = database.pool!;
  await client.query('truncate users, lab_templates restart identity cascade');
  const hash = await hashPassword('bench-password');
  await client.query(`insert into users (username, role, password_hash) values ('bench', 'student', $1), ('admin', 'admin', $1)`, [hash]);
  for (let i = 0; i < 10; i++) {
    await client.query(`insert into lab_templates (name, description, config, source, status) values ($1, $2, $3, '', 'published')`, [
      `Lab ${i}`,
      `Benchmark template ${i}`,
      JSON.stringify(DEMO_TEMPLATE),
    ]);
  }
  await database.close();
}

/** Starts a server process and waits until `url` answers. */
async function start(command: string, args: string[], env: Record<string, string>, cwd: string, url: string): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited: ${errors.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${command} not ready: ${errors.slice(-2000)}`);
    try {
      if ((await fetch(url)).status < 500) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Runs wrk and reads requests/s and the 99th percentile; refuses a run with any non-2xx answer. */
function wrk(url: string, token: string): Run {
  const result = spawnSync('wrk', [...WRK, '-H', `Authorization: Bearer ${token}`, url], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const out = result.stdout;
  if (/Non-2xx or 3xx responses/.test(out) || /Socket errors/.test(out)) throw new Error(`errors during the run:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  if (!rps || !p99) throw new Error(`cannot read wrk output:\n${out}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
  return { requestsPerSecond: rps, p99Ms: Number(p99[1]) * scale };
}

const range = (runs: Run[], pick: (r: Run) => number, digits = 0) => {
  const values = runs.map(pick);
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
};

async function main(): Promise<void> {
  const loadAtStart = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  await ensureDatabase();
  await seed();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-bench-auth-'));
  const [apiPort, refPort] = [await freePort(), await freePort()];
  const api = await start(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', path.join(here, 'api-server.ts')],
    // Request logs off on both sides (uvicorn: --no-access-log); the work measured is the same.
    { DATABASE_URL, CTP_JWT_SECRET: SECRET, CTP_DATA_DIR: dataDir, PORT: String(apiPort), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    repoRoot,
    `http://127.0.0.1:${apiPort}/readyz`,
  );
  const reference = await start(
    '/usr/bin/python3',
    ['-m', 'uvicorn', 'fastapi_reference:app', '--port', String(refPort), '--workers', '1', '--no-access-log', '--log-level', 'warning'],
    { DATABASE_URL, CTP_JWT_SECRET: SECRET },
    here,
    `http://127.0.0.1:${refPort}/api/v1/auth/me`,
  );
  try {
    const login = await fetch(`http://127.0.0.1:${apiPort}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', password: 'bench-password' }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
    // Both answer the same user to the same token before anything is measured.
    for (const port of [apiPort, refPort]) {
      const me = await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      if (me.status !== 200) throw new Error(`port ${port}: /auth/me answered ${me.status}`);
    }
    const results: Record<string, { api: Run[]; reference: Run[] }> = {};
    for (const p of PATHS) results[p] = { api: [], reference: [] };
    // Warm-up (JIT, pools), not recorded.
    for (const p of PATHS) {
      spawnSync('wrk', ['-t1', '-c50', '-d3s', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${apiPort}${p}`]);
      spawnSync('wrk', ['-t1', '-c50', '-d3s', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${refPort}${p}`]);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of PATHS) {
        results[p]!.api.push(wrk(`http://127.0.0.1:${apiPort}${p}`, token));
        results[p]!.reference.push(wrk(`http://127.0.0.1:${refPort}${p}`, token));
        const last = (runs: Run[]) => runs.at(-1)!;
        console.log(
          `round ${round + 1} ${p}: API ${last(results[p]!.api).requestsPerSecond} req/s p99 ${last(results[p]!.api).p99Ms} ms; FastAPI ${last(results[p]!.reference).requestsPerSecond} req/s p99 ${last(results[p]!.reference).p99Ms} ms`,
        );
      }
    }
    const rows = PATHS.map((p) => {
      const { api: a, reference: r } = results[p]!;
      const ratios = a.map((run, i) => run.requestsPerSecond / r[i]!.requestsPerSecond);
      return `| \`GET ${p}\` | ${range(a, (x) => x.requestsPerSecond)} | ${range(a, (x) => x.p99Ms, 1)} | ${range(r, (x) => x.requestsPerSecond)} | ${range(r, (x) => x.p99Ms, 1)} | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} |`;
    });
    const load = `${loadAtStart} at the start, ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end`;
    const verdicts = PATHS.map((p) => {
      const { api: a, reference: r } = results[p]!;
      const ratio = Math.min(...a.map((run, i) => run.requestsPerSecond / r[i]!.requestsPerSecond));
      const p99 = Math.max(...a.map((run) => run.p99Ms));
      return `\`${p}\`: ${ratio >= 3 ? 'met' : 'not met'} for throughput (lowest ratio ${ratio.toFixed(2)}), ${p99 < 50 ? 'met' : 'not met'} for p99 (worst ${p99.toFixed(1)} ms)`;
    });
    writeSection(
      'auth-path',
      [
        '## Authenticated read path (API vs FastAPI reference)',
        '',
        `Measured with \`npm run bench:auth -w apps/server\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), PostgreSQL server on loopback, load average ${load} (the machine is shared by several engineers' test runs; figures move with the load).`,
        '',
        `Each figure is \`wrk ${WRK.join(' ')}\` with the same bearer token, ${ROUNDS} rounds alternating API and reference. The API is one process (\`apps/server/bench/api-server.ts\`: \`src/main.ts\` without the hypervisor, which these routes never reach; LOG_LEVEL=warn); the reference is \`apps/server/bench/fastapi_reference.py\` (FastAPI + Pydantic + asyncpg + PyJWT, one uvicorn process, no access log), on the same database and data (one student, ten published templates), doing the same checks (token, user enabled, session epoch). The API answers from its session cache (no query for authentication); the reference loads the user on every request.`,
        '',
        '| endpoint | API req/s | API p99 ms | FastAPI req/s | FastAPI p99 ms | API / FastAPI |',
        '| --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `Goal: API ≥ 3× FastAPI on both, p99 < 50 ms at 50 connections. In this run: ${verdicts.join('; ')}.`,
        '',
        'To run it: `apt-get install -y wrk python3-fastapi python3-asyncpg python3-jwt uvicorn`, a PostgreSQL server (`CTP_BENCH_DATABASE_URL`, default `postgres://ctp:ctp@127.0.0.1:5432/ctp_bench_auth_path`, created if missing through `CTP_BENCH_ADMIN_URL`), then `npm run bench:auth -w apps/server`.',
      ].join('\n'),
    );
  } finally {
    await stop(api);
    await stop(reference);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
