import type { Duplex } from 'node:stream';

/** Reads a console stream into a string and waits for text to appear in it. */
export class SerialReader {
  private text = '';
  constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => (this.text += chunk.toString('utf8')));
  }

  get output(): string {
    return this.text;
  }

  /** Resolves once `pattern` appears after position `from`; rejects after `timeoutMs`. */
  async waitFor(pattern: string | RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.text.slice(from);
      if (typeof pattern === 'string' ? rest.includes(pattern) : pattern.test(rest)) return rest;
      if (Date.now() > deadline) throw new Error(`"${pattern}" not seen within ${timeoutMs} ms; console said: ${this.text.slice(-800)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Types a command and returns what it printed: the text between the terminal's echo of the
   * typed line and a marker printed after the command (so scrollback never counts).
   */
  async run(command: string, timeoutMs = 30_000): Promise<string> {
    const marker = `M${Math.random().toString(36).slice(2, 10)}`;
    const typed = `echo ${marker}-$?-END`;
    this.stream.write(`${command}; ${typed}\n`);
    const done = new RegExp(`${marker}-\\d+-END`);
    await this.waitFor(done, timeoutMs);
    const start = this.text.indexOf(typed);
    const rest = this.text.slice(start >= 0 ? start + typed.length : 0);
    return rest.slice(0, rest.search(done));
  }

  /** Types text as it is (a login name, a password), without waiting for anything. */
  write(text: string): void {
    this.stream.write(text);
  }

  close(): void {
    this.stream.destroy();
  }
}
