import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { FakeDriver } from '@ctp/hypervisor';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { createImageCatalog } from '../src/services/image-catalog.js';
import { createServices } from '../src/services.js';
import { emptyTables } from '../src/test-support/test-database.js';
import {
  CLASS_TEMPLATE,
  fakeImagesDir,
  heartbeatHosts,
  hostShares,
  registerSimulatedHosts,
  studentTokens,
  withLatencies,
  type Latencies,
} from '../src/test-support/simulated-class.js';
import { countDatabaseLoad, type LoadFigures } from './database-load.js';
import { SCALING_DOC, writeSection } from './report.js';
import { summary, timeline, type LabTimes } from './simulation-figures.js';

// A class of students each starting the same 2-VM lab within a minute, over simulated hypervisor
// hosts, through the real API, admission, job queue, lab runner and database; the hypervisor is the
// fake driver with a delay per call. Then the same class with some hosts drained: the FIFO queue.
// Parameters (environment): see PARAMETERS below. Writes its section of docs/scaling.md.

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PARAMETERS = {
  students: env('SIM_STUDENTS', 200),
  hosts: env('SIM_HOSTS', 10),
  drained: env('SIM_DRAINED', 2),
  arrivalSeconds: env('SIM_ARRIVAL_SECONDS', 60),
  hostCpus: env('SIM_HOST_CPUS', 16),
  hostMemoryMiB: env('SIM_HOST_MEMORY_MIB', 65_536),
  cpuOvercommit: env('SIM_CPU_OVERCOMMIT', 4),
  reservedMemoryMiB: env('SIM_RESERVED_MIB', 4096),
  jobConcurrency: env('CTP_JOB_CONCURRENCY', 10),
};
// Per-call latencies of a real host (KVM, qcow2 overlays, bridges): SIM_LATENCY="startVm=100,…".
const LATENCIES: Latencies = {
  createNetwork: 50,
  createVm: 50,
  startVm: 100,
  takeSnapshot: 20,
  guestWriteFile: 10,
  // Until a guest's agent answers, i.e. its boot: the provisioning job waits for it to deliver the flag.
  waitForGuestAgent: 5000,
  stopVm: 100,
  destroyVm: 50,
  destroyNetwork: 30,
  ...Object.fromEntries(
    (process.env.SIM_LATENCY ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]),
  ),
};
const COMMAND = 'npm run bench:class -w apps/server';

async function main(): Promise<void> {
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-class-sim-'));
  const databaseUrl = process.env.DATABASE_URL;
  const database = await openDatabase({ databaseUrl });
  // A server database is the bench's own: it starts empty.
  if (databaseUrl) await emptyTables(database);
  const load = countDatabaseLoad(database, databaseUrl);
  const config = {
    ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    jwtSecret: 'bench-secret-0123456789abcdef0123456789',
    schedules: false,
    savedStates: false,
    warmPoolReserveMiB: 0,
    hostName: 'sim-01',
    jobConcurrency: PARAMETERS.jobConcurrency,
    // The simulated hosts heartbeat every 5 s below, as agents would.
    hostDownAfterSeconds: 30,
  };
  const driver = withLatencies(new FakeDriver(), LATENCIES);
  const capacity = { cpus: PARAMETERS.hostCpus, memoryMiB: PARAMETERS.hostMemoryMiB, diskBytes: 2 * 2 ** 40 };
  const services = createServices(config, database, {
    driver,
    images: createImageCatalog(fakeImagesDir(dataDir)),
    hostCapacity: () => capacity,
    guestReady: async () => {},
  });
  const app = await buildApp(config, services, false, { webDist: false });
  await services.startBackground();
  const admin = await services.repositories.users.insert({ username: 'sim-admin', role: 'admin', passwordHash: 'x', email: null });
  const owner = { id: admin.id, username: admin.username, role: 'admin' as const };
  const template = await services.templates.create(owner, CLASS_TEMPLATE);
  await services.templates.setStatus(owner, template.id, 'published');
  await services.admission.update(owner, {
    cpuOvercommit: PARAMETERS.cpuOvercommit,
    memoryOvercommit: 1,
    reservedMemoryMiB: PARAMETERS.reservedMemoryMiB,
  });
  const hosts = await registerSimulatedHosts(services, PARAMETERS.hosts, capacity);
  const stopBeating = heartbeatHosts(services, [...hosts.values()].slice(1), 5000);
  const students = await studentTokens(services, PARAMETERS.students);
  const loadAverage = os.loadavg()[0]!.toFixed(2);

  /** Every student asks for the lab at a random moment within `seconds` (seeded: the same moments each run). */
  async function burst(seconds: number): Promise<{ ids: string[]; answerMs: number[]; firstAt: number }> {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const firstAt = Date.now();
    const answerMs: number[] = [];
    const ids = await Promise.all(
      students.map(async (student) => {
        await new Promise((resolve) => setTimeout(resolve, random() * seconds * 1000));
        const asked = Date.now();
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/labs',
          headers: student.headers,
          payload: { templateId: template.id },
        });
        answerMs.push(Date.now() - asked);
        if (response.statusCode !== 202) throw new Error(`POST /labs: ${response.statusCode} ${response.body}`);
        return response.json().id as string;
      }),
    );
    return { ids, answerMs, firstAt };
  }

  /** Waits until `count` of the labs run (checked in the database every 250 ms). */
  async function untilRunning(ids: string[], count: number): Promise<number> {
    for (;;) {
      const result = await database.db.execute(
        sql`select count(*)::int as n from labs where status = 'running' and id in ${sql.raw(`('${ids.join("','")}')`)}`,
      );
      const n = Number((result as unknown as { rows: { n: number }[] }).rows[0]!.n);
      if (n >= count) return Date.now();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function figures(ids: string[]): Promise<{ times: LabTimes[]; db: LoadFigures }> {
    return { times: await timeline(database, ids), db: await load.read() };
  }

  // 1. The class on every host.
  await load.reset();
  const first = await burst(PARAMETERS.arrivalSeconds);
  const allRunningAt = await untilRunning(first.ids, first.ids.length);
  const shares = await hostShares(services);
  const classRun = await figures(first.ids);
  console.log(
    `class: all ${first.ids.length} labs running ${((allRunningAt - first.firstAt) / 1000).toFixed(1)} s after the first request`,
  );

  // Class over: every lab deleted (the delete jobs run on the same queue).
  for (const [i, id] of first.ids.entries())
    await app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: students[i]!.headers });
  for (;;) {
    const left = await database.db.execute(sql`select count(*)::int as n from labs where status <> 'deleted'`);
    if (Number((left as unknown as { rows: { n: number }[] }).rows[0]!.n) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // 2. The same class with hosts drained: some labs wait in the FIFO queue until the hosts are undrained.
  const drained = [...hosts.values()].slice(-PARAMETERS.drained);
  for (const id of drained) await services.hosts.setDrained(owner, id, true);
  await load.reset();
  const second = await burst(PARAMETERS.arrivalSeconds);
  const queued = (await services.admission.positions()).size;
  const admittedFirst = first.ids.length - queued;
  await untilRunning(second.ids, admittedFirst);
  const undrainedAt = Date.now();
  for (const id of drained) await services.hosts.setDrained(owner, id, false);
  const overflowRunningAt = await untilRunning(second.ids, second.ids.length);
  const overflowRun = await figures(second.ids);

  stopBeating();
  await services.stopBackground();
  await app.close();
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });

  const report = summary({
    parameters: PARAMETERS,
    latencies: LATENCIES,
    command: COMMAND,
    engine: databaseUrl ? 'PostgreSQL server (DATABASE_URL)' : 'PGlite (embedded)',
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, load average ${loadAverage} at start`,
    busyMeaning: load.busyMeaning,
    shares,
    classRun: { ...classRun, answerMs: first.answerMs, firstAt: first.firstAt, allRunningAt },
    overflowRun: {
      ...overflowRun,
      answerMs: second.answerMs,
      firstAt: second.firstAt,
      allRunningAt: overflowRunningAt,
      undrainedAt,
      queued,
    },
    benchSeconds: (Date.now() - started) / 1000,
  });
  // SIM_SECTION names a variant's own section (e.g. `no-boot` with SIM_LATENCY=waitForGuestAgent=0).
  const section = ['class-simulation', process.env.SIM_SECTION, databaseUrl ? 'postgres' : undefined].filter(Boolean).join('-');
  writeSection(section, report, SCALING_DOC);
  console.log(report);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
