import { closeSync, openSync, readSync, statSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { HypervisorError } from '../errors.js';

const SCROLLBACK_BYTES = 64 * 1024;

/** The last bytes of the serial log: what a late viewer needs to see the past. */
function tail(file: string, bytes: number): Buffer {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buffer;
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * QEMU's serial socket takes one client at a time, so each VM gets one connection, shared by
 * every viewer: what the guest prints goes to all of them, what any of them types goes to the
 * guest. A viewer first receives the scrollback from the chardev's log file.
 */
export class SerialHub {
  private readonly viewers = new Set<Duplex>();
  private constructor(
    private readonly socket: net.Socket,
    private readonly logFile: string,
    private readonly onEmpty: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const viewer of this.viewers) viewer.push(chunk);
    });
    socket.on('close', () => {
      for (const viewer of this.viewers) viewer.push(null);
      this.viewers.clear();
      this.onEmpty();
    });
    socket.on('error', () => {});
  }

  /** Connects to the VM's serial socket. */
  static connect(socketPath: string, logFile: string, onClosed: () => void): Promise<SerialHub> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once('connect', () => resolve(new SerialHub(socket, logFile, onClosed)));
      socket.once('error', (error) => reject(new HypervisorError('invalid_state', `serial console is not available: ${error.message}`)));
    });
  }

  /** A new viewer stream, starting with the scrollback. */
  open(): Duplex {
    const socket = this.socket;
    const viewers = this.viewers;
    const viewer = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (socket.destroyed) return callback(new Error('serial console closed'));
        socket.write(chunk, () => callback());
      },
      destroy(error, callback) {
        viewers.delete(viewer);
        callback(error);
      },
    });
    const past = tail(this.logFile, SCROLLBACK_BYTES);
    if (past.length) viewer.push(past);
    viewers.add(viewer);
    return viewer;
  }

  close(): void {
    this.socket.destroy();
  }
}
