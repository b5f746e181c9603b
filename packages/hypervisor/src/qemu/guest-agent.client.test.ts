import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '../errors.js';
import { checkGuestPath } from '../guest-file.js';
import { type AgentCommand, type ScriptedGuestAgent, scriptedGuestAgent } from '../test-support/scripted-guest-agent.js';
import { GuestAgentClient } from './guest-agent.client.js';

const peers: ScriptedGuestAgent[] = [];
const servers: net.Server[] = [];
async function agent(answer: (command: AgentCommand, socket: net.Socket) => unknown, stale = '') {
  const peer = await scriptedGuestAgent(answer, stale);
  peers.push(peer);
  return peer;
}
afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  for (const peer of peers.splice(0)) await peer.close();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('guest agent client', () => {
  it('ignores stale answers before its own sync answer, then runs guest-exec and decodes its output', async () => {
    const { socketPath, seen } = await agent((command) => {
      if (command.execute === 'guest-exec') return { return: { pid: 42 } };
      if (command.execute === 'guest-exec-status')
        return { return: { exited: true, exitcode: 3, 'out-data': b64('out\n'), 'err-data': b64('err\n') } };
      return { return: {} };
    }, '{"return": {"pid": 9}}\n{"error": {"class": "GenericError", "desc": "stale"}}\n');
    const client = await GuestAgentClient.connect(socketPath);
    try {
      expect(await client.exec({ argv: ['sh', '-c', 'x'], input: 'in' })).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
      const exec = seen.find((c) => c.execute === 'guest-exec')!;
      expect(exec.arguments).toEqual({ path: 'sh', arg: ['-c', 'x'], 'capture-output': true, 'input-data': b64('in') });
    } finally {
      client.close();
    }
  });

  it('kills a command still running at its timeout and reports exit code 124', async () => {
    let killed = false;
    const { socketPath, seen } = await agent((command) => {
      if (command.execute === 'guest-exec') return { return: { pid: command.arguments!.path === 'sh' ? 2 : 1 } };
      if (command.arguments?.pid === 2) {
        killed = true;
        return { return: { exited: true, exitcode: 0 } };
      }
      return { return: killed ? { exited: true, signal: 9, 'out-data': b64('partial') } : { exited: false } };
    });
    const client = await GuestAgentClient.connect(socketPath);
    try {
      expect(await client.exec({ argv: ['sleep', '100'], timeoutMs: 100 })).toEqual({
        exitCode: 124,
        stdout: 'partial',
        stderr: '',
        timedOut: true,
      });
      const kill = seen.find((c) => c.execute === 'guest-exec' && c.arguments!.path === 'sh')?.arguments?.arg as string[];
      expect(kill[1]).toContain('kill -KILL');
      expect(kill.slice(2)).toEqual(['sh', '1']);
    } finally {
      client.close();
    }
  });

  it('writes a file in chunks to a private temporary file, then sets mode and owner and renames it', async () => {
    const written: string[] = [];
    const scripts: unknown[][] = [];
    const { socketPath } = await agent((command) => {
      const args = command.arguments ?? {};
      if (command.execute === 'guest-exec') {
        scripts.push(args.arg as unknown[]);
        return { return: { pid: 5 } };
      }
      if (command.execute === 'guest-exec-status') return { return: { exited: true, exitcode: 0 } };
      if (command.execute === 'guest-file-open') return { return: 1000 };
      if (command.execute === 'guest-file-write') {
        const bytes = Buffer.from(args['buf-b64'] as string, 'base64');
        written.push(bytes.toString('latin1'));
        return { return: { count: bytes.length, eof: false } };
      }
      return { return: {} };
    });
    const client = await GuestAgentClient.connect(socketPath);
    const content = 'x'.repeat(100 * 1024);
    try {
      await client.writeFile({ path: '/etc/ctp/banner', content, mode: 0o640, owner: 'root:www-data' });
    } finally {
      client.close();
    }
    expect(written.length).toBeGreaterThan(1);
    expect(written.join('')).toBe(content);
    const [prepare, finish] = scripts as string[][];
    expect(prepare!.slice(0, 4)).toEqual(['-c', 'mkdir -p -- "$1" && umask 077 && : > "$2"', 'sh', '/etc/ctp']);
    expect(prepare![4]).toMatch(/^\/etc\/ctp\/\.ctp-[0-9a-f]{12}\.tmp$/);
    expect(finish).toEqual([
      '-c',
      'chmod 640 "$1" && chown -- "$3" "$1" && mv -f -- "$1" "$2"',
      'sh',
      prepare![4],
      '/etc/ctp/banner',
      'root:www-data',
    ]);
  });

  it('writes a small text file in one guest command, the content on its stdin, and removes the temporary file on failure', async () => {
    const runs: { arg: string[]; input: string }[] = [];
    let exitcode = 0;
    const { socketPath, seen } = await agent((command) => {
      const args = command.arguments ?? {};
      if (command.execute === 'guest-exec') {
        runs.push({ arg: args.arg as string[], input: Buffer.from(args['input-data'] as string, 'base64').toString('utf8') });
        return { return: { pid: 6 } };
      }
      if (command.execute === 'guest-exec-status') return { return: { exited: true, exitcode, 'err-data': b64('cat: write error\n') } };
      return { return: {} };
    });
    const client = await GuestAgentClient.connect(socketPath);
    try {
      await client.writeFile({ path: '/root/flag.txt', content: 'FLAG{x}\n', mode: 0o600, owner: 'root:root' });
      exitcode = 1;
      await expect(client.writeFile({ path: '/etc/ctp/identity', content: 'hostname=a\n' })).rejects.toMatchObject({
        code: 'command_failed',
        message: expect.stringContaining('cat: write error'),
      });
    } finally {
      client.close();
    }
    expect(seen.some((c) => c.execute.startsWith('guest-file-'))).toBe(false);
    const [flag, identity] = runs;
    expect(flag!.input).toBe('FLAG{x}\n');
    expect(flag!.arg.slice(0, 4)).toEqual([
      '-c',
      'mkdir -p -- "$1" && umask 077 && { cat > "$2" && chmod 600 "$2" && chown -- "$4" "$2" && mv -f -- "$2" "$3" || { rm -f -- "$2"; exit 1; }; }',
      'sh',
      '/root',
    ]);
    expect(flag!.arg[4]).toMatch(/^\/root\/\.ctp-[0-9a-f]{12}\.tmp$/);
    expect(flag!.arg.slice(5)).toEqual(['/root/flag.txt', 'root:root']);
    expect(identity!.arg[1]).toBe(
      'mkdir -p -- "$1" && umask 077 && { cat > "$2" && chmod 644 "$2" && mv -f -- "$2" "$3" || { rm -f -- "$2"; exit 1; }; }',
    );
    expect(identity!.arg.slice(5)).toEqual(['/etc/ctp/identity']);
  });

  it('fills a prepared file in place with file calls alone, and writes it the ordinary way when it is missing or not empty', async () => {
    // The guest's files: sizes by path (a missing path cannot be opened with 'r+').
    const sizes = new Map([
      ['/var/www/flag.txt', 0],
      ['/etc/ctp/banner', 3],
    ]);
    const opened = new Map<number, string>();
    const writes: { path: string; text: string }[] = [];
    const { socketPath, seen } = await agent((command) => {
      const args = command.arguments ?? {};
      if (command.execute === 'guest-file-open') {
        const size = sizes.get(args.path as string);
        if (args.mode === 'r+' && size === undefined) return { error: { class: 'GenericError', desc: 'No such file or directory' } };
        opened.set(opened.size + 1, args.path as string);
        return { return: opened.size };
      }
      if (command.execute === 'guest-file-seek')
        return { return: { position: sizes.get(opened.get(args.handle as number)!) ?? 0, eof: false } };
      if (command.execute === 'guest-file-write') {
        const text = Buffer.from(args['buf-b64'] as string, 'base64').toString('utf8');
        writes.push({ path: opened.get(args.handle as number)!, text });
        return { return: { count: Buffer.byteLength(text), eof: false } };
      }
      if (command.execute === 'guest-exec') return { return: { pid: 8 } };
      if (command.execute === 'guest-exec-status') return { return: { exited: true, exitcode: 0 } };
      return { return: {} };
    });
    const client = await GuestAgentClient.connect(socketPath);
    const after = () => seen.splice(0).map((c) => `${c.execute}${c.arguments?.mode ? ` ${c.arguments.mode}` : ''}`);
    try {
      after();
      await client.writeFile({ path: '/var/www/flag.txt', content: 'FLAG{a}\n', mode: 0o644, prepared: true });
      // No guest program ran.
      expect(after()).toEqual(['guest-file-open r+', 'guest-file-seek', 'guest-file-write', 'guest-file-close']);
      expect(writes).toEqual([{ path: '/var/www/flag.txt', text: 'FLAG{a}\n' }]);
      // Not empty: closed untouched, then the ordinary write (one guest command).
      await client.writeFile({ path: '/etc/ctp/banner', content: 'hi\n', prepared: true });
      expect(after()).toEqual(['guest-file-open r+', 'guest-file-seek', 'guest-file-close', 'guest-exec', 'guest-exec-status']);
      // Missing: the ordinary write, which gives it its mode.
      await client.writeFile({ path: '/root/new.txt', content: 'x\n', mode: 0o600, prepared: true });
      expect(after()).toEqual(['guest-file-open r+', 'guest-exec', 'guest-exec-status']);
      expect(writes).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('reports an agent error as command_failed and a silent agent as timeout', async () => {
    const { socketPath } = await agent((command) =>
      command.execute === 'guest-ping' ? undefined : { error: { class: 'GenericError', desc: 'Guest agent command failed' } },
    );
    const client = await GuestAgentClient.connect(socketPath);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: HypervisorError) => e.code,
      );
    expect(await code(client.execute('guest-file-open', { path: '/x' }))).toBe('command_failed');
    expect(await code(client.ping(200))).toBe('timeout');
    expect(await code(client.ping(200))).toBe('command_failed');
    const silent = await agent(() => undefined);
    const never = net.createServer(() => {});
    servers.push(never);
    const neverPath = path.join(path.dirname(silent.socketPath), 'never.sock');
    await new Promise<void>((resolve) => never.listen(neverPath, resolve));
    expect(await code(GuestAgentClient.connect(neverPath, 300))).toBe('timeout');
    expect(await code(GuestAgentClient.connect(path.join(path.dirname(neverPath), 'none.sock'), 300))).toBe('invalid_state');
  });

  it('accepts only absolute plain guest paths and sane owners', async () => {
    expect(() => checkGuestPath('/var/www/flag.txt')).not.toThrow();
    for (const bad of ['rel/x', '/a/../etc/shadow', '/a\nb', '/dir/']) expect(() => checkGuestPath(bad), bad).toThrow(HypervisorError);
    const { socketPath } = await agent(() => ({ return: {} }));
    const client = await GuestAgentClient.connect(socketPath);
    try {
      await expect(client.writeFile({ path: '/x', content: '', owner: 'root; rm -rf /' })).rejects.toMatchObject({ code: 'invalid' });
      await expect(client.writeFile({ path: '/x', content: '', mode: 0o10000 })).rejects.toMatchObject({ code: 'invalid' });
    } finally {
      client.close();
    }
  });
});
