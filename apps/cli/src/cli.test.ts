import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/src/db/database.js';
import { freePort, ServerProcess } from '../../server/src/test-support/server-process.js';

const bin = fileURLToPath(new URL('../bin/ctp.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'ctp-cli-'));
const file = (name: string) => path.join(dir, name);
// The engine under test: PGlite, or the PostgreSQL server of DATABASE_URL (CI runs both).
const databaseUrl = process.env.DATABASE_URL;

/** Runs `ctp ARGS` as a process with the given environment; answers exit code and output. */
function ctp(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { DATABASE_URL: _ignored, ...parentEnv } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...parentEnv, CTP_CLI_CONFIG: file('session.json'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** What a restore must give back: users (with their password hashes), templates and their versions, the audit trail. */
async function contents(env: { dataDir: string; databaseUrl?: string }) {
  const database = await openDatabase({ databaseUrl: env.databaseUrl, pgliteDir: path.join(env.dataDir, 'pglite') });
  try {
    const rows = async (query: string) =>
      ((await database.db.execute(sql.raw(query))) as unknown as { rows: Record<string, unknown>[] }).rows;
    return {
      users: await rows('select id, username, role, password_hash, disabled from users order by username'),
      templates: await rows('select id, name, status, version, source from lab_templates order by id'),
      classes: await rows(
        'select c.id, c.name, c.description, s.user_id from classes c left join class_students s on s.class_id = c.id order by c.id, s.user_id',
      ),
      versions: await rows('select template_id, version, source from lab_template_versions order by template_id, version'),
      audit: await rows('select id, action, outcome, actor_id, target_id, request_id from audit_events order by id'),
    };
  } finally {
    await database.close();
  }
}

const BAD_TEMPLATE = `version: 1
title: Broken lab
lifetimeMinutes: 60
networks:
  - name: lan
    cidr: 10.0.0.0/24
vms:
  - name: box
    image: demo-target
    cpus: 1
    memoryMiB: 128
    nics:
      - network: nowhere
        address: 10.0.0.5
tasks: []
`;

describe(`ctp against a running server (${databaseUrl ? 'PostgreSQL server' : 'PGlite'})`, () => {
  const dataDir = file('data');
  let server: ServerProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    const port = await freePort();
    env = { CTP_DATA_DIR: dataDir, PORT: String(port), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    server = new ServerProcess(port, { ...env, CTP_ADMIN_PASSWORD: 'admin-password-1', CTP_ACCELERATOR: 'tcg' });
    await server.start();
  });

  afterAll(async () => {
    await server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in, lists labs as JSON, imports users, lints and pushes templates; exit codes tell what happened', async () => {
    const refused = await ctp(['--json', 'labs', 'list']);
    expect(refused.code).toBe(4);
    expect(JSON.parse(refused.stdout).error.message).toMatch(/not signed in/);

    const login = await ctp(['--json', 'login', '--server', server.url, '--username', 'admin'], { CTP_PASSWORD: 'admin-password-1' });
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toEqual({ server: server.url, username: 'admin' });
    // The session file holds tokens: only its owner may read it.
    expect(statSync(file('session.json')).mode & 0o777).toBe(0o600);
    const wrong = await ctp(['login', '--server', server.url, '--username', 'admin'], {
      CTP_PASSWORD: 'wrong',
      CTP_CLI_CONFIG: file('other.json'),
    });
    expect(wrong.code).toBe(4);

    const labs = await ctp(['--json', 'labs', 'list', '--all']);
    expect(labs.code, labs.stderr).toBe(0);
    expect(JSON.parse(labs.stdout)).toMatchObject({ items: [], total: 0 });

    writeFileSync(file('users.csv'), 'username,password,role\nalice,alice-password-1,student\nbob,short,student\n');
    const imported = await ctp(['--json', 'users', 'import', file('users.csv')]);
    expect(imported.code).toBe(3);
    expect(JSON.parse(imported.stdout)).toMatchObject({
      created: 1,
      failed: 1,
      results: [
        { line: 2, username: 'alice', created: true },
        { line: 3, created: false },
      ],
    });

    writeFileSync(file('bad.yaml'), BAD_TEMPLATE);
    const lint = await ctp(['templates', 'lint', file('bad.yaml')]);
    expect(lint.code).toBe(3);
    expect(lint.stdout).toContain(`${file('bad.yaml')}:13: vms[0].nics[0].network: unknown network "nowhere"`);
    const lintJson = await ctp(['--json', 'templates', 'lint', file('bad.yaml')]);
    expect(JSON.parse(lintJson.stdout).files[0].problems[0]).toMatchObject({ line: 13, field: 'vms[0].nics[0].network' });

    writeFileSync(
      file('good.yaml'),
      BAD_TEMPLATE.replace('title: Broken lab', 'title: Fixed lab').replace('network: nowhere', 'network: lan'),
    );
    expect((await ctp(['templates', 'lint', file('good.yaml')])).code).toBe(0);
    const pushed = await ctp(['--json', 'templates', 'push', file('good.yaml'), '--publish']);
    expect(pushed.code, pushed.stdout + pushed.stderr).toBe(0);
    const template = JSON.parse(pushed.stdout) as { id: string; title: string; status: string };
    expect(template).toMatchObject({ title: 'Fixed lab', status: 'published' });
    const pulled = await ctp(['templates', 'pull', template.id]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain('title: Fixed lab');
    const missing = await ctp(['templates', 'pull', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(6);
  }, 180_000);

  it('lists hosts and drains and undrains one by name or id (admins only)', async () => {
    const listed = await ctp(['--json', 'hosts', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    const hosts = JSON.parse(listed.stdout).items as { id: string; name: string; state: string; capacity: { cpus: number } }[];
    expect(hosts).toHaveLength(1);
    expect(hosts[0]).toMatchObject({ state: 'up', driver: 'qemu', accelerator: 'tcg' });
    expect(hosts[0]!.capacity.cpus).toBeGreaterThan(0);
    const name = hosts[0]!.name;
    const human = await ctp(['hosts', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${name}\\s+up\\s+cpu 0/`));
    const drained = await ctp(['hosts', 'drain', name]);
    expect(drained.code, drained.stderr).toBe(0);
    expect(drained.stdout.trim()).toBe(`${name}: draining`);
    expect(JSON.parse((await ctp(['--json', 'hosts', 'list'])).stdout).items[0].state).toBe('draining');
    const undrained = await ctp(['--json', 'hosts', 'undrain', hosts[0]!.id]);
    expect(JSON.parse(undrained.stdout)).toMatchObject({ name, state: 'up' });
    const unknown = await ctp(['hosts', 'drain', 'no-such-host']);
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toContain('no host named "no-such-host"');
    // A student (alice, imported above) may not see hosts: exit 4.
    const alice = await ctp(['login', '--server', server.url, '--username', 'alice'], {
      CTP_PASSWORD: 'alice-password-1',
      CTP_CLI_CONFIG: file('alice.json'),
    });
    expect(alice.code, alice.stderr).toBe(0);
    const student = await ctp(['--json', 'hosts', 'list'], { CTP_CLI_CONFIG: file('alice.json') });
    expect(student.code).toBe(4);
  }, 60_000);

  it('uploads images: a qcow2 (checksum sent and verified), a raw disk converted (--wait); refuses a lie about the format; lists them', async () => {
    // Its own session: the test does not depend on the one above.
    const own = { CTP_CLI_CONFIG: file('images-session.json') };
    const login = await ctp(['login', '--server', server.url, '--username', 'admin'], { ...own, CTP_PASSWORD: 'admin-password-1' });
    expect(login.code, login.stderr).toBe(0);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file('disk.qcow2'), '64M']);
    const uploaded = await ctp(['--json', 'images', 'upload', file('disk.qcow2'), '--name', 'cli-disk', '--format', 'qcow2'], own);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const sha256 = createHash('sha256')
      .update(readFileSync(file('disk.qcow2')))
      .digest('hex');
    expect(JSON.parse(uploaded.stdout)).toMatchObject({ name: 'cli-disk', sourceFormat: 'qcow2', status: 'ready', sha256 });

    writeFileSync(file('disk.raw'), Buffer.alloc(2 * 2 ** 20, 7));
    const converted = await ctp(['--json', 'images', 'upload', file('disk.raw'), '--name', 'cli-raw', '--format', 'raw', '--wait'], own);
    expect(converted.code, converted.stdout + converted.stderr).toBe(0);
    expect(JSON.parse(converted.stdout)).toMatchObject({ name: 'cli-raw', sourceFormat: 'raw', status: 'ready', kind: 'disk' });

    // A qcow2 declared as a vmdk: the server inspects it and says no (exit 3, its reason shown, nothing stored).
    const lie = await ctp(['images', 'upload', file('disk.qcow2'), '--name', 'cli-lie', '--format', 'vmdk'], own);
    expect(lie.code).toBe(3);
    expect(lie.stderr).toMatch(/ctp: .*vmdk/);

    const list = await ctp(['--json', 'images', 'list'], own);
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as { items: { name: string }[] }).items.map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['cli-disk', 'cli-raw']));
    expect(names).not.toContain('cli-lie');
    expect((await ctp(['images', 'list'], own)).stdout).toMatch(/cli-disk\tqcow2\tready/);
  }, 180_000);

  it('runs a class: creates it, enrols a roster (a bad file imports nothing), assigns a template, provisions every lab, exports grades', async () => {
    const own = { CTP_CLI_CONFIG: file('classes-session.json') };
    const login = await ctp(['login', '--server', server.url, '--username', 'admin'], { ...own, CTP_PASSWORD: 'admin-password-1' });
    expect(login.code, login.stderr).toBe(0);
    const created = await ctp(['--json', 'classes', 'create', 'Networks 101', '--description', 'Tuesday group'], own);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const klass = JSON.parse(created.stdout) as { id: string; name: string };
    expect(klass.name).toBe('Networks 101');
    expect((await ctp(['classes', 'list'], own)).stdout).toContain(`${klass.id}  Networks 101`);

    writeFileSync(file('roster-bad.csv'), 'username,email\ncarol,carol@example.org\nnot a name!,x@example.org\n');
    const bad = await ctp(['--json', 'classes', 'enrol', klass.id, file('roster-bad.csv')], own);
    expect(bad.code).toBe(3);
    expect(JSON.stringify(JSON.parse(bad.stdout).error)).toMatch(/line/);
    writeFileSync(file('roster.csv'), 'username,email\ncarol,carol@example.org\n');
    const enrolled = await ctp(['--json', 'classes', 'enrol', klass.id, file('roster.csv')], own);
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    const roster = JSON.parse(enrolled.stdout) as {
      enrolled: { username: string; created: boolean }[];
      credentials: { username: string }[];
    };
    expect(roster.enrolled).toEqual([{ username: 'carol', created: true, alreadyEnrolled: false }]);
    expect(roster.credentials.map((c) => c.username)).toEqual(['carol']);

    writeFileSync(
      file('class.yaml'),
      BAD_TEMPLATE.replace('title: Broken lab', 'title: Class lab').replace('network: nowhere', 'network: lan'),
    );
    const template = JSON.parse((await ctp(['--json', 'templates', 'push', file('class.yaml'), '--publish'], own)).stdout) as {
      id: string;
    };
    const bogus = await ctp(['classes', 'assign', klass.id, '--template', template.id, '--closes', 'next week'], own);
    expect(bogus.code).toBe(2);
    const assigned = await ctp(
      ['--json', 'classes', 'assign', klass.id, '--template', template.id, '--closes', '+2h', '--lifetime', '30'],
      own,
    );
    expect(assigned.code, assigned.stdout + assigned.stderr).toBe(0);
    const assignment = JSON.parse(assigned.stdout) as { id: string; state: string; title: string };
    expect(assignment).toMatchObject({ state: 'open', title: 'Class lab' });
    expect((await ctp(['classes', 'assignments', klass.id], own)).stdout).toContain(assignment.id);

    const provisioned = await ctp(['--json', 'classes', 'provision', assignment.id], own);
    expect(provisioned.code, provisioned.stdout + provisioned.stderr).toBe(0);
    const result = JSON.parse(provisioned.stdout) as { created: { username: string; labId: string }[]; skipped: unknown[] };
    expect(result.created.map((c) => c.username)).toEqual(['carol']);
    // Again: carol has her lab, nothing more is started.
    const again = JSON.parse((await ctp(['--json', 'classes', 'provision', assignment.id], own)).stdout) as typeof result;
    expect(again.created).toEqual([]);
    expect(again.skipped).toMatchObject([{ username: 'carol' }]);

    const grades = await ctp(['classes', 'grades', assignment.id, '--out', file('grades.csv')], own);
    expect(grades.code, grades.stderr).toBe(0);
    const csv = readFileSync(file('grades.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^username,email,name,/);
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(['carol']);

    // The lab's real VM goes before the server stops (the backup test below stops it).
    const labId = result.created[0]!.labId;
    await expect.poll(async () => (await ctp(['labs', 'delete', labId], own)).code, { timeout: 60_000, interval: 1000 }).toBe(0);
    // Deleted labs leave the list once their VMs and network are gone.
    const listed = async () =>
      (JSON.parse((await ctp(['--json', 'labs', 'list', '--all'], own)).stdout) as { items: { id: string }[] }).items;
    await expect.poll(async () => (await listed()).map((l) => l.id), { timeout: 60_000, interval: 1000 }).not.toContain(labId);
  }, 240_000);

  it('sets, lists and deletes quotas (admins); a student sees only their own limits', async () => {
    const own = { CTP_CLI_CONFIG: file('quotas-session.json') };
    expect((await ctp(['login', '--server', server.url, '--username', 'admin'], { ...own, CTP_PASSWORD: 'admin-password-1' })).code).toBe(
      0,
    );
    const role = await ctp(['--json', 'quotas', 'set', '--role', 'student', '--labs', '2', '--vcpus', '4', '--memory', '1024'], own);
    expect(role.code, role.stdout + role.stderr).toBe(0);
    expect(JSON.parse(role.stdout)).toMatchObject({ scope: 'role', subject: 'student', maxLabs: 2, maxVcpus: 4, maxMemoryMiB: 1024 });
    const user = await ctp(['quotas', 'set', '--user', 'alice', '--labs', '1', '--memory', 'none'], own);
    expect(user.code, user.stderr).toBe(0);
    expect(user.stdout.trim()).toBe('user alice: labs 1, vCPUs -, memory -');
    const klass = JSON.parse((await ctp(['--json', 'classes', 'create', 'Quota class'], own)).stdout) as { id: string };
    expect((await ctp(['quotas', 'set', '--class', klass.id, '--labs', '1'], own)).code).toBe(0);
    const list = await ctp(['quotas', 'list'], own);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').map((line) => line.split(/\s+/).join(' '))).toEqual(
      expect.arrayContaining(['class Quota class 1 - -', 'role student 2 4 1024 MiB', 'user alice 1 - -']),
    );
    // Bad input: exit 3 with the server's reason; no subject or two: usage (2); unknown user: 6.
    const wizard = await ctp(['quotas', 'set', '--role', 'wizard', '--labs', '1'], own);
    expect([wizard.code, wizard.stderr]).toEqual([3, expect.stringContaining('Unknown role "wizard"')]);
    expect((await ctp(['quotas', 'set', '--labs', '1'], own)).code).toBe(2);
    expect((await ctp(['quotas', 'set', '--role', 'student', '--user', 'alice', '--labs', '1'], own)).code).toBe(2);
    expect((await ctp(['quotas', 'set', '--role', 'student', '--labs', 'lots'], own)).code).toBe(2);
    expect((await ctp(['quotas', 'set', '--user', 'nobody', '--labs', '1'], own)).code).toBe(6);

    const student = { CTP_CLI_CONFIG: file('alice-session.json') };
    expect(
      (await ctp(['login', '--server', server.url, '--username', 'alice'], { ...student, CTP_PASSWORD: 'alice-password-1' })).code,
    ).toBe(0);
    expect((await ctp(['quotas', 'list'], student)).code).toBe(4);
    expect((await ctp(['quotas', 'delete', '--role', 'student'], student)).code).toBe(4);
    const mine = await ctp(['--json', 'quotas', 'mine'], student);
    expect(JSON.parse(mine.stdout)).toMatchObject({ maxLabs: { limit: 1, source: 'user' }, maxVcpus: { limit: 4, source: 'role' } });

    expect((await ctp(['quotas', 'delete', '--user', 'alice'], own)).code).toBe(0);
    expect((await ctp(['quotas', 'delete', '--user', 'alice'], own)).code).toBe(6);
    expect(JSON.parse((await ctp(['--json', 'quotas', 'mine'], student)).stdout).maxLabs).toEqual({ limit: 2, source: 'role' });
    expect((await ctp(['quotas', 'delete', '--role', 'student'], own)).code).toBe(0);
    expect((await ctp(['quotas', 'delete', '--class', klass.id], own)).code).toBe(0);
    expect(JSON.parse((await ctp(['--json', 'quotas', 'list'], own)).stdout)).toEqual({ items: [] });
  }, 120_000);

  it('backs up while the platform runs, refuses to restore over it, and restores into an empty installation', async () => {
    const backup = await ctp(['--json', 'backup', file('backup.tar.gz')], env);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(JSON.parse(backup.stdout)).toMatchObject({ engine: databaseUrl ? 'postgres' : 'pglite', jwtSecret: true });
    const overRunning = await ctp(['restore', file('backup.tar.gz')], env);
    expect(overRunning.code).toBe(7);

    await server.kill('SIGTERM');
    const before = await contents({ dataDir, databaseUrl });
    expect(before.users.map((u) => u.username)).toEqual(['admin', 'alice', 'carol']);
    // The classes the earlier tests of this file made (the quotas test's one included).
    expect(before.classes.map((c) => c.name).sort()).toEqual(['Networks 101', 'Quota class']);
    expect(before.templates.length).toBeGreaterThanOrEqual(2);
    expect(before.audit.length).toBeGreaterThan(5);

    // An empty installation: a new data directory (and, on a server, an emptied database).
    const restoredDir = file('restored');
    if (databaseUrl) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(
        'drop schema if exists pgboss cascade; drop schema if exists drizzle cascade; drop schema public cascade; create schema public',
      );
      await client.end();
    }
    const restore = await ctp(['--json', 'restore', file('backup.tar.gz')], { ...env, CTP_DATA_DIR: restoredDir });
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(await contents({ dataDir: restoredDir, databaseUrl })).toEqual(before);
    expect(readFileSync(path.join(restoredDir, 'jwt-secret'), 'utf8')).toBe(readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8'));
    if (!databaseUrl) {
      // A second restore does not overwrite a database without --replace.
      expect((await ctp(['restore', file('backup.tar.gz')], { ...env, CTP_DATA_DIR: restoredDir })).code).toBe(1);
    }
  }, 180_000);
});
