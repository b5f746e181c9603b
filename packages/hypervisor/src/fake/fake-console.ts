import { Duplex } from 'node:stream';

const SCROLLBACK_CHARS = 64 * 1024;

/**
 * One console of a fake VM, shared by every viewer as the real serial hub shares QEMU's one
 * serial connection: what any viewer types reaches the "guest" (recorded in `typed`), and the
 * guest echoes it to every viewer, like a terminal with local echo. A late viewer gets the
 * scrollback first.
 */
export class FakeConsole {
  private readonly viewers = new Set<Duplex>();
  /** Everything viewers typed, in order: what reached the guest. */
  typed = '';
  private output = '';

  /** A new viewer stream, starting with the scrollback. */
  open(): Duplex {
    const viewers = this.viewers;
    const viewer = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        const text = chunk.toString();
        this.typed += text;
        this.print(text);
        callback();
      },
      destroy(error, callback) {
        viewers.delete(viewer);
        callback(error);
      },
    });
    if (this.output) viewer.push(Buffer.from(this.output));
    viewers.add(viewer);
    return viewer;
  }

  /** What the guest prints, to every viewer. */
  print(text: string): void {
    this.output = (this.output + text).slice(-SCROLLBACK_CHARS);
    for (const viewer of this.viewers) viewer.push(Buffer.from(text));
  }

  /** The VM went away: every viewer's stream ends. */
  close(): void {
    for (const viewer of this.viewers) viewer.push(null);
    this.viewers.clear();
  }
}
