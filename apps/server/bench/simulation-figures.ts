import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/database.js';
import type { Latencies } from '../src/test-support/simulated-class.js';
import type { HostShare } from '../src/test-support/simulated-class.js';
import type { LoadFigures } from './database-load.js';

// The class simulation's figures, read back from what the platform recorded (the labs' rows,
// their events and steps), and the Markdown report made of them.

/** When each moment of one lab's start happened (ms since the epoch). */
export interface LabTimes {
  id: string;
  host: string | null;
  /** The request (the lab's creation). */
  requested: number;
  /** Admission placed it on a host (its `provisioning` event). */
  admitted: number;
  /** A worker took its provisioning job (its first step started). */
  picked: number;
  /** Its `running` event. */
  running: number;
}

/** The timeline of each lab, from its row, its first `provisioning` and `running` events and its steps. */
export async function timeline(database: Database, ids: string[]): Promise<LabTimes[]> {
  const list = sql.raw(`('${ids.join("','")}')`);
  const result = await database.db.execute(sql`
    select l.id, h.name as host, l.created_at as requested,
      (select min(e.at) from lab_events e where e.lab_id = l.id and e.type = 'lab.status' and e.data->>'status' = 'provisioning') as admitted,
      (select min(s.started_at) from lab_steps s where s.lab_id = l.id) as picked,
      (select min(e.at) from lab_events e where e.lab_id = l.id and e.type = 'lab.status' and e.data->>'status' = 'running') as running
    from labs l left join hosts h on h.id = l.host_id where l.id in ${list}`);
  const rows = (result as unknown as { rows: Record<string, string | Date | null>[] }).rows;
  const ms = (value: string | Date | null) => (value === null ? NaN : new Date(value).getTime());
  return rows.map((r) => ({
    id: String(r.id),
    host: r.host === null ? null : String(r.host),
    requested: ms(r.requested!),
    admitted: ms(r.admitted!),
    picked: ms(r.picked!),
    running: ms(r.running!),
  }));
}

/** The value at the given fraction of the sorted values (nearest rank). */
export function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? NaN;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const spread = (values: number[]) =>
  `${seconds(percentile(values, 0.5))} / ${seconds(percentile(values, 0.95))} / ${seconds(Math.max(...values))}`;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const stddev = (values: number[]) => Math.sqrt(mean(values.map((v) => (v - mean(values)) ** 2)));

interface Run {
  times: LabTimes[];
  db: LoadFigures;
  answerMs: number[];
  firstAt: number;
  allRunningAt: number;
}

export interface SimulationReport {
  parameters: {
    students: number;
    hosts: number;
    drained: number;
    arrivalSeconds: number;
    hostCpus: number;
    hostMemoryMiB: number;
    cpuOvercommit: number;
    reservedMemoryMiB: number;
    jobConcurrency: number;
  };
  latencies: Latencies;
  command: string;
  engine: string;
  machine: string;
  busyMeaning: string;
  shares: HostShare[];
  classRun: Run;
  overflowRun: Run & { undrainedAt: number; queued: number };
  benchSeconds: number;
}

/** Timing rows of one run: what, and p50 / p95 / max. */
function timings(run: Run): [string, string][] {
  const t = run.times;
  return [
    ['`POST /api/v1/labs` answered (202)', spread(run.answerMs)],
    ['request → placed on a host (admission queue wait)', spread(t.map((l) => l.admitted - l.requested))],
    ['placed → a worker takes the provisioning job (job queue wait)', spread(t.map((l) => l.picked - l.admitted))],
    ["job taken → lab `running` (the job's work)", spread(t.map((l) => l.running - l.picked))],
    ['request → lab `running` (time to running)', spread(t.map((l) => l.running - l.requested))],
  ];
}

/** Database load rows of one run, per lab and in all. */
function database(run: Run, labs: number, busyMeaning: string): string {
  const wall = (run.allRunningAt - run.firstAt) / 1000;
  const db = run.db;
  return [
    `${db.statements} statements (${(db.statements / labs).toFixed(0)} per lab, ${(db.statements / wall).toFixed(0)}/s), ` +
      `${db.transactions} transactions (${(db.transactions / labs).toFixed(1)} per lab), ` +
      `${(db.busyMs / 1000).toFixed(1)} s busy (${busyMeaning}; ${((db.busyMs / 1000 / wall) * 100).toFixed(0)}% of the ${wall.toFixed(0)} s)` +
      (db.rowsWritten !== undefined ? `, ${db.rowsWritten} rows written` : ''),
  ].join('');
}

/** The Markdown section of docs/scaling.md. */
export function summary(r: SimulationReport): string {
  const p = r.parameters;
  const labs = r.shares.map((s) => s.labs);
  const hostRows = r.shares.map(
    (s) =>
      `| ${s.name} | ${s.labs} | ${s.vms} | ${s.usedCpus} / ${s.cpuLimit} (${s.cpus} cores) | ${(s.usedMemoryMiB / 1024).toFixed(1)} / ${(s.memoryLimitMiB / 1024).toFixed(1)} GiB (${(s.memoryMiB / 1024).toFixed(0)} GiB) |`,
  );
  const c = r.classRun;
  const o = r.overflowRun;
  const waited = o.times.filter((l) => l.admitted - l.requested > 1000);
  // FIFO: the labs that waited were placed in the order they were requested.
  const inOrder = [...waited].sort((a, b) => a.requested - b.requested).every((l, i, all) => i === 0 || all[i - 1]!.admitted <= l.admitted);
  const latencies = Object.entries(r.latencies)
    .map(([call, ms]) => `${call} ${ms} ms`)
    .join(', ');
  return `## Simulated class: ${p.students} students, ${p.students * 2} VMs, ${p.hosts} hosts (${r.engine})

Measured on ${new Date().toISOString().slice(0, 10)} with \`${r.command}\`${r.engine.startsWith('PostgreSQL') ? ' and `DATABASE_URL` set' : ''}
(the whole run took ${r.benchSeconds.toFixed(0)} s) on ${r.machine}. One process runs the API,
admission, the pg-boss workers (\`CTP_JOB_CONCURRENCY=${p.jobConcurrency}\`) and the fake driver for every simulated host; the hosts
heartbeat every 5 s. Each host: ${p.hostCpus} cores, ${p.hostMemoryMiB / 1024} GiB; ratios ${p.cpuOvercommit} vCPUs per core, RAM
not overcommitted, ${p.reservedMemoryMiB} MiB kept per host. The lab: 2 VMs (2 vCPUs + 2 GiB, 1 vCPU + 1 GiB) on one network.
Every student sends \`POST /api/v1/labs\` at a random moment within ${p.arrivalSeconds} s. Driver latencies: ${latencies}.

**Placement** (all ${p.hosts} hosts up): labs per host min ${Math.min(...labs)}, max ${Math.max(...labs)}, standard deviation ${stddev(labs).toFixed(2)}.

| host | labs | VMs | vCPUs used / may promise | RAM used / may promise (installed) |
| --- | --- | --- | --- | --- |
${hostRows.join('\n')}

**Timings**, p50 / p95 / max in seconds:

| step | all hosts up | ${p.drained} hosts drained until every admitted lab ran |
| --- | --- | --- |
${timings(c)
  .map(([what, value], i) => `| ${what} | ${value} | ${timings(o)[i]![1]} |`)
  .join('\n')}

- All hosts up: every lab \`running\` ${seconds(c.allRunningAt - c.firstAt)} s after the first request
  (the requests themselves spread over ${p.arrivalSeconds} s); ${(c.times.length / ((c.allRunningAt - c.firstAt) / 1000)).toFixed(1)} labs (provisioning jobs) per second over that time.
- Database, all hosts up: ${database(c, c.times.length, r.busyMeaning)}.
- ${p.drained} of ${p.hosts} hosts drained: ${o.queued} labs were queued when the last request came in; ${waited.length} waited over a second,
  and they were placed in request order: **${inOrder ? 'yes' : 'NO'}**. The drained hosts were undrained once every admitted lab ran
  (${seconds(o.undrainedAt - o.firstAt)} s after the first request); every lab then ran ${seconds(o.allRunningAt - o.undrainedAt)} s later.
  Queue waits of the labs that waited: ${waited.length ? spread(waited.map((l) => l.admitted - l.requested)) : '–'} s (p50 / p95 / max).
- Database, hosts drained: ${database(o, o.times.length, r.busyMeaning)}.
`;
}
