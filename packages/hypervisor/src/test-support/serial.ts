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

  /** Types a command and waits for a marker echoed after it, returning what it printed. */
  async run(command: string, timeoutMs = 30_000): Promise<string> {
    const marker = `M${Math.random().toString(36).slice(2, 10)}`;
    const from = this.text.length;
    this.stream.write(`${command}; echo ${marker}-$?-END\n`);
    const out = await this.waitFor(new RegExp(`${marker}-\\d+-END`), timeoutMs, from);
    return out.slice(0, out.search(new RegExp(`${marker}-\\d+-END`)));
  }

  close(): void {
    this.stream.destroy();
  }
}
