import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabDetail, LabTemplateConfig } from '@ctp/contracts';
import { QemuDriver, chooseNetworkBackend, runCommand, type HypervisorDriver } from '@ctp/hypervisor';
import { demoImages } from '@ctp/hypervisor/test-support';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { createImageCatalog, DEFAULT_IMAGES_DIR } from '../src/services/image-catalog.js';
import { hashPassword } from '../src/services/password.js';
import { DEMO_TEMPLATE } from '../src/services/template.service.js';
import { createServices } from '../src/services.js';

// Saved states versus cold boots: the demo lab through the platform's API, 1 and 10 labs at once,
// time to `running`, time until every guest's shell answers, and host memory per QEMU process.
// Appends its section to docs/benchmarks.md (after provisioning.bench.ts rewrote the file).

const repoRoot = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const MARK = '<!-- saved-state.bench.ts -->';
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const max = (values: number[]) => Math.max(...values);

interface Run {
  runningMs: number[];
  readyMs: number[];
  /** Per QEMU process, in MiB, once all guests answered. */
  rss: number[];
  pss: number[];
}

/** Resolves when the guest's shell runs a command on its serial console (the echo of the typed line does not count). */
async function shellAnswers(driver: HypervisorDriver, vmName: string): Promise<void> {
  const stream = await driver.openConsole(vmName, 'serial');
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const probe = setInterval(() => stream.write('echo CTP-PROBE-$((40+2))\n'), 200);
    const timer = setTimeout(() => reject(new Error(`${vmName} did not answer`)), 180_000);
    stream.write('echo CTP-PROBE-$((40+2))\n');
    stream.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-2000);
      if (seen.includes('CTP-PROBE-42')) {
        clearInterval(probe);
        clearTimeout(timer);
        resolve();
      }
    });
  });
  stream.destroy();
}

/** RSS and PSS of a process in MiB (smaps_rollup). */
function memoryOf(pid: number): { rss: number; pss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
  return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
}

/** One platform instance with its own QEMU driver (TCG translation cache `tbMiB`, 0: QEMU's default). */
async function platform(tbMiB: number) {
  const images = demoImages();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-bench-saved-'));
  const config = {
    ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    jwtSecret: 'bench-secret-0123456789abcdef0123456789',
    schedules: false,
    maxLabsPerUser: 100,
    savedStates: true,
  };
  const database = await openDatabase({});
  const vmsDir = path.join(dataDir, 'vms');
  const driver = new QemuDriver({
    stateDir: vmsDir,
    network: await chooseNetworkBackend(runCommand, path.join(dataDir, 'net')),
    probeKernel: images.attacker.kernel,
    ...(tbMiB ? { tcgTranslationCacheMiB: tbMiB } : {}),
  });
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
  const demo = (await services.templates.ensureDemoTemplate()).id;
  const coldConfig: LabTemplateConfig = {
    ...DEMO_TEMPLATE,
    title: 'Cold',
    vms: DEMO_TEMPLATE.vms.map((vm) => ({ ...vm, boot: 'cold' as const })),
  };
  const cold = (
    await services.repositories.templates.create({
      name: 'Cold',
      description: '',
      config: coldConfig,
      source: '',
      ownerId: null,
      status: 'published',
    })
  ).id;

  /** Starts `n` labs at once; times each to `running` and to all its guests answering; then memory; then deletes them. */
  async function run(templateId: string, n: number): Promise<Run> {
    const labs = await Promise.all(
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
        const vms = await services.repositories.labs.vmsOf(lab.id);
        await Promise.all(vms.map((vm) => shellAnswers(driver, vm.driverName)));
        return { id: lab.id, runningMs, readyMs: Date.now() - started, vms: vms.map((v) => v.driverName), steps: detail.steps };
      }),
    );
    const memory = labs.flatMap((l) => l.vms.map((vm) => memoryOf(Number(readFileSync(path.join(vmsDir, vm, 'qemu.pid'), 'utf8')))));
    const paths = new Set(
      labs.flatMap((l) => l.steps.filter((s) => s.name.startsWith('Start ')).map((s) => s.name.replace(/^Start \S+ /, ''))),
    );
    console.log(`  ${n} lab(s): ${[...paths].join(', ')}`);
    for (const lab of labs) await app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers });
    for (const lab of labs) {
      while ((await services.repositories.labs.findById(lab.id))?.status !== 'deleted') await new Promise((r) => setTimeout(r, 50));
    }
    return {
      runningMs: labs.map((l) => l.runningMs),
      readyMs: labs.map((l) => l.readyMs),
      rss: memory.map((m) => m.rss),
      pss: memory.map((m) => m.pss),
    };
  }

  /** Prepares the demo template's saved states now; returns how long it took. */
  async function prepare(): Promise<number> {
    const started = Date.now();
    await services.templateStates.prepare(demo, 1);
    const states = await services.templateStates.list(demo);
    if (!states.every((s) => s.status === 'ready')) throw new Error(`states not ready: ${JSON.stringify(states.map((s) => s.error))}`);
    return Date.now() - started;
  }

  async function close(): Promise<void> {
    await services.stopBackground();
    await app.close();
    await database.close();
    for (const state of await driver.listSavedStates()) await driver.deleteSavedState(state.name);
    driver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { driver, run, prepare, close, demo, cold };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  const row = (what: string, n: number, r: Run) => {
    const line = `| ${what} | ${n} | ${median(r.runningMs)} | ${median(r.readyMs)} | ${max(r.readyMs)} | ${median(r.rss).toFixed(0)} | ${median(r.pss).toFixed(0)} |`;
    rows.push(line);
    console.log(line);
  };

  // Before: every VM boots, QEMU's default translation cache.
  const before = await platform(0);
  const host = await before.driver.probe();
  for (const n of [1, 10]) row('cold boot, TCG cache default', n, await before.run(before.cold, n));
  const prepareDefault = await before.prepare();
  row('saved state, TCG cache default', 10, await before.run(before.demo, 10));
  await before.close();

  // After: saved states and a 32 MiB translation cache (the platform's defaults).
  const after = await platform(32);
  const prepareMs = await after.prepare();
  for (const n of [1, 10]) row('saved state, TCG cache 32 MiB', n, await after.run(after.demo, n));
  row('cold boot, TCG cache 32 MiB', 10, await after.run(after.cold, 10));
  await after.close();

  const section = `${MARK}
## Saved states versus cold boots (demo lab: two 128 MiB guests)

Measured with \`npm run bench\` (\`apps/server/bench/saved-state.bench.ts\`) on ${new Date().toISOString()}: ${host.driver}
${host.version}, accelerator ${host.accelerator}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM.
The machine is shared with other engineers' work (runs were under the host lock, but other
processes used the CPUs meanwhile), so absolute times vary between runs.

Labs are started through \`POST /api/v1/labs\`, all at once. "running" is when the API reports the
lab \`running\`; "answers" is when the shell of every guest of the lab has run a command typed
on its serial console (for restored guests their readiness line is in the scrollback, so it is not
used). Memory is per QEMU process, measured once all guests answered (median over the VMs).
Preparing the template's two saved states (boot a reference VM per template VM, wait for its
\`CTP-READY\` line, save RAM and disk) took ${prepareMs} ms (${prepareDefault} ms with the default cache);
the platform does it once per template version, in the background.

| path | labs at once | running, median ms | answers, median ms | answers, slowest ms | RSS MiB | PSS MiB |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Guest RAM is 128 MiB per VM: memory beyond guest RAM is RSS − 128 MiB when the guest's RAM is
all resident (a restored guest has all the RAM it had when saved; a booted one touches it as it runs).
`;
  const file = path.join(repoRoot, 'docs', 'benchmarks.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const kept = existing.includes(MARK) ? existing.slice(0, existing.indexOf(MARK)) : `${existing.trimEnd()}\n\n`;
  writeFileSync(file, kept + section);
  console.log(section);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
