import { Duplex } from 'node:stream';

/** A WebSocket (e.g. a console bridge) as a byte stream, so test helpers can read and type. */
export function openWebSocketStream(url: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        socket.send(chunk);
        callback();
      },
      destroy(error, callback) {
        socket.close();
        callback(error);
      },
    });
    socket.onmessage = (message) => stream.push(Buffer.from(message.data as ArrayBuffer));
    socket.onclose = () => stream.push(null);
    socket.onopen = () => resolve(stream);
    socket.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
}

/** Collects a stream's bytes so that a protocol can be read a few bytes at a time. */
class ByteReader {
  private data = Buffer.alloc(0);
  private ended = false;
  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => (this.data = Buffer.concat([this.data, chunk])));
    stream.on('end', () => (this.ended = true));
  }

  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.data.length < n) {
      if (this.ended || Date.now() > deadline) throw new Error(`wanted ${n} bytes, got ${this.data.length}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n);
    return out;
  }
}

/**
 * Speaks RFB (the VNC protocol) far enough to get a picture: version, security "None",
 * ClientInit, ServerInit, then one full FramebufferUpdateRequest; resolves with the screen size
 * and the first update's rectangle count.
 */
export async function rfbFirstUpdate(stream: Duplex): Promise<{ width: number; height: number; name: string; rectangles: number }> {
  const reader = new ByteReader(stream);
  const version = (await reader.read(12)).toString();
  if (!version.startsWith('RFB 003.')) throw new Error(`not RFB: ${version}`);
  stream.write(Buffer.from('RFB 003.008\n'));
  const count = (await reader.read(1))[0]!;
  const types = [...(await reader.read(count))];
  if (!types.includes(1)) throw new Error(`no "None" security type in ${types.join(',')}`);
  stream.write(Buffer.from([1]));
  const result = (await reader.read(4)).readUInt32BE(0);
  if (result !== 0) throw new Error('RFB security failed');
  stream.write(Buffer.from([1]));
  const init = await reader.read(24);
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  const name = (await reader.read(init.readUInt32BE(20))).toString();
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0);
  request.writeUInt8(0, 1);
  request.writeUInt16BE(width, 6);
  request.writeUInt16BE(height, 8);
  stream.write(request);
  const header = await reader.read(4);
  if (header[0] !== 0) throw new Error(`expected FramebufferUpdate, got message type ${header[0]}`);
  return { width, height, name, rectangles: header.readUInt16BE(2) };
}
