import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LabDetail } from '@ctp/contracts';
import { QemuDriver, chooseNetworkBackend, runCommand } from '@ctp/hypervisor';
import { demoImages } from '@ctp/hypervisor/test-support';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { createImageCatalog, DEFAULT_IMAGES_DIR } from '../src/services/image-catalog.js';
import { hashPassword } from '../src/services/password.js';
import { createServices } from '../src/services.js';
import { baselineLab } from './baseline.js';
import { writeSection } from './report.js';

// Provisioning overhead: the demo lab through the platform's API versus the same QEMU work done
// directly, 1 lab and then 10 at once, measured in the same run. Writes docs/benchmarks.md.

const COMMAND = 'npm run bench';

interface Timing {
  runningMs: number;
  readyMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const max = (values: number[]) => Math.max(...values);

async function main(): Promise<void> {
  const images = demoImages();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-bench-'));
  const config = {
    ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    jwtSecret: 'bench-secret-0123456789abcdef0123456789',
    schedules: false,
    maxLabsPerUser: 100,
    // Cold boots only here; saved-state.bench.ts measures restores.
    savedStates: false,
  };
  const database = await openDatabase({});
  const driver = new QemuDriver({
    stateDir: path.join(dataDir, 'vms'),
    network: await chooseNetworkBackend(runCommand, path.join(dataDir, 'net')),
    probeKernel: images.attacker.kernel,
  });
  const host = await driver.probe();
  const services = createServices(config, database, { driver, images: createImageCatalog(DEFAULT_IMAGES_DIR) });
  const app = await buildApp(config, services, false, { webDist: false });
  await services.startBackground();
  await services.repositories.users.insert({
    username: 'bench',
    role: 'student',
    passwordHash: await hashPassword('bench-password'),
    email: null,
  });
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'bench', password: 'bench-password' } });
  const headers = { authorization: `Bearer ${login.json().accessToken}` };
  const templateId = (await services.templates.ensureDemoTemplate()).id;

  /** Starts `n` demo labs at once through the API; times each to `running` and to both guests' readiness lines. */
  async function platform(n: number): Promise<Timing[]> {
    const timings = await Promise.all(
      Array.from({ length: n }, async () => {
        const started = Date.now();
        const lab = (await app.inject({ method: 'POST', url: '/api/v1/labs', headers, payload: { templateId } })).json() as LabDetail;
        let detail: LabDetail;
        do {
          await new Promise((r) => setTimeout(r, 25));
          detail = (await app.inject({ url: `/api/v1/labs/${lab.id}`, headers })).json() as LabDetail;
          if (detail.status === 'error') throw new Error(`lab failed: ${JSON.stringify(detail.error)}`);
        } while (detail.status !== 'running');
        const runningMs = Date.now() - started;
        const names = await services.repositories.labs.vmsOf(lab.id);
        await Promise.all(
          names.map(async (vm) => {
            const stream = await driver.openConsole(vm.driverName, 'serial');
            await new Promise<void>((resolve, reject) => {
              let seen = '';
              const timer = setTimeout(() => reject(new Error(`${vm.name} not ready`)), 180_000);
              stream.on('data', (chunk: Buffer) => {
                seen += chunk.toString();
                if (seen.includes('CTP-READY')) {
                  clearTimeout(timer);
                  stream.destroy();
                  resolve();
                }
              });
            });
          }),
        );
        return { runningMs, readyMs: Date.now() - started, labId: lab.id };
      }),
    );
    for (const t of timings) await app.inject({ method: 'DELETE', url: `/api/v1/labs/${t.labId}`, headers });
    for (const t of timings) {
      while ((await services.repositories.labs.findById(t.labId))?.status !== 'deleted') await new Promise((r) => setTimeout(r, 50));
    }
    return timings;
  }

  /** The same QEMU work without the platform. */
  async function baseline(n: number): Promise<Timing[]> {
    const labs = await Promise.all(Array.from({ length: n }, (_, i) => baselineLab(i, host.accelerator === 'kvm' ? 'kvm' : 'tcg')));
    for (const lab of labs) await lab.cleanup();
    return labs.map((l) => ({ runningMs: l.startedMs, readyMs: l.readyMs }));
  }

  const rows: string[] = [];
  for (const n of [1, 10]) {
    const base = await baseline(n);
    const plat = await platform(n);
    const line = (what: string, pick: (t: Timing) => number, agg: (v: number[]) => number) => {
      const b = agg(base.map(pick));
      const p = agg(plat.map(pick));
      return `| ${n} | ${what} | ${b} | ${p} | ${(p / b).toFixed(2)} |`;
    };
    rows.push(line('started / `running` (median)', (t) => t.runningMs, median));
    rows.push(line('guests ready (median)', (t) => t.readyMs, median));
    if (n > 1) rows.push(line('guests ready (slowest lab)', (t) => t.readyMs, max));
    console.log(rows.slice(-3).join('\n'));
  }

  await services.stopBackground();
  await app.close();
  await database.close();
  driver.close();
  rmSync(dataDir, { recursive: true, force: true });

  const report = `## Provisioning overhead (demo lab: two guests on one network)

Measured with \`${COMMAND}\` on ${new Date().toISOString().slice(0, 10)}: ${host.driver} ${host.version}, accelerator ${host.accelerator}, ${(await import('node:os')).cpus().length} cores.

The platform's figure starts at \`POST /api/v1/labs\` and goes through the job queue (pg-boss on
PGlite), the lab runner and the QEMU driver; "running" is when the API reports the lab
\`running\`, "guests ready" when both guests printed their \`CTP-READY\` line on their serial
console. The baseline does the same QEMU work directly (\`apps/server/bench/baseline.ts\`: a
bridge and two taps, two qcow2 overlays, two daemonized QEMU guests with the same kernel,
initramfs and memory), timed to QEMU started and to the same readiness lines, in the same run.

| labs at once | measure | baseline ms | platform ms | ratio |
| --- | --- | --- | --- | --- |
${rows.join('\n')}

A ratio near 1 means the platform adds little to the hypervisor's own work; on this machine
(TCG, 2 cores) the guests' boot dominates, and 10 labs (20 guests) at once are CPU-bound.
`;
  writeSection('provisioning', report);
  console.log(report);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
