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
    const from = this.text.length;
    this.stream.write(`${command}; ${typed}\n`);
    const done = new RegExp(`${marker}-\\d+-END`);
    await this.waitFor(done, timeoutMs, from);
    // Without the echo of the typed line, the command's own words could pass for its output. The
    // terminal wraps a long line at its width, so the echo may have line breaks anywhere in it.
    const echo = new RegExp([...typed].map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('(?: ?\r?\n|\r)*'));
    const rest = this.text.slice(from);
    const found = echo.exec(rest);
    if (!found) throw new Error(`the console did not echo "${typed}"; it said: ${rest.slice(-800)}`);
    const after = rest.slice(found.index + found[0].length);
    return after.slice(0, after.search(done));
  }

  /** Types text as it is (a login name, a password), without waiting for anything. */
  write(text: string): void {
    this.stream.write(text);
  }

  close(): void {
    this.stream.destroy();
  }
}
