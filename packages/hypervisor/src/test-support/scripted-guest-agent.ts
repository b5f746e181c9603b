import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** One command as qemu-ga receives it. */
export type AgentCommand = { execute: string; arguments?: Record<string, unknown> };

/** A scripted qemu-ga peer: its socket, the commands it saw, how many connections it accepted. */
export interface ScriptedGuestAgent {
  socketPath: string;
  seen: AgentCommand[];
  connections: () => number;
  /** Closes every accepted connection (as QEMU does when it exits), then stops listening. */
  close: () => Promise<void>;
}

/**
 * A peer on a unix socket speaking qemu-ga's wire format, for what a real guest cannot be made to
 * do on demand: stale answers of an earlier client in the stream, a lost answer, a dropped
 * connection. It answers `guest-sync-delimited` itself; `answer` returns the reply to anything
 * else (`undefined`: no reply). `close` leaves the socket's folder when `at` was given. The real agent is exercised by guest-channel.qemu.test.ts.
 */
export async function scriptedGuestAgent(
  answer: (command: AgentCommand, socket: net.Socket) => unknown,
  stale = '',
  at?: string,
): Promise<ScriptedGuestAgent> {
  // `at`: listen where an earlier peer listened (a new QEMU serving the same VM's socket).
  const dir = at ? undefined : mkdtempSync(path.join(tmpdir(), 'ctp-qga-'));
  const socketPath = at ?? path.join(dir!, 'qga.sock');
  const seen: AgentCommand[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (stale) socket.write(Buffer.concat([Buffer.from(stale), Buffer.from([0xff]), Buffer.from('{"return": 7}\n')]));
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1').replace(/\xff/g, '');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const command = JSON.parse(buffer.slice(0, newline)) as AgentCommand;
        buffer = buffer.slice(newline + 1);
        seen.push(command);
        if (command.execute === 'guest-sync-delimited') {
          socket.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: command.arguments!.id }) + '\n')]));
          continue;
        }
        const reply = answer(command, socket);
        if (reply !== undefined) socket.write(JSON.stringify(reply) + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    seen,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
